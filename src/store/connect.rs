//! Opening a [`Store`] from a database URL, with the settings each engine needs.

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Db, Store};

/// How long a connection may be waited for before a request gives up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits for another process (say, a CLI command) to release the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL itself is wrong: a configuration problem.
    #[error("database_url is not valid: {0}")]
    BadUrl(String),
    /// The URL is fine but the database did not answer: a runtime problem.
    #[error("cannot reach the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

impl Store {
    /// Connects to the database named by `url`. `redacted` is the same URL without its
    /// password, used in error messages.
    pub async fn connect(
        url: &SecretString,
        redacted: &str,
        max_connections: u32,
    ) -> Result<Self, ConnectError> {
        let raw = url.expose_secret();
        let unreachable = |e: sqlx::Error| ConnectError::Unreachable {
            url: redacted.to_owned(),
            reason: e.to_string(),
        };
        let db = if raw.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(raw)
                .map_err(|e| ConnectError::BadUrl(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(BUSY_TIMEOUT);
            // The writer opens (and creates) the file first; readers follow.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(unreachable)?;
            let read = SqlitePoolOptions::new()
                .max_connections(max_connections.saturating_sub(1).max(1))
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(unreachable)?;
            Db::Sqlite { read, write }
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(raw).map_err(|e| ConnectError::BadUrl(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(unreachable)?;
            Db::Postgres(pool)
        } else {
            return Err(ConnectError::BadUrl(
                "it must start with sqlite:// or postgres://".to_owned(),
            ));
        };
        Ok(Self { db })
    }
}
