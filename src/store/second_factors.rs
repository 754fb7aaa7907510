//! Authenticator apps and recovery codes as stored: sealed TOTP secrets, the one-step-once
//! rule for codes, and hashed single-use recovery codes.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

/// An authenticator app as stored. The secret stays sealed until the moment it is checked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub secret_sealed: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub failures: i64,
    pub last_failure_at: Option<i64>,
    pub disabled_at: Option<i64>,
}

macro_rules! totp_columns {
    () => {
        "id, user_id, name, secret_sealed, created_at, confirmed_at, last_used_at, failures, \
         last_failure_at, disabled_at"
    };
}

/// One unconfirmed set-up per person: starting again replaces the last one.
const DELETE_UNCONFIRMED: &str =
    "DELETE FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NULL";
const INSERT_TOTP: &str = "INSERT INTO totp_factors (id, user_id, name, secret_sealed, \
     created_at) VALUES ($1, $2, '', $3, $4)";
const TOTP_FOR_USER: &str = concat!(
    "SELECT ",
    totp_columns!(),
    " FROM totp_factors WHERE user_id = $1 ORDER BY created_at"
);
const CONFIRM_TOTP: &str = "UPDATE totp_factors SET confirmed_at = $3, name = $4, \
     last_used_at = $3 WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL";
const DELETE_TOTP: &str = "DELETE FROM totp_factors WHERE id = $1 AND user_id = $2 \
     AND confirmed_at IS NOT NULL RETURNING name";
/// Steps only move forward, so a code (or an older one) can never be used twice.
const USE_STEP: &str = "UPDATE users SET totp_last_step = $2 \
     WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)";
const TOTP_SUCCESS: &str = "UPDATE totp_factors SET failures = 0, last_used_at = $2 WHERE id = $1";
/// Counts a wrong code against every usable app of the person; disables those reaching `$3`.
const TOTP_FAILURE: &str = "UPDATE totp_factors SET failures = failures + 1, \
     last_failure_at = $2, \
     disabled_at = CASE WHEN failures + 1 >= $3 THEN $2 ELSE disabled_at END \
     WHERE user_id = $1 AND confirmed_at IS NOT NULL AND disabled_at IS NULL \
     RETURNING failures, disabled_at";
const DELETE_STALE_SETUPS: &str =
    "DELETE FROM totp_factors WHERE confirmed_at IS NULL AND created_at < $1";

const DELETE_CODES: &str = "DELETE FROM recovery_codes WHERE user_id = $1";
const INSERT_CODE: &str =
    "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)";
/// Whoever marks the code used has used it; a second use changes no row.
const USE_CODE: &str = "UPDATE recovery_codes SET used_at = $3 \
     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
const CODES_LEFT: &str =
    "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";

impl Store {
    /// Starts an authenticator-app set-up (replacing any unfinished one).
    pub async fn insert_unconfirmed_totp(
        &self,
        id: &str,
        user_id: &str,
        secret_sealed: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(DELETE_UNCONFIRMED)
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(INSERT_TOTP)
                .bind(id)
                .bind(user_id)
                .bind(secret_sealed)
                .bind(millis(now))
                .execute(conn)
                .await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// Every authenticator app of a person, confirmed or not, oldest first.
    pub async fn totp_factors(&self, user_id: &str) -> Result<Vec<TotpRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, TotpRow>(TOTP_FOR_USER)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The same, read inside `tx`.
    pub async fn totp_factors_in(
        &self,
        tx: &mut Tx,
        user_id: &str,
    ) -> Result<Vec<TotpRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, TotpRow>(TOTP_FOR_USER)
                .bind(user_id)
                .fetch_all(conn)
                .await?
        }))
    }

    /// Makes a set-up count; false if it was already confirmed or replaced.
    pub async fn confirm_totp(
        &self,
        tx: &mut Tx,
        id: &str,
        user_id: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(CONFIRM_TOTP)
                .bind(id)
                .bind(user_id)
                .bind(millis(now))
                .bind(name)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Removes a confirmed app of this person; returns its name if it existed.
    pub async fn delete_totp(
        &self,
        tx: &mut Tx,
        id: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, String>(DELETE_TOTP)
                .bind(id)
                .bind(user_id)
                .fetch_optional(conn)
                .await?
        }))
    }

    /// Claims a 30-second step for this person; false if it (or a later one) was used.
    pub async fn use_totp_step(
        &self,
        tx: &mut Tx,
        user_id: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(USE_STEP)
                .bind(user_id)
                .bind(step)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn totp_succeeded(
        &self,
        tx: &mut Tx,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(TOTP_SUCCESS)
                .bind(id)
                .bind(millis(now))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Counts a wrong code; returns (highest failure count, whether any app was disabled).
    pub async fn totp_failed(
        &self,
        tx: &mut Tx,
        user_id: &str,
        disable_at: i64,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), StoreError> {
        let rows: Vec<(i64, Option<i64>)> = on_tx!(tx, |conn| {
            sqlx::query_as(TOTP_FAILURE)
                .bind(user_id)
                .bind(millis(now))
                .bind(disable_at)
                .fetch_all(conn)
                .await?
        });
        let count = rows.iter().map(|r| r.0).max().unwrap_or(0);
        let disabled = rows.iter().any(|r| r.1 == Some(millis(now)));
        Ok((count, disabled))
    }

    /// Replaces every recovery code of a person with these hashes.
    pub async fn replace_recovery_codes(
        &self,
        tx: &mut Tx,
        user_id: &str,
        hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(DELETE_CODES)
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
            for hash in hashes {
                sqlx::query(INSERT_CODE)
                    .bind(user_id)
                    .bind(hash)
                    .bind(millis(now))
                    .execute(&mut *conn)
                    .await?;
            }
        });
        Ok(())
    }

    /// Uses a recovery code; true for exactly one of any number of parallel attempts.
    pub async fn use_recovery_code(
        &self,
        tx: &mut Tx,
        user_id: &str,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(USE_CODE)
                .bind(user_id)
                .bind(code_hash)
                .bind(millis(now))
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(CODES_LEFT)
                .bind(user_id)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn recovery_codes_left_in(
        &self,
        tx: &mut Tx,
        user_id: &str,
    ) -> Result<i64, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, i64>(CODES_LEFT)
                .bind(user_id)
                .fetch_one(conn)
                .await?
        }))
    }

    /// Forgets authenticator-app set-ups abandoned before `cutoff`.
    pub async fn delete_stale_totp_setups(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(DELETE_STALE_SETUPS)
                .bind(millis(cutoff))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
