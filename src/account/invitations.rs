//! Personal invitations: an `invited` account and a single-use activation link by email, so
//! every account starts from its owner's own password and nobody else ever knows it.

use chrono::{DateTime, Utc};

use super::clean_name;
use super::flows::{ACTIVATION, FlowError, Lifecycle, new_link_secret, stored_email};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::domain::{Email, UserId, UserStatus};
use crate::mail::{Mail, lifetime_in_words};
use crate::store::{NewAccountToken, NewUser, Tx, UserRow};

/// Someone to invite.
#[derive(Debug, Clone)]
pub struct Invite {
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    /// Where to send them once active: must be a redirect URI the service registered.
    pub return_to: Option<String>,
}

/// What an invitation did.
#[derive(Debug)]
pub enum Invited {
    /// A new `invited` account, and its link sent.
    Created(UserRow),
    /// The person was already invited: a new link sent, the old one dead.
    Resent(UserRow),
    /// The address already has an account that can sign in: nothing created, nothing sent.
    AlreadyHasAccount(UserRow),
}

/// The service an invitation came from.
#[derive(Debug, Clone)]
struct Inviter {
    client_id: String,
    name: String,
    return_to: String,
}

/// Who an activation link is for.
struct Link<'a> {
    id: &'a UserId,
    email: &'a Email,
    given_name: &'a str,
    inviter: Option<&'a Inviter>,
}

impl Lifecycle {
    /// Invites a person (the CLI now; approvers and the helpdesk later). One account per
    /// address: an active one is left alone, an invited one gets a fresh link.
    pub async fn invite(
        &self,
        invite: Invite,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<Invited, FlowError> {
        // Wrong names are reported before anything else, whoever the address belongs to.
        clean_name("given name", &invite.given_name, 100)
            .map_err(|e| FlowError::field("given_name", e.to_string()))?;
        clean_name("family name", &invite.family_name, 100)
            .map_err(|e| FlowError::field("family_name", e.to_string()))?;
        let inviter = match invite.return_to.as_deref() {
            Some(url) => Some(self.inviter_for(url).await?),
            None => None,
        };
        if let Some(existing) = self.store.user_by_email(&invite.email).await? {
            return match existing.status()? {
                UserStatus::Invited => {
                    self.resend_invitation(&existing, actor, ctx).await?;
                    Ok(Invited::Resent(existing))
                }
                UserStatus::Deactivated => Err(FlowError::Refused(
                    "That account has been deactivated; reactivate it instead of inviting again"
                        .to_owned(),
                )),
                UserStatus::Active | UserStatus::Locked => Ok(Invited::AlreadyHasAccount(existing)),
            };
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let id = self
            .add_invited(&mut tx, &invite, inviter.as_ref(), actor, ctx, now)
            .await?;
        tx.commit().await?;
        self.mailer.nudge();
        let user = self
            .store
            .user_by_id(&id)
            .await?
            .ok_or_else(|| FlowError::Refused("the new account vanished".to_owned()))?;
        Ok(Invited::Created(user))
    }

    /// Creates an `invited` account for someone with no account and queues their link, inside
    /// the caller's transaction (so an approver's invitation and the access it grants are one
    /// change). Names are checked here; the caller has checked the address is free.
    pub async fn invite_in(
        &self,
        tx: &mut Tx,
        invite: &Invite,
        actor: Actor,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<UserId, FlowError> {
        self.add_invited(tx, invite, None, actor, ctx, now).await
    }

    /// Queues a fresh activation link for an invited person inside the caller's transaction.
    pub async fn reinvite_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        actor: Actor,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let email = stored_email(user)?;
        let link = Link {
            id: &user.user_id(),
            email: &email,
            given_name: &user.given_name,
            inviter: None,
        };
        self.send_link(tx, link, actor, ctx, serde_json::Value::Null, now)
            .await
    }

    async fn add_invited(
        &self,
        tx: &mut Tx,
        invite: &Invite,
        inviter: Option<&Inviter>,
        actor: Actor,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<UserId, FlowError> {
        let given_name = clean_name("given name", &invite.given_name, 100)
            .map_err(|e| FlowError::field("given_name", e.to_string()))?;
        let family_name = clean_name("family name", &invite.family_name, 100)
            .map_err(|e| FlowError::field("family_name", e.to_string()))?;
        let id = self
            .store
            .insert_user(
                tx,
                &NewUser {
                    email: invite.email.clone(),
                    given_name: given_name.clone(),
                    family_name,
                    job_title: None,
                    status: UserStatus::Invited,
                },
                now,
            )
            .await?;
        let created = AuditEvent::new(Action::UserCreated)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "status": "invited" }));
        self.store
            .append_audit(tx, &with_actor(created, actor.clone()), now)
            .await?;
        let link = Link {
            id: &id,
            email: &invite.email,
            given_name: &given_name,
            inviter,
        };
        self.send_link(tx, link, actor, ctx, serde_json::Value::Null, now)
            .await?;
        Ok(id)
    }

