//! What the helpdesk may do to an account. Each change needs a reason and a note, happens in
//! one transaction with its audit event (before and after, reason, note) and an email telling
//! the person, and never shows or sets a secret: links go to the person's own address.
//! Helpdesk staff cannot change staff accounts (administrators can), and nobody changes their
//! own account here.

use crate::account::{AccountError, FlowError, StatusChange, clean_name, next_status};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::directory::DirectoryError;
use crate::domain::{Email, UserId, UserStatus};
use crate::mail::Mail;
use crate::staff::Capability;
use crate::store::{StoreError, Tx, UserRow};

use super::reasons::{IdentityCheck, Why};
use super::{Helpdesk, OnDuty, by_staff};

/// A change the helpdesk can make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpdeskAction {
    ResendInvitation,
    SendPasswordReset,
    Unlock,
    Deactivate,
    Reactivate,
    RevokeSessions,
    /// Remove every second factor; the caller's identity was checked this way.
    ResetMfa(IdentityCheck),
    EditName {
        given_name: String,
        family_name: String,
    },
    /// Start a change of address; the person confirms with the code sent to it.
    ChangeEmail(Email),
    /// Add the person to an organisation (by URN or LA code); as its approver only when it
    /// has none.
    AddToOrganisation {
        organisation: String,
        approver: bool,
    },
    /// Remove the person from an organisation (by id), ending their access there.
    RemoveFromOrganisation(String),
    /// Set exactly which services (client id, role codes) they have at an organisation they
    /// belong to (by id).
    SetServices {
        organisation_id: String,
        chosen: Vec<(String, Vec<String>)>,
    },
}

impl HelpdeskAction {
    /// The path segment and audit name of the action.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ResendInvitation => "resend-invitation",
            Self::SendPasswordReset => "send-password-reset",
            Self::Unlock => "unlock",
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
            Self::RevokeSessions => "sign-out-everywhere",
            Self::ResetMfa(_) => "reset-2-step-verification",
            Self::EditName { .. } => "edit-name",
            Self::ChangeEmail(_) => "change-email",
            Self::AddToOrganisation { .. } => "add-to-organisation",
            Self::RemoveFromOrganisation(_) => "remove-from-organisation",
            Self::SetServices { .. } => "change-services",
        }
    }

    /// What the confirmation says was done.
    fn done(&self) -> &'static str {
        match self {
            Self::ResendInvitation => "A new invitation was sent",
            Self::SendPasswordReset => "A password reset link was sent",
            Self::Unlock => "The account was unlocked",
            Self::Deactivate => "The account was deactivated and signed out everywhere",
            Self::Reactivate => "The account was reactivated",
            Self::RevokeSessions => "The account was signed out everywhere",
            Self::ResetMfa(_) => {
                "2-step verification was reset: they will set it up again when they next sign in"
            }
            Self::EditName { .. } => "The name was changed",
            Self::ChangeEmail(_) => "A code was sent to the new address",
            Self::AddToOrganisation { .. } => "They were added to the organisation",
            Self::RemoveFromOrganisation(_) => "They were removed from the organisation",
            Self::SetServices { .. } => "Their services were saved",
        }
    }

    /// The sentence emailed to the person.
    fn notice(&self) -> &'static str {
        match self {
            Self::ResendInvitation | Self::SendPasswordReset | Self::ChangeEmail(_) => "",
            Self::EditName { .. } => {
                "Our helpdesk changed the name on your account. Services see the new name \
                 when you next sign in to them."
            }
            Self::AddToOrganisation { .. } => {
                "Our helpdesk added you to an organisation. Your account page shows which."
            }
            Self::RemoveFromOrganisation(_) => {
                "Our helpdesk removed you from an organisation, and with it your access to its \
                 services. Your account page shows where you still belong."
            }
            Self::SetServices { .. } => {
                "Our helpdesk changed which services you can use for one of your organisations. \
                 Your account page shows them."
            }
            Self::Unlock => "Our helpdesk unlocked your account. You can sign in again.",
            Self::Deactivate => {
                "Our helpdesk deactivated your account and signed you out everywhere. If you \
                 did not expect this, ask an approver at your organisation."
            }
            Self::Reactivate => "Our helpdesk reactivated your account. You can sign in again.",
            Self::RevokeSessions => {
                "Our helpdesk signed you out of Gatehouse everywhere. Sign in again to carry on."
            }
            Self::ResetMfa(_) => {
                "Our helpdesk removed your 2-step verification methods at your request. You \
                 will set up a new one when you next sign in. If you did not ask for this, \
                 contact the helpdesk now."
            }
        }
    }
}

