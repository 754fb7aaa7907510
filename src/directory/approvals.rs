//! What an approver may do, and only inside their own organisations: see and search its
//! people, invite colleagues with services and roles, grant and remove access, appoint or
//! stand down approvers, and remove people. Every action starts from an [`ApproverOf`],
//! which can only be had by being an active approver of that organisation; anything aimed
//! at another organisation's people is refused as "not found" and audited.

use super::memberships::Level;
use super::{Directory, DirectoryError};
use crate::account::{Invite, Lifecycle};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::domain::{Email, UserId, UserStatus};
use crate::store::{
    HeldServiceRow, MembershipRow, OrganisationRow, PersonRow, RoleRow, Store, UserRow,
};

/// People shown per page of an organisation's list.
pub const PEOPLE_PER_PAGE: i64 = 25;

/// Proof that `approver` is an active approver of `organisation`.
#[derive(Debug, Clone)]
pub struct ApproverOf {
    pub approver: UserRow,
    pub organisation: OrganisationRow,
}

impl ApproverOf {
    fn actor(&self) -> Actor {
        Actor::User(self.approver.user_id())
    }
}

/// Someone in the approver's organisation.
#[derive(Debug, Clone)]
pub struct Colleague {
    pub user: UserRow,
    pub membership: MembershipRow,
}

/// A service an approver can grant at their organisation, with the roles it defines.
#[derive(Debug, Clone)]
pub struct ServiceOffer {
    pub client_id: String,
    pub name: String,
    pub roles: Vec<RoleRow>,
}

/// A service someone holds at the organisation, with their role codes.
#[derive(Debug, Clone)]
pub struct HeldService {
    pub service: HeldServiceRow,
    pub roles: Vec<String>,
}

/// A colleague to invite, with the services (and roles) to give them.
#[derive(Debug, Clone)]
pub struct ColleagueInvite {
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    /// (client id, role codes) for each service to grant.
    pub services: Vec<(String, Vec<String>)>,
}

/// What inviting a colleague did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColleagueInvited {
    /// A new account; its activation link is on its way.
    NewAccount,
    /// They were already invited: a fresh link went out.
    Reinvited,
    /// They already have an account: they were added, and see it when they next sign in.
    ExistingAccount,
}

/// An id from a URL as the audit trail keeps it: at most 64 characters, whatever was sent.
pub(super) fn as_tried(id: &str) -> String {
    id.chars().take(64).collect()
}

/// Approver use cases (a [`Directory`] plus the invitation flow).
#[derive(Debug, Clone)]
pub struct Approvals {
    pub(super) directory: Directory,
    pub(super) lifecycle: Lifecycle,
}

impl Approvals {
    pub fn new(directory: Directory, lifecycle: Lifecycle) -> Self {
        Self {
            directory,
            lifecycle,
        }
    }

    pub(super) fn store(&self) -> &Store {
        &self.directory.store
    }

