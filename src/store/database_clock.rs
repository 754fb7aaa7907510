//! Reads the database server's clock, which every node keeps time by (decision 0020).

use chrono::{DateTime, Utc};

use super::{Db, Store, StoreError};
use crate::clock::{Clock, Reading};

/// Microseconds since the Unix epoch by the server's clock at the moment of reading
/// (`clock_timestamp()`, not the transaction's start).
const POSTGRES: &str = "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";
/// SQLite reads the host's clock to the millisecond (the same clock as this process: one
/// SQLite file serves nodes on one machine only).
const SQLITE: &str =
    "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 1000";

impl Store {
    /// Reads the database's clock between two readings of `local`.
    pub async fn read_clock(&self, local: &dyn Clock) -> Result<Reading, StoreError> {
        let sent = local.now();
        let micros: i64 = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_scalar(SQLITE).fetch_one(read).await?,
            Db::Postgres(pool) => sqlx::query_scalar(POSTGRES).fetch_one(pool).await?,
        };
        let received = local.now();
        let database = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(|| {
            StoreError::Corrupt(format!("the database's clock reads {micros} µs"))
        })?;
        Ok(Reading {
            sent,
            database,
            received,
        })
    }
}
