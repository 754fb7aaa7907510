//! Applying the audit retention limits (`gatehouse audit prune`): per category, events older
//! than its limit are blanked in one transaction with a checkpoint event that says what was
//! blanked, so `gatehouse audit verify` still proves the rest of the chain.

use chrono::{DateTime, Duration, Utc};

use crate::audit::{Action, AuditEvent, Category, Retention};
use crate::clock::SharedClock;
use crate::store::{Store, StoreError};

/// What one category's pruning did (or, on a dry run, would do).
#[derive(Debug, Clone)]
pub struct Pruned {
    pub category: Category,
    /// Events before this instant were (or would be) blanked.
    pub before: DateTime<Utc>,
    pub events: u64,
}

/// Blanks every event past its category's limit; with `dry_run`, only counts them.
/// Categories kept for ever (0 days) are skipped.
pub async fn prune_audit(
    store: &Store,
    clock: &SharedClock,
    retention: Retention,
    dry_run: bool,
) -> Result<Vec<Pruned>, StoreError> {
    let now = clock.now();
    let mut report = Vec::new();
    for category in Category::ALL {
        let days = retention.days(category);
        if days == 0 {
            continue;
        }
        let before = now - Duration::days(i64::from(days));
        let actions: Vec<&str> = category.actions().iter().map(|a| a.as_str()).collect();
        let cutoff = before.timestamp_millis();
        let events = if dry_run {
            store.count_prunable_audit(&actions, cutoff).await? as u64
        } else {
            let mut tx = store.begin().await?;
            let (events, through) = store
                .prune_audit_in(&mut tx, &actions, cutoff, now.timestamp_millis())
                .await?;
            if let Some(through_seq) = through {
                let checkpoint =
                    AuditEvent::new(Action::AuditPruned)
                        .by_cli()
                        .details(serde_json::json!({
                            "category": category.name(),
                            "actions": actions,
                            "before": cutoff,
                            "through_seq": through_seq,
                            "pruned": events,
                        }));
                store.append_audit(&mut tx, &checkpoint, now).await?;
            }
            tx.commit().await?;
            events
        };
        report.push(Pruned {
            category,
            before,
            events,
        });
    }
    Ok(report)
}
