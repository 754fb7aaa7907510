//! PRODUCT.md: "accounts unused for 2 years are deactivated". `gatehouse user
//! deactivate-unused`, run daily by the operator, switches off every active or locked account
//! whose last use is older than the policy's setting, ending its sessions and refresh tokens
//! (services get back-channel logout) and telling its owner, one account per transaction.

use super::flows::{FlowError, Lifecycle};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::domain::{Email, UserId};
use crate::mail::Mail;
use crate::store::UnusedAccount;

use chrono::{DateTime, Utc};

/// Accounts looked at per query.
const BATCH: i64 = 500;

/// What a run found, or did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnusedReport {
    /// Accounts unused for longer than the policy allows.
    pub found: u64,
    /// Of those, how many were deactivated (none on a dry run; fewer if someone signed in
    /// meanwhile).
    pub deactivated: u64,
    /// The policy's limit, in days.
    pub after_days: i64,
}

const NOTICE: &str = "Your account was deactivated because nobody had signed in to it for a \
     long time. If you still need it, ask an approver at your organisation or the helpdesk to \
     reactivate it.";

impl Lifecycle {
    /// Deactivates every account unused for longer than the policy allows (or, with
    /// `dry_run`, only counts them).
    pub async fn deactivate_unused(
        &self,
        dry_run: bool,
        ctx: &RequestContext,
    ) -> Result<UnusedReport, FlowError> {
        let policy = self.auth.policies().current().await?;
        let now = self.clock.now();
        let cutoff = (now - policy.unused_after()).timestamp_millis();
        let after_days = policy.unused_after().num_days();
        let reason = format!("Not used for more than {after_days} days");
        let mut report = UnusedReport {
            after_days,
            ..UnusedReport::default()
        };
        report.found = self.store.count_unused_accounts(cutoff).await?;
        if dry_run {
            return Ok(report);
        }
        for status in ["active", "locked"] {
            loop {
                // Each deactivated account leaves the query's results, so the next batch is
                // new; one someone signed in to meanwhile leaves them too.
                let batch = self.store.unused_accounts(status, cutoff, BATCH).await?;
                if batch.is_empty() {
                    break;
                }
                for account in &batch {
                    if self
                        .deactivate_one(account, status, cutoff, &reason, ctx, now)
                        .await?
                    {
                        report.deactivated += 1;
                    }
                }
            }
        }
        self.mailer.nudge();
        Ok(report)
    }

    /// Deactivates one account found unused, if it still is; true if it was.
    async fn deactivate_one(
        &self,
        account: &UnusedAccount,
        status: &str,
        cutoff: i64,
        reason: &str,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<bool, FlowError> {
        let mut tx = self.store.begin().await?;
        let done = self
            .store
            .deactivate_if_unused(&mut tx, &account.id, cutoff, reason, now.timestamp_millis())
            .await?;
        if !done {
            return Ok(false);
        }
        let id = UserId::from_stored(account.id.clone());
        let ended = self.store.delete_user_sessions(&mut tx, &id, now).await?;
        let event = AuditEvent::new(Action::UserStatusChanged)
            .by_cli()
            .subject(&id)
            .reason("unused")
            .context(ctx.clone())
            .diff(
                serde_json::json!({ "status": status }),
                serde_json::json!({
                    "status": "deactivated",
                    "status_reason": reason,
                    "sessions_ended": ended,
                }),
            );
        self.store.append_audit(&mut tx, &event, now).await?;
        if let Ok(to) = Email::parse(&account.email) {
            let mail = Mail::SecurityNotice {
                given_name: account.given_name.clone(),
                change: NOTICE.to_owned(),
            };
            self.mailer
                .queue(&mut tx, &to, Some(&account.id), mail, now)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