/// Why a helpdesk change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("There is no such account")]
    NoSuchAccount,
    /// Refused by policy (staff accounts, one's own account); audited.
    #[error("{0}")]
    NotAllowed(&'static str),
    /// The account is not in a state where the action makes sense.
    #[error("{0}")]
    NotNow(String),
    /// A field of the form is wrong; its id and what to do.
    #[error("{1}")]
    Field(&'static str, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Flow(#[from] FlowError),
}

impl From<DirectoryError> for ActionError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Store(e) => Self::Store(e),
            DirectoryError::Flow(e) => Self::Flow(e),
            DirectoryError::Field(_, why) => Self::Field("services", why),
            other => Self::NotNow(other.to_string()),
        }
    }
}

impl From<AccountError> for ActionError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Transition(why) => Self::NotNow(why),
            other => Self::NotNow(other.to_string()),
        }
    }
}

/// A name field, checked as account names are.
fn name(field: &'static str, words: &str, value: &str) -> Result<String, ActionError> {
    clean_name(words, value, 100).map_err(|e| ActionError::Field(field, e.to_string()))
}

impl Helpdesk {
    /// Does `action` to account `id` for `why`; returns what to tell the member of staff.
    pub async fn act(
        &self,
        on_duty: &OnDuty,
        id: &str,
        action: HelpdeskAction,
        why: &Why,
        ctx: &RequestContext,
    ) -> Result<&'static str, ActionError> {
        let uid = UserId::from_stored(id.to_owned());
        let user = self
            .store
            .user_by_id(&uid)
            .await?
            .ok_or(ActionError::NoSuchAccount)?;
        self.may_act_on(on_duty, &user, &action, why, ctx).await?;
        let code = action.code();
        let mut details = serde_json::json!({
            "by": "helpdesk",
            "action": code,
            "note": why.note,
        });
        if let HelpdeskAction::ResetMfa(check) = &action {
            details["identity_checked_by"] = check.code().into();
        }
        let event = by_staff(on_duty, Action::UserStatusChanged, ctx)
            .subject(&uid)
            .reason(why.reason.code());
        let mut tx = self.store.begin().await?;
        let done = action.done();
        match action {
            HelpdeskAction::ResendInvitation => {
                if user.status()? != UserStatus::Invited {
                    return Err(ActionError::NotNow(
                        "Only an invited account has an invitation to resend".to_owned(),
                    ));
                }
                let staff = on_duty.actor.clone();
                self.lifecycle
                    .resend_invitation_in(&mut tx, &user, staff, ctx, with_reason(details, why))
                    .await?;
            }
            HelpdeskAction::SendPasswordReset => {
                match user.status()? {
                    UserStatus::Active | UserStatus::Locked => {}
                    UserStatus::Invited => {
                        return Err(ActionError::NotNow(
                            "They have not set a password yet: resend the invitation".to_owned(),
                        ));
                    }
                    UserStatus::Deactivated => {
                        return Err(ActionError::NotNow(
                            "The account is deactivated: reactivate it first".to_owned(),
                        ));
                    }
                }
                let event = rename(event, Action::PasswordResetRequested).also(details);
                self.lifecycle.send_reset_in(&mut tx, &user, event).await?;
            }
            HelpdeskAction::Unlock | HelpdeskAction::Deactivate | HelpdeskAction::Reactivate => {
                let change = match code {
                    "unlock" => StatusChange::Unlock,
                    "deactivate" => StatusChange::Deactivate,
                    _ => StatusChange::Reactivate,
                };
                self.change_status(&mut tx, &user, change, event.also(details), why)
                    .await?;
            }
            HelpdeskAction::RevokeSessions => {
                let now = self.clock.now();
                let ended = self.store.delete_user_sessions(&mut tx, &uid, now).await?;
                let event = rename(event, Action::SessionsRevoked)
                    .also(details)
                    .diff_counts("sessions", ended, 0);
                self.store.append_audit(&mut tx, &event, now).await?;
                self.notify(&mut tx, &user, &action).await?;
            }
            HelpdeskAction::ResetMfa(_) => {
                let now = self.clock.now();
                let removed = self
                    .store
                    .delete_all_second_factors(&mut tx, &user.id)
                    .await?;
                self.store.require_mfa_setup(&mut tx, &user.id, now).await?;
                let ended = self.store.delete_user_sessions(&mut tx, &uid, now).await?;
                let mut event = rename(event, Action::MfaReset).also(details).diff_counts(
                    "second_factors",
                    removed,
                    0,
                );
                if let Some(d) = event.details.as_mut() {
                    d["sessions_ended"] = ended.into();
                }
                self.store.append_audit(&mut tx, &event, now).await?;
                self.notify(&mut tx, &user, &action).await?;
            }
            HelpdeskAction::EditName {
                ref given_name,
                ref family_name,
            } => {
                let given = name("given_name", "first name", given_name)?;
                let family = name("family_name", "last name", family_name)?;
                let now = self.clock.now();
                self.store
                    .set_user_name(&mut tx, &uid, &given, &family, now)
                    .await?;
                let event = rename(event, Action::UserRenamed).also(details).with_diff(
                    serde_json::json!({ "given_name": user.given_name, "family_name": user.family_name }),
                    serde_json::json!({ "given_name": given, "family_name": family }),
                );
                self.store.append_audit(&mut tx, &event, now).await?;
                self.notify(&mut tx, &user, &action).await?;
            }
            HelpdeskAction::ChangeEmail(ref new_email) => {
                if user.status()? == UserStatus::Deactivated {
                    return Err(ActionError::NotNow(
                        "The account is deactivated: reactivate it first".to_owned(),
                    ));
                }
                let event = rename(event, Action::EmailChangeRequested).also(details);
                self.lifecycle
                    .start_email_change_in(&mut tx, &user, new_email, event)
                    .await?;
            }
            HelpdeskAction::AddToOrganisation {
                ref organisation,
                approver,
            } => {
                self.add_to_organisation(
                    &mut tx,
                    &user,
                    organisation,
                    approver,
                    event.also(details),
                )
                .await?;
                self.notify(&mut tx, &user, &action).await?;
            }
            HelpdeskAction::RemoveFromOrganisation(ref organisation_id) => {
                let now = self.clock.now();
                let before = self.store.membership(&user.id, organisation_id).await?;
                let Some(before) = before else {
                    return Err(ActionError::NotNow(
                        "They are not a member of that organisation".to_owned(),
                    ));
                };
                self.store
                    .delete_membership(&mut tx, &user.id, organisation_id)
                    .await?;
                let event = rename(event, Action::MembershipRemoved)
                    .organisation(organisation_id)
                    .also(details)
                    .with_diff(
                        serde_json::json!({ "level": before.level }),
                        serde_json::Value::Null,
                    );
                self.store.append_audit(&mut tx, &event, now).await?;
                self.notify(&mut tx, &user, &action).await?;
            }
            HelpdeskAction::SetServices {
                ref organisation_id,
                ref chosen,
            } => {
                let member = self.store.membership(&user.id, organisation_id).await?;
                let org = match member {
                    Some(_) => self.store.organisation_by_id(organisation_id).await?,
                    None => None,
                };
                let Some(org) = org else {
                    return Err(ActionError::NotNow(
                        "They are not a member of that organisation".to_owned(),
                    ));
                };
                let event = event.also(details);
                let changed = self
                    .directory
                    .set_services_in(&mut tx, &org, &uid, chosen, &event)
                    .await?;
                if !changed {
                    return Err(ActionError::NotNow(
                        "Nothing changed: they already have exactly those services".to_owned(),
                    ));
                }
                self.notify(&mut tx, &user, &action).await?;
            }
        }
        tx.commit().await?;
        self.lifecycle.mailer().nudge();
        Ok(done)
    }

    /// Adds `user` to the organisation `key` names (URN or LA code), as its approver only if
    /// it has no active approver.
    async fn add_to_organisation(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        key: &str,
        approver: bool,
        event: AuditEvent,
    ) -> Result<(), ActionError> {
        let key = key.trim();
        let digits = key.bytes().all(|b| b.is_ascii_digit());
        let org = match key.len() {
            3 if digits => self.store.local_authority(key).await?,
            6 | 7 if digits => self.store.organisation_by_urn(key).await?,
            _ => None,
        };
        let Some(org) = org else {
            return Err(ActionError::Field(
                "organisation",
                "Enter the URN of a school or the code of a local authority we know".to_owned(),
            ));
        };
        let before = self.store.membership(&user.id, &org.id).await?;
        if approver && !self.store.approvers(&org.id).await?.is_empty() {
            return Err(ActionError::Field(
                "level",
                format!(
                    "{} already has an approver: they appoint others from their own pages",
                    org.name
                ),
            ));
        }
        let level = if approver { "approver" } else { "member" };
        if before.as_ref().is_some_and(|m| m.level == level) {
            return Err(ActionError::NotNow(format!(
                "They are already {} of {}",
                if approver { "an approver" } else { "a member" },
                org.name
            )));
        }
        let now = self.clock.now();
        self.store
            .upsert_membership(tx, &user.id, &org.id, level, now.timestamp_millis())
            .await?;
        let event = rename(event, Action::MembershipAdded)
            .organisation(&org.id)
            .with_diff(
                serde_json::json!({ "level": before.map(|m| m.level) }),
                serde_json::json!({ "level": level, "organisation": org.name }),
            );
        self.store.append_audit(tx, &event, now).await?;
        Ok(())
    }

    /// Refuses (and audits) what policy forbids: one's own account, and staff accounts for
    /// anyone but an administrator.
    async fn may_act_on(
        &self,
        on_duty: &OnDuty,
        user: &UserRow,
        action: &HelpdeskAction,
        why: &Why,
        ctx: &RequestContext,
    ) -> Result<(), ActionError> {
        let refusal = if on_duty.person.as_deref() == Some(user.id.as_str()) {
            Some((
                "own_account",
                "You cannot change your own account here: use your account page",
            ))
        } else if !on_duty.is_admin() && !self.store.staff_roles(&user.id).await?.is_empty() {
            Some((
                "staff_account",
                "Helpdesk staff cannot change staff accounts: ask an administrator",
            ))
        } else if !on_duty.can(Capability::HelpAccounts) {
            Some(("capability", "Your staff roles do not allow this"))
        } else {
            None
        };
        let Some((code, message)) = refusal else {
            return Ok(());
        };
        let event = by_staff(on_duty, Action::HelpdeskRefused, ctx)
            .failed(code)
            .subject(&user.user_id())
            .details(serde_json::json!({ "action": action.code(), "reason": why.reason.code() }));
        self.audit_read(event).await?;
        Err(ActionError::NotAllowed(message))
    }

    async fn change_status(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        change: StatusChange,
        event: AuditEvent,
        why: &Why,
    ) -> Result<(), ActionError> {
        let now = self.clock.now();
        let uid = user.user_id();
        let from = user.status()?;
        let to = next_status(from, change, user.password_hash.is_some())?;
        let said = format!("{}: {}", why.reason.label(), why.note);
        self.store
            .set_user_status(tx, &uid, to, Some(&said), now)
            .await?;
        let ended = match to {
            UserStatus::Deactivated => self.store.delete_user_sessions(tx, &uid, now).await?,
            _ => 0,
        };
        let action = match change {
            StatusChange::Unlock => Action::AccountUnlocked,
            _ => Action::UserStatusChanged,
        };
        let before = serde_json::json!({
            "status": from.as_str(),
            "status_reason": user.status_reason,
            "failed_sign_ins": user.failed_sign_ins,
        });
        let after = serde_json::json!({
            "status": to.as_str(),
            "status_reason": said,
            "failed_sign_ins": if to == UserStatus::Active { 0 } else { user.failed_sign_ins },
            "sessions_ended": ended,
        });
        let event = rename(event, action).with_diff(before, after);
        self.store.append_audit(tx, &event, now).await?;
        let notice = match change {
            StatusChange::Unlock => HelpdeskAction::Unlock,
            StatusChange::Deactivate => HelpdeskAction::Deactivate,
            _ => HelpdeskAction::Reactivate,
        };
        self.notify(tx, user, &notice).await
    }

    /// Emails the person what the helpdesk did, inside `tx`.
    async fn notify(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        action: &HelpdeskAction,
    ) -> Result<(), ActionError> {
        let Ok(to) = Email::parse(&user.email) else {
            return Ok(());
        };
        let mail = Mail::SecurityNotice {
            given_name: user.given_name.clone(),
            change: action.notice().to_owned(),
        };
        self.lifecycle
            .mailer()
            .queue(tx, &to, Some(&user.id), mail, self.clock.now())
            .await
            .map_err(FlowError::from)?;
        Ok(())
    }
}

/// `details` with the reason's code beside the note, for events whose `reason` field the
/// lifecycle fills itself.
fn with_reason(mut details: serde_json::Value, why: &Why) -> serde_json::Value {
    details["reason"] = why.reason.code().into();
    details
}

fn rename(mut event: AuditEvent, action: Action) -> AuditEvent {
    event.action = action;
    event
}

trait Diffs {
    fn diff_counts(self, what: &str, before: u64, after: u64) -> Self;
    fn with_diff(self, before: serde_json::Value, after: serde_json::Value) -> Self;
}

impl Diffs for AuditEvent {
    /// Records how many of `what` there were before and after.
    fn diff_counts(self, what: &str, before: u64, after: u64) -> Self {
        self.with_diff(
            serde_json::json!({ what: before }),
            serde_json::json!({ what: after }),
        )
    }

    /// Adds `before` and `after` to the details, keeping what is there.
    fn with_diff(self, before: serde_json::Value, after: serde_json::Value) -> Self {
        self.also(serde_json::json!({ "before": before, "after": after }))
    }
}
