//! Asking for access: a person asks to join an organisation, or to use a service there, with
//! a reason. The organisation's approvers are emailed and decide, with a reason; a request
//! nobody decides within [`OVERDUE_AFTER`], or made to an organisation with no active
//! approver, goes to the helpdesk queue.

use chrono::Duration;

use super::approvals::{Approvals, ApproverOf};
use super::memberships::Level;
use super::{DirectoryError, clean_text};
use crate::account::stored_email;
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::domain::UserId;
use crate::mail::Mail;
use crate::store::{AccessRequestRow, NewAccessRequest, OrganisationRow, UserRow};

/// How long approvers have before a request goes to the helpdesk.
pub const OVERDUE_AFTER: Duration = Duration::days(5);

/// The longest reason accepted, in characters.
const REASON_MAX: usize = 500;

/// Who answers a request: an approver of its organisation, or the helpdesk.
#[derive(Debug, Clone, Copy)]
struct Decider<'a> {
    user: &'a UserRow,
    /// `approver` or `helpdesk`, as the audit trail records it.
    role: &'static str,
}

/// A decision on a request.
#[derive(Debug, Clone)]
pub struct Decision {
    pub approve: bool,
    /// Roles to give with a service (approving only).
    pub roles: Vec<String>,
    /// Why; required to reject.
    pub reason: String,
    /// Also make the person an approver (the helpdesk only, for an organisation that has
    /// no active approver).
    pub make_approver: bool,
}

fn reason_text(field: &'static str, input: &str, required: bool) -> Result<String, DirectoryError> {
    let reason = clean_text(input);
    if required && reason.is_empty() {
        return Err(DirectoryError::Field(field, "Enter a reason".into()));
    }
    if reason.chars().count() > REASON_MAX {
        return Err(DirectoryError::Field(
            field,
            format!("Enter a reason of {REASON_MAX} characters or fewer"),
        ));
    }
    Ok(reason)
}