    /// Writes one audit event on its own.
    pub(super) async fn audit(&self, event: AuditEvent) -> Result<(), DirectoryError> {
        let now = self.directory.clock.now();
        let mut tx = self.store().begin().await?;
        self.store().append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records an approver reaching outside their organisations, and refuses it.
    async fn refuse(
        &self,
        who: &UserRow,
        organisation_id: &str,
        subject: Option<&str>,
        reason: &'static str,
        ctx: &RequestContext,
        error: DirectoryError,
    ) -> DirectoryError {
        let mut event = AuditEvent::new(Action::ApproverRefused)
            .failed(reason)
            .actor(&who.user_id())
            .context(ctx.clone())
            .details(serde_json::json!({
                "organisation": as_tried(organisation_id),
                "person": subject.map(as_tried),
            }));
        if let Some(subject) =
            subject.filter(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            event = event.subject(&UserId::from_stored(subject.to_owned()));
        }
        match self.audit(event).await {
            Ok(()) => error,
            Err(e) => e,
        }
    }

    /// The organisations where `user_id` is an approver, by name.
    pub async fn approver_organisations(
        &self,
        user_id: &str,
    ) -> Result<Vec<OrganisationRow>, DirectoryError> {
        let mut out = Vec::new();
        for m in self.store().memberships_of(user_id).await? {
            if m.level == Level::Approver.as_str()
                && m.status == "approved"
                && let Some(org) = self.store().organisation_by_id(&m.organisation_id).await?
            {
                out.push(org);
            }
        }
        Ok(out)
    }

    /// Checks `user` is an active approver of `organisation_id`.
    pub async fn approver_of(
        &self,
        user: &UserRow,
        organisation_id: &str,
        ctx: &RequestContext,
    ) -> Result<ApproverOf, DirectoryError> {
        let membership = self.store().membership(&user.id, organisation_id).await?;
        let ok = membership
            .is_some_and(|m| m.level == Level::Approver.as_str() && m.status == "approved");
        let organisation = match ok {
            true => self.store().organisation_by_id(organisation_id).await?,
            false => None,
        };
        match organisation {
            Some(organisation) => Ok(ApproverOf {
                approver: user.clone(),
                organisation,
            }),
            None => Err(self
                .refuse(
                    user,
                    organisation_id,
                    None,
                    "not_approver",
                    ctx,
                    DirectoryError::NotApprover,
                )
                .await),
        }
    }

    /// Someone in the approver's organisation; anyone else is "not found" (and audited).
    pub async fn colleague(
        &self,
        scope: &ApproverOf,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<Colleague, DirectoryError> {
        let found = match self
            .store()
            .membership(user_id, &scope.organisation.id)
            .await?
        {
            Some(membership) => self
                .store()
                .user_by_id(&UserId::from_stored(user_id.to_owned()))
                .await?
                .map(|user| Colleague { user, membership }),
            None => None,
        };
        match found {
            Some(colleague) => Ok(colleague),
            None => Err(self
                .refuse(
                    &scope.approver,
                    &scope.organisation.id,
                    Some(user_id),
                    "not_in_organisation",
                    ctx,
                    DirectoryError::NoSuchPerson,
                )
                .await),
        }
    }

    /// One page (from 1) of the organisation's people matching `term`, and how many match.
    pub async fn people(
        &self,
        scope: &ApproverOf,
        term: &str,
        page: i64,
    ) -> Result<(Vec<PersonRow>, i64), DirectoryError> {
        let org = &scope.organisation.id;
        let total = self.store().count_organisation_people(org, term).await?;
        let offset = (page.max(1) - 1) * PEOPLE_PER_PAGE;
        let people = self
            .store()
            .organisation_people(org, term, PEOPLE_PER_PAGE, offset)
            .await?;
        Ok((people, total))
    }

    /// The services a colleague holds at the organisation, with their roles.
    pub async fn services_of(
        &self,
        scope: &ApproverOf,
        colleague: &Colleague,
    ) -> Result<Vec<HeldService>, DirectoryError> {
        self.directory
            .services_held(&scope.organisation.id, &colleague.user.id)
            .await
    }

    /// The services that may be granted at the approver's organisation.
    pub async fn services_offered(
        &self,
        scope: &ApproverOf,
    ) -> Result<Vec<ServiceOffer>, DirectoryError> {
        self.directory.services_offered(&scope.organisation).await
    }

    /// Sets exactly which services (and roles) a colleague has at the organisation, as one
    /// change: ticked services are granted with their roles, unticked ones taken away.
    /// Returns whether anything changed.
    pub async fn set_services(
        &self,
        scope: &ApproverOf,
        colleague: &Colleague,
        chosen: &[(String, Vec<String>)],
        ctx: &RequestContext,
    ) -> Result<bool, DirectoryError> {
        let event = AuditEvent::new(Action::AccessGranted)
            .actor(&scope.approver.user_id())
            .context(ctx.clone());
        let mut tx = self.store().begin().await?;
        let changed = self
            .directory
            .set_services_in(
                &mut tx,
                &scope.organisation,
                &colleague.user.user_id(),
                chosen,
                &event,
            )
            .await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Makes a colleague an approver, or a member again.
    pub async fn set_level(
        &self,
        scope: &ApproverOf,
        colleague: &Colleague,
        level: Level,
        ctx: &RequestContext,
    ) -> Result<(), DirectoryError> {
        if level == Level::Member {
            self.keep_an_approver(scope, colleague).await?;
        }
        self.directory
            .add_member(
                &colleague.user,
                &scope.organisation.id,
                level,
                scope.actor(),
                ctx,
            )
            .await?;
        Ok(())
    }

    /// Removes a colleague from the organisation; their access there ends at once.
    pub async fn remove(
        &self,
        scope: &ApproverOf,
        colleague: &Colleague,
        ctx: &RequestContext,
    ) -> Result<(), DirectoryError> {
        self.keep_an_approver(scope, colleague).await?;
        self.directory
            .remove_member(&colleague.user, &scope.organisation.id, scope.actor(), ctx)
            .await?;
        Ok(())
    }

    /// Refuses to leave the organisation without an active approver.
    async fn keep_an_approver(
        &self,
        scope: &ApproverOf,
        colleague: &Colleague,
    ) -> Result<(), DirectoryError> {
        if colleague.membership.level != Level::Approver.as_str() {
            return Ok(());
        }
        let approvers = self.store().approvers(&scope.organisation.id).await?;
        if approvers.iter().all(|id| *id == colleague.user.id) {
            return Err(DirectoryError::Field(
                "level",
                "The organisation needs at least one approver: appoint another first".into(),
            ));
        }
        Ok(())
    }

    /// Invites a colleague (or adds someone who already has an account) to the organisation
    /// with the chosen services and roles, as one change.
    pub async fn invite(
        &self,
        scope: &ApproverOf,
        invite: ColleagueInvite,
        ctx: &RequestContext,
    ) -> Result<ColleagueInvited, DirectoryError> {
        for (client_id, _) in &invite.services {
            self.directory
                .offered(&scope.organisation, client_id)
                .await?;
        }
        let existing = self.store().user_by_email(&invite.email).await?;
        let org = &scope.organisation;
        if let Some(user) = &existing
            && user.status()? == UserStatus::Deactivated
        {
            return Err(DirectoryError::Field(
                "email",
                "That account has been deactivated; ask the helpdesk".into(),
            ));
        }
        let before = match &existing {
            Some(user) => self.store().membership(&user.id, &org.id).await?,
            None => None,
        };
        let roles = self.directory.checked_roles(&invite.services).await?;
        let now = self.directory.clock.now();
        let store = self.store();
        let mut tx = store.begin().await?;
        let (user_id, outcome) = match &existing {
            None => {
                let person = Invite {
                    email: invite.email.clone(),
                    given_name: invite.given_name.clone(),
                    family_name: invite.family_name.clone(),
                    return_to: None,
                };
                let id = self
                    .lifecycle
                    .invite_in(&mut tx, &person, scope.actor(), ctx, now)
                    .await?;
                (id, ColleagueInvited::NewAccount)
            }
            Some(user) if user.status()? == UserStatus::Invited => {
                self.lifecycle
                    .reinvite_in(&mut tx, user, scope.actor(), ctx, now)
                    .await?;
                (user.user_id(), ColleagueInvited::Reinvited)
            }
            Some(user) => (user.user_id(), ColleagueInvited::ExistingAccount),
        };
        let millis = now.timestamp_millis();
        if before.is_none() {
            store
                .upsert_membership(&mut tx, user_id.as_str(), &org.id, "member", millis)
                .await?;
            let added = AuditEvent::new(Action::MembershipAdded)
                .actor(&scope.approver.user_id())
                .subject(&user_id)
                .organisation(&org.id)
                .context(ctx.clone())
                .diff(serde_json::Value::Null, serde_json::json!("member"));
            store.append_audit(&mut tx, &added, now).await?;
        }
        for (client_id, codes) in &roles {
            store
                .set_access(&mut tx, user_id.as_str(), &org.id, client_id, codes, millis)
                .await?;
            let granted = AuditEvent::new(Action::AccessGranted)
                .actor(&scope.approver.user_id())
                .subject(&user_id)
                .organisation(&org.id)
                .client(client_id)
                .context(ctx.clone())
                .details(serde_json::json!({ "roles": codes }));
            store.append_audit(&mut tx, &granted, now).await?;
        }
        tx.commit().await?;
        self.lifecycle.mailer().nudge();
        Ok(outcome)
    }
}
