//! User rows: creating accounts and reading them back by id or email.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, Tx, on_pool, on_tx};
use crate::domain::{Email, UnknownStatus, UserId, UserStatus};

/// An account as stored. Timestamps are Unix milliseconds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub email_normalised: String,
    pub given_name: String,
    pub family_name: String,
    pub job_title: Option<String>,
    pub status: String,
    pub password_hash: Option<String>,
    pub deactivated_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub activated_at: Option<i64>,
    pub last_sign_in_at: Option<i64>,
    pub password_changed_at: Option<i64>,
}

impl UserRow {
    pub fn user_id(&self) -> UserId {
        UserId::from_stored(self.id.clone())
    }

    pub fn status(&self) -> Result<UserStatus, StoreError> {
        self.status
            .parse()
            .map_err(|e: UnknownStatus| StoreError::Corrupt(e.to_string()))
    }
}

/// What it takes to create an account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    pub job_title: Option<String>,
    pub status: UserStatus,
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The columns of [`UserRow`], in one place for every `SELECT`.
macro_rules! user_columns {
    () => {
        "id, email, email_normalised, given_name, family_name, job_title, status, \
         password_hash, deactivated_reason, created_at, updated_at, activated_at, \
         last_sign_in_at, password_changed_at"
    };
}

const INSERT: &str = "INSERT INTO users (id, email, email_normalised, given_name, family_name, \
     job_title, status, created_at, updated_at, activated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)";

const BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

const BY_EMAIL: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE email_normalised = $1"
);

const SET_STATUS: &str = "UPDATE users SET status = $2, deactivated_reason = $3, updated_at = $4 \
     WHERE id = $1";

impl Store {
    /// Creates an account inside `tx`. A second account with the same email (in any case)
    /// is refused with [`StoreError::Conflict`].
    pub async fn insert_user(
        &self,
        tx: &mut Tx,
        user: &NewUser,
        now: DateTime<Utc>,
    ) -> Result<UserId, StoreError> {
        let id = UserId::generate();
        let activated = (user.status == UserStatus::Active).then(|| millis(now));
        on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(id.as_str())
                .bind(user.email.as_str())
                .bind(user.email.normalised())
                .bind(&user.given_name)
                .bind(&user.family_name)
                .bind(&user.job_title)
                .bind(user.status.as_str())
                .bind(millis(now))
                .bind(activated)
                .execute(conn)
                .await
                .map_err(StoreError::conflict_as(
                    "An account with that email address",
                ))?;
        });
        Ok(id)
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, UserRow>(BY_ID)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Finds an account by email, ignoring case.
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, UserRow>(BY_EMAIL)
                .bind(email.normalised())
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Changes an account's status inside `tx`; `reason` is kept only for deactivation.
    pub async fn set_user_status(
        &self,
        tx: &mut Tx,
        id: &UserId,
        status: UserStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let reason = if status == UserStatus::Deactivated {
            reason
        } else {
            None
        };
        let changed = on_tx!(tx, |conn| {
            sqlx::query(SET_STATUS)
                .bind(id.as_str())
                .bind(status.as_str())
                .bind(reason)
                .bind(millis(now))
                .execute(conn)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
