//! Keeps a node on the database's time, so nodes whose own clocks have drifted apart still
//! agree on when a code, a link or a ceremony expires (decision 0020).
//!
//! The node reads the database's clock between two readings of its own, takes the offset of
//! the quickest round trip, and from then on answers its own clock plus that offset. Reading
//! again now and then follows a clock that keeps drifting or is stepped.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

use super::{Clock, SharedClock};

/// One look at the database's clock, with this node's clock read just before and just after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub sent: DateTime<Utc>,
    pub database: DateTime<Utc>,
    pub received: DateTime<Utc>,
}

impl Reading {
    pub fn round_trip(&self) -> Duration {
        self.received - self.sent
    }

    /// How far the database's clock is ahead of ours, assuming the answer was read halfway
    /// through the round trip (the error is at most half of it).
    pub fn offset(&self) -> Duration {
        let halfway = self.sent + self.round_trip() / 2;
        self.database - halfway
    }
}

/// This node's clock corrected by the last offset measured against the database.
#[derive(Debug)]
pub struct DatabaseTime {
    local: SharedClock,
    offset_micros: AtomicI64,
}

impl DatabaseTime {
    /// Starts uncorrected: call [`DatabaseTime::adopt`] before serving.
    pub fn new(local: SharedClock) -> Self {
        Self {
            local,
            offset_micros: AtomicI64::new(0),
        }
    }

    /// The uncorrected clock, to time readings with.
    pub fn local(&self) -> &SharedClock {
        &self.local
    }

    pub fn offset(&self) -> Duration {
        Duration::microseconds(self.offset_micros.load(Ordering::Relaxed))
    }

    /// Takes the offset of the reading with the quickest round trip (the least uncertain)
    /// and returns it; with no usable reading the offset stays as it was.
    pub fn adopt(&self, readings: &[Reading]) -> Option<Duration> {
        let best = readings
            .iter()
            .filter(|r| r.round_trip() >= Duration::zero())
            .min_by_key(|r| r.round_trip())?;
        let offset = best.offset();
        let micros = offset.num_microseconds()?;
        self.offset_micros.store(micros, Ordering::Relaxed);
        Some(offset)
    }
}

impl Clock for DatabaseTime {
    fn now(&self) -> DateTime<Utc> {
        self.local.now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    fn at(seconds: i64, millis: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
            + Duration::milliseconds(millis)
    }

    #[test]
    fn a_node_ninety_seconds_ahead_answers_the_database_time() {
        let local = ManualClock::new(at(90, 0));
        let time = DatabaseTime::new(Arc::new(local.clone()));
        let offset = time.adopt(&[Reading {
            sent: at(90, 0),
            database: at(0, 10),
            received: at(90, 20),
        }]);
        assert_eq!(offset, Some(Duration::seconds(-90)));
        assert_eq!(time.now(), at(0, 0));
        local.advance(Duration::seconds(61));
        assert_eq!(time.now(), at(61, 0), "the local clock still moves time on");
    }

    #[test]
    fn the_quickest_round_trip_wins() {
        let time = DatabaseTime::new(Arc::new(ManualClock::new(at(0, 0))));
        let slow = Reading {
            sent: at(0, 0),
            database: at(5, 0),
            received: at(2, 0),
        };
        let quick = Reading {
            sent: at(3, 0),
            database: at(-87, 1),
            received: at(3, 2),
        };
        assert_eq!(time.adopt(&[slow, quick]), Some(Duration::seconds(-90)));
    }

    #[test]
    fn no_reading_keeps_the_last_offset() {
        let time = DatabaseTime::new(Arc::new(ManualClock::new(at(0, 0))));
        time.adopt(&[Reading {
            sent: at(0, 0),
            database: at(30, 0),
            received: at(0, 0),
        }]);
        let backwards = Reading {
            sent: at(1, 0),
            database: at(0, 0),
            received: at(0, 0),
        };
        assert_eq!(time.adopt(&[backwards]), None);
        assert_eq!(time.adopt(&[]), None);
        assert_eq!(time.offset(), Duration::seconds(30));
    }
}