    /// Sends an invited person a new activation link; the previous link stops working.
    /// Keeps the service that first invited them.
    pub async fn resend_invitation(
        &self,
        user: &UserRow,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(), FlowError> {
        let mut tx = self.store.begin().await?;
        self.resend_invitation_in(&mut tx, user, actor, ctx, serde_json::Value::Null)
            .await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(())
    }

    /// [`Self::resend_invitation`] inside `tx`, with `why` (an object) added to the audit
    /// event's details. The caller commits and nudges the mailer.
    pub async fn resend_invitation_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        actor: Actor,
        ctx: &RequestContext,
        why: serde_json::Value,
    ) -> Result<(), FlowError> {
        let now = self.clock.now();
        let previous = self
            .store
            .account_token_for(&user.id, ACTIVATION, now)
            .await?;
        let inviter = match previous.and_then(|p| p.client_id.zip(p.return_to)) {
            Some((client_id, return_to)) => {
                self.store.client_by_id(&client_id).await?.map(|c| Inviter {
                    client_id,
                    name: c.name,
                    return_to,
                })
            }
            None => None,
        };
        let email = stored_email(user)?;
        let link = Link {
            id: &user.user_id(),
            email: &email,
            given_name: &user.given_name,
            inviter: inviter.as_ref(),
        };
        self.send_link(tx, link, actor, ctx, why, now).await
    }

    /// Queues an activation link for `link`'s person inside `tx` and audits it, with `why`
    /// (an object, or null) added to the event's details.
    async fn send_link(
        &self,
        tx: &mut Tx,
        link: Link<'_>,
        actor: Actor,
        ctx: &RequestContext,
        why: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let Link {
            id,
            email,
            given_name,
            inviter,
        } = link;
        let (secret, hash) = new_link_secret()?;
        let lifetime = self.auth.policies().current().await?.invitation_lifetime();
        self.store
            .replace_account_token(
                tx,
                &NewAccountToken {
                    user_id: id.as_str(),
                    purpose: ACTIVATION,
                    token_hash: &hash,
                    new_email: None,
                    client_id: inviter.map(|i| i.client_id.as_str()),
                    return_to: inviter.map(|i| i.return_to.as_str()),
                    expires_at: now + lifetime,
                },
                now,
            )
            .await?;
        let mail = Mail::Invitation {
            given_name: given_name.to_owned(),
            link: format!("{}/activate/{secret}", self.mailer.site()),
            service: inviter.map(|i| i.name.clone()),
            expires_in: lifetime_in_words(lifetime),
        };
        self.mailer
            .queue(tx, email, Some(id.as_str()), mail, now)
            .await?;
        let mut event = AuditEvent::new(Action::InvitationSent)
            .subject(id)
            .context(ctx.clone())
            .details(serde_json::json!({ "expires_at": (now + lifetime).timestamp_millis() }));
        if let Some(inviter) = inviter {
            event = event.client(&inviter.client_id);
        }
        let event = event.also(why);
        self.store
            .append_audit(tx, &with_actor(event, actor), now)
            .await?;
        Ok(())
    }

    /// The service that registered `url` as a redirect URI (exact match), or a field error.
    async fn inviter_for(&self, url: &str) -> Result<Inviter, FlowError> {
        let client = self.service_registering(url).await?.ok_or_else(|| {
            FlowError::field(
                "return_to",
                "The return address must be a redirect URI a registered service uses, exactly",
            )
        })?;
        Ok(Inviter {
            client_id: client.id,
            name: client.name,
            return_to: url.to_owned(),
        })
    }
}

pub(super) fn with_actor(mut event: AuditEvent, actor: Actor) -> AuditEvent {
    event.actor = actor;
    event
}
