//! The outbox worker: runs on every node, claims due messages one at a time (so two nodes
//! never send the same one), sends them, and records the outcome with an audit event.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Envelope, MailError, Mailer, SendError};
use crate::audit::{Action, AuditEvent};
use crate::domain::UserId;
use crate::store::OutboxRow;

/// How often the outbox is checked when nothing wakes the worker sooner.
const POLL: Duration = Duration::from_secs(1);
/// How long a claimed message is this node's before another may try it (well beyond the
/// SMTP timeout, so a slow relay never causes a second copy).
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// Messages taken per pass.
const BATCH: i64 = 50;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECONDS: u64 = 3600;

/// Sends due messages until the task is dropped.
pub async fn run_worker(mailer: Mailer) {
    loop {
        if let Err(e) = mailer.deliver_due().await {
            tracing::warn!(error = %e, "could not read the mail outbox");
        }
        mailer.publish_metrics().await;
        tokio::select! {
            () = mailer.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

impl Mailer {
    /// One pass over the due messages; returns how many were handed over.
    pub async fn deliver_due(&self) -> Result<usize, MailError> {
        let now = self.clock.now();
        let mut sent = 0;
        for row in self.store.due_outbox(now, BATCH).await? {
            if !self.store.claim_outbox(&row, now + LEASE).await? {
                continue;
            }
            if self.deliver(&row).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    async fn deliver(&self, row: &OutboxRow) -> Result<bool, MailError> {
        let outcome = match self.open(row) {
            Ok(envelope) => match self.build(&row.id, &envelope.to, &envelope.mail) {
                Ok(message) => self.transport.send(&row.id, &message).await,
                Err(e) => Err(SendError::Permanent(e.to_string())),
            },
            Err(e) => Err(SendError::Permanent(e.to_string())),
        };
        let now = self.clock.now();
        let user = row.user_id.clone().map(UserId::from_stored);
        let mut tx = self.store.begin().await?;
        let delivered = match &outcome {
            Ok(file) => {
                self.store.outbox_sent(&mut tx, &row.id, now).await?;
                let waited = (now.timestamp_millis() - row.created_at).max(0) as f64 / 1000.0;
                metrics::counter!("mail_sent_total", "kind" => row.kind.clone()).increment(1);
                metrics::histogram!("mail_queue_seconds").record(waited);
                match file {
                    Some(path) => {
                        tracing::info!(kind = %row.kind, id = %row.id, path = %path.display(), "email written to a file (no smtp_host configured)")
                    }
                    None => {
                        tracing::info!(kind = %row.kind, id = %row.id, waited_seconds = waited, "email handed to the SMTP relay")
                    }
                }
                event(Action::MailSent, row, user.as_ref())
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                let retry = match e {
                    SendError::Transient(_) if attempts < i64::from(self.max_attempts) => {
                        Some(self.retry_at(now, attempts))
                    }
                    _ => None,
                };
                self.store
                    .outbox_failed(&mut tx, &row.id, &e.to_string(), retry)
                    .await?;
                metrics::counter!("mail_failed_total", "kind" => row.kind.clone()).increment(1);
                if retry.is_some() {
                    tracing::warn!(kind = %row.kind, id = %row.id, attempts, error = %e, "email not sent; will retry");
                    event(Action::MailFailed, row, user.as_ref()).failed("send_failed")
                } else {
                    tracing::error!(kind = %row.kind, id = %row.id, attempts, error = %e, "email given up (dead letter)");
                    event(Action::MailDeadLettered, row, user.as_ref()).failed("dead_letter")
                }
                .details(serde_json::json!({ "kind": row.kind, "message_id": row.id, "attempts": attempts }))
            }
        };
        self.store.append_audit(&mut tx, &delivered, now).await?;
        tx.commit().await?;
        Ok(outcome.is_ok())
    }

    fn open(&self, row: &OutboxRow) -> Result<Envelope, MailError> {
        let sealed = row
            .payload
            .as_deref()
            .ok_or_else(|| MailError::Build("the message has no content".to_owned()))?;
        let plain = self.key.open_sealed(sealed, &row.id)?;
        serde_json::from_slice(&plain).map_err(|e| MailError::Build(e.to_string()))
    }

    /// Exponential back-off: `retry_seconds`, then twice that, and so on, up to an hour.
    fn retry_at(&self, now: DateTime<Utc>, attempts: i64) -> DateTime<Utc> {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(20);
        let wait = self
            .retry_seconds
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF_SECONDS);
        now + chrono::Duration::seconds(i64::try_from(wait).unwrap_or(3600))
    }

    /// Queue depth, dead letters and the age of the oldest waiting message, as gauges.
    pub async fn publish_metrics(&self) {
        let Ok(stats) = self.store.outbox_stats().await else {
            return;
        };
        metrics::gauge!("mail_outbox_pending").set(stats.pending as f64);
        metrics::gauge!("mail_outbox_dead").set(stats.dead as f64);
        let age = stats.oldest_pending_at.map_or(0.0, |at| {
            (self.clock.now().timestamp_millis() - at).max(0) as f64 / 1000.0
        });
        metrics::gauge!("mail_outbox_oldest_seconds").set(age);
    }
}

fn event(action: Action, row: &OutboxRow, user: Option<&UserId>) -> AuditEvent {
    let event = AuditEvent::new(action)
        .details(serde_json::json!({ "kind": row.kind, "message_id": row.id }));
    match user {
        Some(user) => event.subject(user),
        None => event,
    }
}
