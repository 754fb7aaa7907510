//! Store errors: what callers can act on (a conflict, a missing row) kept apart from
//! everything else, which is an internal error.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; names the constraint's subject.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The row the change was about does not exist.
    #[error("not found")]
    NotFound,
    /// A stored value could not be read back as its type: a bug or tampering.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the database could not be reached or would not serve (connection refused or
    /// lost, pool exhausted, server shutting down or out of connections), as opposed to a
    /// query that failed: worth a 503 and a retry, not a 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                // A connection closed before the server spoke (a proxy or pooler in front of
                // a stopped database) fails the handshake as a protocol error.
                | sqlx::Error::Protocol(_) => true,
                // SQLSTATE class 08 (connection exception), 57P0x (shutdown), 53300 (too
                // many connections); SQLite's "database is locked" after the busy timeout.
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08")
                        || code.starts_with("57P0")
                        || code == "53300"
                        || code == "5"
                        || code == "6"
                }),
                _ => false,
            },
            _ => false,
        }
    }

    /// Maps a unique violation to [`StoreError::Conflict`], leaving other errors as they are.
    pub(crate) fn conflict_as(subject: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(subject),
            _ => Self::Database(e),
        }
    }
}
