//! "Why can't she sign in?" in one screen: an account's status and why, its organisations,
//! services and roles, second factors (kinds and names only), recent sign-ins and failures
//! with their reason codes, sessions, a pending change of email, and its audit timeline.
//! Opening it and exporting the timeline are audited.

use chrono::DateTime;

use crate::account::purpose;
use crate::audit::{Action, RequestContext};
use crate::directory::spreadsheet_safe;
use crate::domain::{UserId, UserStatus};
use crate::store::{AuditRow, SessionRow, StoreError, UserRow};

use super::search::EXPORT_LIMIT;
use super::{Helpdesk, OnDuty, by_staff};

/// Sign-ins and failures shown.
const RECENT: i64 = 10;
/// Timeline events per page.
pub const TIMELINE_PAGE: i64 = 50;

/// An organisation the person belongs to, with what they may use there.
#[derive(Debug, Clone)]
pub struct Place {
    pub organisation_id: String,
    pub name: String,
    pub kind: String,
    /// URN, UKPRN or LA code, whichever the organisation has.
    pub code: String,
    pub approver: bool,
    /// (service name, role names).
    pub services: Vec<(String, Vec<String>)>,
}

/// A sign-in or a failed one.
#[derive(Debug, Clone)]
pub struct SignInLine {
    pub at: i64,
    /// The failure's reason code (`wrong_password`, `locked`…).
    pub reason: Option<String>,
    pub ip: Option<String>,
}

/// A second factor, by kind and name only.
#[derive(Debug, Clone)]
pub struct Factor {
    pub kind: &'static str,
    pub name: String,
    pub added_at: i64,
    pub note: &'static str,
}

/// Everything the account page shows.
#[derive(Debug, Clone)]
pub struct AccountFile {
    pub user: UserRow,
    pub status: UserStatus,
    /// Why the account is in its status, in a sentence.
    pub status_why: String,
    pub staff_roles: Vec<String>,
    pub places: Vec<Place>,
    pub factors: Vec<Factor>,
    pub recovery_codes_left: i64,
    pub sign_ins: Vec<SignInLine>,
    pub failures: Vec<SignInLine>,
    pub sessions: Vec<SessionRow>,
    pub pending_email: Option<String>,
}

/// One page of the account's timeline, newest first.
#[derive(Debug, Clone)]
pub struct TimelinePage {
    pub events: Vec<AuditRow>,
    /// Where the next (older) page starts, when there is one.
    pub older: Option<i64>,
}

fn day(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%-d %B %Y").to_string())
        .unwrap_or_default()
}

