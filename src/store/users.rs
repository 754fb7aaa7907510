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
    pub status_reason: Option<String>,
    pub failed_sign_ins: i64,
    pub last_failed_sign_in_at: Option<i64>,
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
         password_hash, status_reason, failed_sign_ins, last_failed_sign_in_at, created_at, \
         updated_at, activated_at, last_sign_in_at, password_changed_at"
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

/// Unlocking or reactivating also forgets past failures, so the person starts afresh.
const SET_STATUS: &str = "UPDATE users SET status = $2, status_reason = $3, updated_at = $4, \
     failed_sign_ins = CASE WHEN $2 = 'active' THEN 0 ELSE failed_sign_ins END, \
     activated_at = CASE WHEN $2 = 'active' AND activated_at IS NULL THEN $4 ELSE activated_at END \
     WHERE id = $1";

const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2, password_changed_at = $3, \
     updated_at = $3 WHERE id = $1";

/// One statement, so parallel failures are all counted; the 100th locks an active account.
const RECORD_FAILURE: &str = "UPDATE users SET failed_sign_ins = failed_sign_ins + 1, \
     last_failed_sign_in_at = $2, \
     status = CASE WHEN failed_sign_ins + 1 >= $3 AND status = 'active' THEN 'locked' ELSE status END, \
     status_reason = CASE WHEN failed_sign_ins + 1 >= $3 AND status = 'active' \
         THEN 'Too many failed sign-in attempts' ELSE status_reason END \
     WHERE id = $1 RETURNING failed_sign_ins, status";

const RECORD_SUCCESS: &str = "UPDATE users SET failed_sign_ins = 0, last_sign_in_at = $2, \
     password_hash = COALESCE($3, password_hash) WHERE id = $1";

/// A right password before a second factor: the failure count clears, but it is not yet a
/// sign-in.
const RECORD_PASSWORD: &str = "UPDATE users SET failed_sign_ins = 0, \
     password_hash = COALESCE($2, password_hash) WHERE id = $1";

const SET_NAME: &str = "UPDATE users SET given_name = $2, family_name = $3, updated_at = $4 \
     WHERE id = $1";
const SET_EMAIL: &str = "UPDATE users SET email = $2, email_normalised = $3, updated_at = $4 \
     WHERE id = $1";

const LIST: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users ORDER BY email_normalised LIMIT $1 OFFSET $2"
);

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

    /// An account read inside `tx`.
    pub async fn user_in(&self, tx: &mut Tx, id: &UserId) -> Result<Option<UserRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, UserRow>(BY_ID)
                .bind(id.as_str())
                .fetch_optional(conn)
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

    /// The id of the account with this normalised address, read inside `tx` (so rows the
    /// transaction wrote are seen).
    pub async fn user_id_by_email_in(
        &self,
        tx: &mut Tx,
        email_normalised: &str,
    ) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT id FROM users WHERE email_normalised = $1";
        Ok(on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, String>(SQL)
                .bind(email_normalised)
                .fetch_optional(conn)
                .await?
        }))
    }

    /// Changes an account's status inside `tx`; `reason` is kept for locked and deactivated
    /// accounts. Becoming active clears the failure count.
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

    /// Stores a new password hash inside `tx`.
    pub async fn set_password_hash(
        &self,
        tx: &mut Tx,
        id: &UserId,
        phc: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changed = on_tx!(tx, |conn| {
            sqlx::query(SET_PASSWORD)
                .bind(id.as_str())
                .bind(phc)
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

    /// Counts one more failed sign-in inside `tx`, locking an active account when the count
    /// reaches `lock_at`. Returns the new count and status.
    pub async fn record_failed_sign_in(
        &self,
        tx: &mut Tx,
        id: &UserId,
        lock_at: i64,
        now: DateTime<Utc>,
    ) -> Result<(i64, UserStatus), StoreError> {
        let (count, status): (i64, String) = on_tx!(tx, |conn| {
            sqlx::query_as(RECORD_FAILURE)
                .bind(id.as_str())
                .bind(millis(now))
                .bind(lock_at)
                .fetch_one(conn)
                .await?
        });
        let status = status
            .parse()
            .map_err(|e: UnknownStatus| StoreError::Corrupt(e.to_string()))?;
        Ok((count, status))
    }

    /// Records a successful sign-in inside `tx`: clears the failure count and, when the
    /// stored hash used old parameters, replaces it.
    pub async fn record_sign_in(
        &self,
        tx: &mut Tx,
        id: &UserId,
        rehashed: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(RECORD_SUCCESS)
                .bind(id.as_str())
                .bind(millis(now))
                .bind(rehashed)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Records a right password that still needs a second factor, inside `tx`.
    pub async fn record_password_verified(
        &self,
        tx: &mut Tx,
        id: &UserId,
        rehashed: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(RECORD_PASSWORD)
                .bind(id.as_str())
                .bind(rehashed)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Moves an account to a new email address inside `tx`; an address another account
    /// already uses is refused with [`StoreError::Conflict`].
    pub async fn set_user_email(
        &self,
        tx: &mut Tx,
        id: &UserId,
        email: &Email,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changed = on_tx!(tx, |conn| {
            sqlx::query(SET_EMAIL)
                .bind(id.as_str())
                .bind(email.as_str())
                .bind(email.normalised())
                .bind(millis(now))
                .execute(conn)
                .await
                .map_err(StoreError::conflict_as(
                    "An account with that email address",
                ))?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Changes an account's name inside `tx`.
    pub async fn set_user_name(
        &self,
        tx: &mut Tx,
        id: &UserId,
        given_name: &str,
        family_name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changed = on_tx!(tx, |conn| {
            sqlx::query(SET_NAME)
                .bind(id.as_str())
                .bind(given_name)
                .bind(family_name)
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

    /// Accounts in email order, a page at a time.
    pub async fn list_users(&self, limit: i64, offset: i64) -> Result<Vec<UserRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, UserRow>(LIST)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?
        }))
    }
}
