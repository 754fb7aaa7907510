//! Counting the migration dashboard (decision 0021). A count reads every imported contact
//! (tens of seconds at a million), so it runs in the background every
//! `migration_count_seconds`, on one node at a time, and when staff ask for it; the page
//! reads the saved lines in milliseconds.

use std::time::{Duration, Instant};

use super::{Directory, DirectoryError};

/// How long a count may run before another node may take it over (a node that died
/// mid-count leaves its claim behind).
const CLAIM: chrono::Duration = chrono::Duration::minutes(15);
/// How often each node looks at whether the figures are due a count.
const LOOK_EVERY: Duration = Duration::from_secs(5);

impl Directory {
    /// Counts the dashboard now and saves it. False (and nothing done) when another count is
    /// under way on any node.
    pub async fn count_migration(&self) -> Result<bool, DirectoryError> {
        let now = self.clock.now();
        let claimed = self
            .store
            .take_migration_count(now.timestamp_millis(), (now + CLAIM).timestamp_millis())
            .await?;
        if !claimed {
            return Ok(false);
        }
        let started = Instant::now();
        let count = match self.store.count_migration().await {
            Ok(count) => count,
            Err(e) => {
                let _ = self.store.release_migration_count().await;
                return Err(e.into());
            }
        };
        let took_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        // The figures are as of the count's start: later changes wait for the next one.
        if let Err(e) = self
            .store
            .save_migration_count(&count, now.timestamp_millis(), took_ms)
            .await
        {
            let _ = self.store.release_migration_count().await;
            return Err(e.into());
        }
        metrics::histogram!("migration_count_seconds").record(took_ms as f64 / 1000.0);
        tracing::info!(took_ms, "migration dashboard counted");
        Ok(true)
    }

    /// Whether the saved figures are `every` old or were never counted.
    async fn migration_count_due(&self, every: Duration) -> Result<bool, DirectoryError> {
        let counted_at = self.store.saved_migration_counted_at().await?;
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        Ok(counted_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .is_none_or(|at| self.clock.now() - at >= every))
    }
}

/// Keeps the dashboard counted every `every`, until the task is dropped.
pub async fn keep_migration_counted(directory: Directory, every: Duration) {
    loop {
        let due = directory.migration_count_due(every).await;
        let counted = match due {
            Ok(true) => directory.count_migration().await.map(|_| ()),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = counted {
            tracing::warn!(error = %e, "could not count the migration dashboard");
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}
