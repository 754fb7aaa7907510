//! Keeps a node on the database's time (decision 0020): one reading before it serves, then one
//! every `time_check_seconds`, with how far its own clock is off logged and exported.

use std::sync::Arc;

use chrono::Duration;

use crate::clock::{DatabaseTime, Reading, SharedClock};
use crate::config::{Config, TimeSource};
use crate::store::{Store, StoreError};

/// Readings taken each time; the quickest round trip is believed.
const READINGS: usize = 3;

/// An offset that moved by less than this since the last warning is not warned of again.
const WORTH_A_WARNING: Duration = Duration::seconds(1);

/// A node's time kept on the database's, and how often to look again.
#[derive(Debug)]
pub struct Timekeeper {
    time: Arc<DatabaseTime>,
    every: std::time::Duration,
    /// The offset last warned of, if the last reading was worth a warning.
    warned: Option<Duration>,
}

/// The clock the node should run on: `local` itself when the configuration says so, or
/// `local` kept on the database's time (already measured once) and the keeper that keeps it so.
pub async fn keep_time(
    config: &Config,
    store: &Store,
    local: SharedClock,
) -> Result<(SharedClock, Option<Timekeeper>), StoreError> {
    match config.time_source {
        TimeSource::Local => Ok((local, None)),
        TimeSource::Database => {
            let time = Arc::new(DatabaseTime::new(local));
            let offset = check(&time, store).await?;
            let warned = report(offset, None);
            let clock: SharedClock = time.clone();
            let every = std::time::Duration::from_secs(config.time_check_seconds);
            Ok((
                clock,
                Some(Timekeeper {
                    time,
                    every,
                    warned,
                }),
            ))
        }
    }
}

impl Timekeeper {
    /// Reads the database's clock every interval for as long as the node runs; a failed
    /// reading keeps the last offset.
    pub async fn run(self, store: Store) {
        let mut interval = tokio::time::interval(self.every);
        interval.tick().await;
        let mut warned = self.warned;
        loop {
            interval.tick().await;
            match check(&self.time, &store).await {
                Ok(offset) => warned = report(offset, warned),
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not read the database's clock; keeping the last offset"
                ),
            }
        }
    }
}

async fn check(time: &DatabaseTime, store: &Store) -> Result<Duration, StoreError> {
    let mut readings: Vec<Reading> = Vec::with_capacity(READINGS);
    for _ in 0..READINGS {
        readings.push(store.read_clock(time.local().as_ref()).await?);
    }
    let offset = time.adopt(&readings).unwrap_or_else(|| time.offset());
    Ok(offset)
}

/// Exports how far this node's clock is ahead of the database's, and warns when that is a
/// second or more, unless the last warning gave (nearly) the same offset. Returns the offset
/// now warned of.
fn report(offset: Duration, warned: Option<Duration>) -> Option<Duration> {
    let ahead = -offset;
    let seconds = ahead.num_milliseconds() as f64 / 1000.0;
    metrics::gauge!("clock_ahead_of_database_seconds").set(seconds);
    if ahead.abs() < WORTH_A_WARNING {
        tracing::debug!(seconds, "this node's clock agrees with the database's");
        return None;
    }
    if warned.is_some_and(|w| (w - offset).abs() < WORTH_A_WARNING) {
        return warned;
    }
    let way = if ahead > Duration::zero() {
        "ahead of"
    } else {
        "behind"
    };
    tracing::warn!(
        seconds,
        "this node's clock is {:.1} s {way} the database's; Gatehouse keeps the database's \
         time, but check this machine's time synchronisation",
        seconds.abs()
    );
    Some(offset)
}