impl Helpdesk {
    /// The account with id `id`, or `None`; audited as viewed.
    pub async fn account(
        &self,
        on_duty: &OnDuty,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<Option<AccountFile>, StoreError> {
        let uid = UserId::from_stored(id.to_owned());
        let Some(user) = self.store.user_by_id(&uid).await? else {
            return Ok(None);
        };
        let file = self.assemble(user).await?;
        let event = by_staff(on_duty, Action::AccountViewed, ctx).subject(&uid);
        self.audit_read(event).await?;
        Ok(Some(file))
    }

    async fn assemble(&self, user: UserRow) -> Result<AccountFile, StoreError> {
        let id = user.id.as_str();
        let status = user.status()?;
        let status_why = self.status_why(&user, status).await?;
        let access = self.store.access_of(id).await?;
        let roles = self.store.held_roles_of(id).await?;
        let places = self
            .store
            .places_of(id)
            .await?
            .into_iter()
            .map(|p| {
                let services = access
                    .iter()
                    .filter(|a| a.organisation_id == p.organisation_id)
                    .map(|a| {
                        let held = roles
                            .iter()
                            .filter(|r| {
                                r.organisation_id == p.organisation_id && r.client_id == a.client_id
                            })
                            .map(|r| r.role_name.clone())
                            .collect();
                        (a.client_name.clone(), held)
                    })
                    .collect();
                Place {
                    code: p.urn.or(p.ukprn).or(p.la_code).unwrap_or_default(),
                    approver: p.level == "approver",
                    organisation_id: p.organisation_id,
                    name: p.name,
                    kind: p.kind,
                    services,
                }
            })
            .collect();
        let mut factors: Vec<Factor> = self
            .store
            .totp_factors(id)
            .await?
            .into_iter()
            .filter(|t| t.confirmed_at.is_some())
            .map(|t| Factor {
                kind: "Authenticator app",
                name: t.name,
                added_at: t.created_at,
                note: if t.disabled_at.is_some() {
                    "Turned off after too many wrong codes"
                } else {
                    ""
                },
            })
            .collect();
        factors.extend(
            self.store
                .credentials(id)
                .await?
                .into_iter()
                .map(|c| Factor {
                    kind: if c.kind == "passkey" {
                        "Passkey"
                    } else {
                        "Security key"
                    },
                    name: c.name,
                    added_at: c.created_at,
                    note: if c.counter_regressed_at.is_some() {
                        "Refused: it may have been copied"
                    } else {
                        ""
                    },
                }),
        );
        let lines = |rows: Vec<AuditRow>| -> Vec<SignInLine> {
            rows.into_iter()
                .map(|r| SignInLine {
                    at: r.occurred_at,
                    reason: r.reason,
                    ip: r.ip,
                })
                .collect()
        };
        let sign_ins = lines(
            self.store
                .audit_about(id, Action::SignInSucceeded.as_str(), RECENT)
                .await?,
        );
        let failures = lines(
            self.store
                .audit_about(id, Action::SignInFailed.as_str(), RECENT)
                .await?,
        );
        let now = self.clock.now();
        let pending_email = self
            .store
            .account_token_for(id, purpose::EMAIL_CHANGE, now)
            .await?
            .and_then(|t| t.new_email);
        Ok(AccountFile {
            staff_roles: self.store.staff_roles(id).await?,
            recovery_codes_left: self.store.recovery_codes_left(id).await?,
            sessions: self
                .store
                .sessions_for_user(&user.user_id(), now, self.sessions.idle_cutoff(now))
                .await?,
            status,
            status_why,
            places,
            factors,
            sign_ins,
            failures,
            pending_email,
            user,
        })
    }

    async fn status_why(&self, user: &UserRow, status: UserStatus) -> Result<String, StoreError> {
        let said = user
            .status_reason
            .as_deref()
            .unwrap_or("no reason recorded");
        Ok(match status {
            UserStatus::Active if user.failed_sign_ins > 0 => format!(
                "Active. {} failed sign-in attempts since the last success.",
                user.failed_sign_ins
            ),
            UserStatus::Active => "Active.".to_owned(),
            UserStatus::Locked => format!(
                "Locked ({said}) after {} failed sign-in attempts. Unlock it, or send a \
                 password reset link, which also unlocks it.",
                user.failed_sign_ins
            ),
            UserStatus::Deactivated => format!("Deactivated: {said}."),
            UserStatus::Invited => {
                let token = self
                    .store
                    .account_token_any(&user.id, purpose::ACTIVATION)
                    .await?;
                let now = self.clock.now().timestamp_millis();
                match token {
                    Some(t) if t.expires_at > now => format!(
                        "Invited: the invitation has not been accepted. It expires on {}.",
                        day(t.expires_at)
                    ),
                    Some(t) => format!(
                        "Invited: the invitation expired on {}. Resend it.",
                        day(t.expires_at)
                    ),
                    None => "Invited: no invitation has been sent. Resend it.".to_owned(),
                }
            }
        })
    }

    /// One page of events where the account is the actor or the subject, older than
    /// `before` (a position from an earlier page).
    pub async fn timeline(
        &self,
        _on_duty: &OnDuty,
        id: &str,
        before: Option<i64>,
    ) -> Result<TimelinePage, StoreError> {
        let mut events = self
            .store
            .audit_for_user_before(id, before.unwrap_or(i64::MAX), TIMELINE_PAGE + 1)
            .await?;
        let older = if events.len() as i64 > TIMELINE_PAGE {
            events.truncate(TIMELINE_PAGE as usize);
            events.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(TimelinePage { events, older })
    }

    /// The account's timeline (newest first, up to [`EXPORT_LIMIT`] events) as CSV;
    /// audited as an export.
    pub async fn export_timeline(
        &self,
        on_duty: &OnDuty,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<u8>, StoreError> {
        let events = self
            .store
            .audit_for_user_before(id, i64::MAX, EXPORT_LIMIT)
            .await?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| StoreError::Corrupt(e.to_string());
        out.write_record([
            "seq", "at", "action", "outcome", "reason", "actor", "subject", "ip", "details",
        ])
        .map_err(fail)?;
        for e in &events {
            let at = DateTime::from_timestamp_millis(e.occurred_at)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            out.write_record([
                e.seq.to_string(),
                at,
                e.action.clone(),
                e.outcome.clone(),
                spreadsheet_safe(e.reason.as_deref().unwrap_or("")),
                spreadsheet_safe(&e.actor),
                spreadsheet_safe(e.subject_user_id.as_deref().unwrap_or("")),
                spreadsheet_safe(e.ip.as_deref().unwrap_or("")),
                spreadsheet_safe(e.details.as_deref().unwrap_or("")),
            ])
            .map_err(fail)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let event = by_staff(on_duty, Action::AccountsExported, ctx)
            .subject(&UserId::from_stored(id.to_owned()))
            .details(serde_json::json!({ "timeline": true, "rows": events.len() }));
        self.audit_read(event).await?;
        Ok(bytes)
    }
}
