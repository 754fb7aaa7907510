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
    /// Maps a unique violation to [`StoreError::Conflict`], leaving other errors as they are.
    pub(crate) fn conflict_as(subject: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(subject),
            _ => Self::Database(e),
        }
    }
}