impl Approvals {
    /// Files a request from `user` for `organisation` (and `client_id`, if a service), and
    /// tells the approvers; with none, it goes straight to the helpdesk queue.
    pub async fn request_access(
        &self,
        user: &UserRow,
        organisation: &OrganisationRow,
        client_id: Option<&str>,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<AccessRequestRow, DirectoryError> {
        let reason = reason_text("reason", reason, true)?;
        if organisation.status == "closed" {
            return Err(DirectoryError::Field(
                "organisation",
                "That organisation has closed".into(),
            ));
        }
        let service = match client_id {
            Some(id) => Some(self.requestable(user, organisation, id).await?),
            None => {
                if self
                    .store()
                    .membership(&user.id, &organisation.id)
                    .await?
                    .is_some()
                {
                    return Err(DirectoryError::Field(
                        "organisation",
                        format!("You are already a member of {}", organisation.name),
                    ));
                }
                None
            }
        };
        let approvers = self.store().approvers(&organisation.id).await?;
        let mut recipients = Vec::new();
        for id in &approvers {
            if let Some(a) = self
                .store()
                .user_by_id(&UserId::from_stored(id.clone()))
                .await?
            {
                recipients.push(a);
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let escalation = recipients.is_empty().then_some("no_approver");
        let now = self.directory.clock.now();
        let store = self.store();
        let mut tx = store.begin().await?;
        let new = NewAccessRequest {
            id: &id,
            user_id: &user.id,
            organisation_id: &organisation.id,
            client_id,
            reason: &reason,
            escalation,
        };
        if !store
            .insert_access_request(&mut tx, &new, now.timestamp_millis())
            .await?
        {
            return Err(DirectoryError::Field(
                "reason",
                "You have already asked for this; an approver will answer soon".into(),
            ));
        }
        let mut created = AuditEvent::new(Action::AccessRequested)
            .actor(&user.user_id())
            .subject(&user.user_id())
            .organisation(&organisation.id)
            .context(ctx.clone())
            .details(serde_json::json!({ "request": id, "reason": reason }));
        if let Some(client_id) = client_id {
            created = created.client(client_id);
        }
        store.append_audit(&mut tx, &created, now).await?;
        if let Some(escalation) = escalation {
            let escalated = AuditEvent::new(Action::AccessRequestEscalated)
                .subject(&user.user_id())
                .organisation(&organisation.id)
                .details(serde_json::json!({ "request": id, "escalation": escalation }));
            store.append_audit(&mut tx, &escalated, now).await?;
        }
        let mailer = self.lifecycle.mailer();
        let requester = format!("{} {}", user.given_name, user.family_name);
        for approver in &recipients {
            let mail = Mail::AccessRequested {
                given_name: approver.given_name.clone(),
                requester: requester.clone(),
                organisation: organisation.name.clone(),
                service: service.clone(),
                reason: reason.clone(),
                link: format!(
                    "{}/organisation/{}/requests/{id}",
                    mailer.site(),
                    organisation.id
                ),
            };
            let to = stored_email(approver)?;
            mailer
                .queue(&mut tx, &to, Some(&approver.id), mail, now)
                .await?;
        }
        tx.commit().await?;
        mailer.nudge();
        store
            .access_request(&id)
            .await?
            .ok_or(DirectoryError::NoSuchRequest)
    }

    /// The service's name, if `user` may ask for it at `organisation`.
    async fn requestable(
        &self,
        user: &UserRow,
        organisation: &OrganisationRow,
        client_id: &str,
    ) -> Result<String, DirectoryError> {
        let Some(client) = self.store().client_by_id(client_id).await? else {
            return Err(DirectoryError::Field("client", "Choose a service".into()));
        };
        let kinds = self.store().service_organisation_kinds(client_id).await?;
        if !kinds.is_empty() && !kinds.contains(&organisation.kind) {
            return Err(DirectoryError::Field(
                "organisation",
                format!("{} is not available to {}", client.name, organisation.name),
            ));
        }
        let held = self
            .store()
            .access_organisations(&user.id, client_id)
            .await?;
        if held.iter().any(|o| o.id == organisation.id) {
            return Err(DirectoryError::Field(
                "client",
                format!(
                    "You can already use {} for {}",
                    client.name, organisation.name
                ),
            ));
        }
        Ok(client.name)
    }

    /// The organisation's waiting requests.
    pub async fn pending_requests(
        &self,
        scope: &ApproverOf,
    ) -> Result<Vec<AccessRequestRow>, DirectoryError> {
        Ok(self
            .store()
            .pending_access_requests(&scope.organisation.id)
            .await?)
    }

    /// A request made to the approver's organisation; any other is "not found" (audited).
    pub async fn request_for(
        &self,
        scope: &ApproverOf,
        request_id: &str,
        ctx: &RequestContext,
    ) -> Result<AccessRequestRow, DirectoryError> {
        match self.store().access_request(request_id).await? {
            Some(r) if r.organisation_id == scope.organisation.id => Ok(r),
            _ => {
                let event = AuditEvent::new(Action::ApproverRefused)
                    .failed("request_not_in_organisation")
                    .actor(&scope.approver.user_id())
                    .organisation(&scope.organisation.id)
                    .context(ctx.clone())
                    .details(
                        serde_json::json!({ "request": super::approvals::as_tried(request_id) }),
                    );
                self.audit(event).await?;
                Err(DirectoryError::NoSuchRequest)
            }
        }
    }

    /// Approves or rejects a waiting request: on approval the person joins the organisation
    /// (as a member, unless they already belong) and gets the service with `roles`. The
    /// requester is told, with the reason. Decided once: a second decision is refused.
    pub async fn decide(
        &self,
        scope: &ApproverOf,
        request: &AccessRequestRow,
        decision: Decision,
        ctx: &RequestContext,
    ) -> Result<(), DirectoryError> {
        let by = Decider {
            user: &scope.approver,
            role: "approver",
        };
        self.record_decision(by, &scope.organisation, request, decision, ctx)
            .await
    }

    /// The helpdesk answers a waiting request (one from its queue, typically: no approver,
    /// or none answered in time). The caller has checked the staff capability.
    pub async fn decide_as_helpdesk(
        &self,
        staff: &UserRow,
        request: &AccessRequestRow,
        decision: Decision,
        ctx: &RequestContext,
    ) -> Result<(), DirectoryError> {
        let Some(organisation) = self
            .store()
            .organisation_by_id(&request.organisation_id)
            .await?
        else {
            return Err(DirectoryError::NoSuchRequest);
        };
        let by = Decider {
            user: staff,
            role: "helpdesk",
        };
        self.record_decision(by, &organisation, request, decision, ctx)
            .await
    }

    /// A request by id, for the helpdesk (any organisation).
    pub async fn any_request(&self, request_id: &str) -> Result<AccessRequestRow, DirectoryError> {
        self.store()
            .access_request(request_id)
            .await?
            .ok_or(DirectoryError::NoSuchRequest)
    }

    async fn record_decision(
        &self,
        by: Decider<'_>,
        org: &OrganisationRow,
        request: &AccessRequestRow,
        decision: Decision,
        ctx: &RequestContext,
    ) -> Result<(), DirectoryError> {
        let reason = reason_text("reason", &decision.reason, !decision.approve)?;
        let appoint = decision.approve && decision.make_approver;
        if appoint && (by.role != "helpdesk" || !self.store().approvers(&org.id).await?.is_empty())
        {
            return Err(DirectoryError::Field(
                "decision",
                "Only the helpdesk appoints an approver here, and only where there is none".into(),
            ));
        }
        let subject = UserId::from_stored(request.user_id.clone());
        let Some(requester) = self.store().user_by_id(&subject).await? else {
            return Err(DirectoryError::NoSuchRequest);
        };
        let member = self.store().membership(&requester.id, &org.id).await?;
        let roles = match (&request.client_id, decision.approve) {
            (Some(client_id), true) => {
                self.directory
                    .checked_roles(&[(client_id.clone(), decision.roles.clone())])
                    .await?
            }
            _ => Vec::new(),
        };
        let now = self.directory.clock.now();
        let millis = now.timestamp_millis();
        let status = if decision.approve {
            "approved"
        } else {
            "rejected"
        };
        let store = self.store();
        let mut tx = store.begin().await?;
        let decided_by = by.user.id.as_str();
        if !store
            .decide_access_request(
                &mut tx,
                &request.id,
                status,
                Some(decided_by),
                Some(&reason),
                millis,
            )
            .await?
        {
            return Err(DirectoryError::Field(
                "decision",
                "This request has already been answered".into(),
            ));
        }
        let level = if appoint {
            Level::Approver
        } else {
            Level::Member
        };
        let before = member.as_ref().map(|m| m.level.as_str());
        if decision.approve && (before.is_none() || appoint && before != Some("approver")) {
            store
                .upsert_membership(&mut tx, &requester.id, &org.id, level.as_str(), millis)
                .await?;
            let added = AuditEvent::new(Action::MembershipAdded)
                .actor(&by.user.user_id())
                .subject(&subject)
                .organisation(&org.id)
                .context(ctx.clone())
                .diff(serde_json::json!(before), serde_json::json!(level.as_str()));
            store.append_audit(&mut tx, &added, now).await?;
        }
        for (client_id, codes) in &roles {
            store
                .set_access(&mut tx, &requester.id, &org.id, client_id, codes, millis)
                .await?;
            let granted = AuditEvent::new(Action::AccessGranted)
                .actor(&by.user.user_id())
                .subject(&subject)
                .organisation(&org.id)
                .client(client_id)
                .context(ctx.clone())
                .details(serde_json::json!({ "roles": codes, "request": request.id }));
            store.append_audit(&mut tx, &granted, now).await?;
        }
        let mut decided = AuditEvent::new(Action::AccessRequestDecided)
            .actor(&by.user.user_id())
            .subject(&subject)
            .organisation(&org.id)
            .context(ctx.clone())
            .details(serde_json::json!({
                "request": request.id, "decision": status, "reason": reason, "as": by.role
            }));
        if let Some(client_id) = &request.client_id {
            decided = decided.client(client_id);
        }
        store.append_audit(&mut tx, &decided, now).await?;
        let mail = Mail::AccessDecided {
            given_name: requester.given_name.clone(),
            organisation: org.name.clone(),
            service: request.client_name.clone(),
            approved: decision.approve,
            reason,
        };
        let to = stored_email(&requester)?;
        let mailer = self.lifecycle.mailer();
        mailer
            .queue(&mut tx, &to, Some(&requester.id), mail, now)
            .await?;
        tx.commit().await?;
        mailer.nudge();
        Ok(())
    }

    /// Sends every request waiting longer than [`OVERDUE_AFTER`] to the helpdesk queue
    /// (idempotent; each is audited once). Returns how many moved.
    pub async fn escalate_overdue(&self) -> Result<usize, DirectoryError> {
        let now = self.directory.clock.now();
        let before = (now - OVERDUE_AFTER).timestamp_millis();
        let store = self.store();
        let mut tx = store.begin().await?;
        let moved = store
            .escalate_overdue_requests(&mut tx, before, now.timestamp_millis())
            .await?;
        for (id, user_id, organisation_id) in &moved {
            let event = AuditEvent::new(Action::AccessRequestEscalated)
                .subject(&UserId::from_stored(user_id.clone()))
                .organisation(organisation_id)
                .details(serde_json::json!({ "request": id, "escalation": "overdue" }));
            store.append_audit(&mut tx, &event, now).await?;
        }
        tx.commit().await?;
        Ok(moved.len())
    }

    /// The helpdesk queue, oldest first (overdue requests are moved into it first).
    pub async fn helpdesk_queue(
        &self,
        limit: i64,
    ) -> Result<Vec<AccessRequestRow>, DirectoryError> {
        self.escalate_overdue().await?;
        Ok(self.store().escalated_access_requests(limit).await?)
    }

    /// Someone's own requests, newest first.
    pub async fn requests_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<AccessRequestRow>, DirectoryError> {
        Ok(self.store().access_requests_of(user_id).await?)
    }
}
