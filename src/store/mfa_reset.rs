//! Removing every second factor at once (the helpdesk's reset, after checking who asked),
//! and the flag that makes the person set one up again at their next sign-in.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

const DELETE_TOTP: &str = "DELETE FROM totp_factors WHERE user_id = $1";
const DELETE_KEYS: &str = "DELETE FROM webauthn_credentials WHERE user_id = $1";
const DELETE_CODES: &str = "DELETE FROM recovery_codes WHERE user_id = $1";
const DELETE_CHALLENGES: &str = "DELETE FROM webauthn_challenges WHERE user_id = $1";
const REQUIRE: &str = "INSERT INTO mfa_setup_required (user_id, since) VALUES ($1, $2) \
     ON CONFLICT (user_id) DO UPDATE SET since = excluded.since";
const CLEAR: &str = "DELETE FROM mfa_setup_required WHERE user_id = $1";
const REQUIRED: &str = "SELECT COUNT(*) FROM mfa_setup_required WHERE user_id = $1";

impl Store {
    /// Deletes every authenticator app, security key, passkey, recovery code and pending
    /// WebAuthn challenge of `user_id` inside `tx`; returns how many factors went.
    pub async fn delete_all_second_factors(
        &self,
        tx: &mut Tx,
        user_id: &str,
    ) -> Result<u64, StoreError> {
        Ok(on_tx!(tx, |conn| {
            let apps = sqlx::query(DELETE_TOTP)
                .bind(user_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            let keys = sqlx::query(DELETE_KEYS)
                .bind(user_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            for sql in [DELETE_CODES, DELETE_CHALLENGES] {
                sqlx::query(sql).bind(user_id).execute(&mut *conn).await?;
            }
            apps + keys
        }))
    }

    /// Makes `user_id` set up a second factor at their next sign-in.
    pub async fn require_mfa_setup(
        &self,
        tx: &mut Tx,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(REQUIRE)
                .bind(user_id)
                .bind(millis(now))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// `user_id` has a second factor again.
    pub async fn clear_mfa_setup_required(
        &self,
        tx: &mut Tx,
        user_id: &str,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(CLEAR).bind(user_id).execute(conn).await?;
        });
        Ok(())
    }

    /// Whether the helpdesk reset `user_id`'s factors and none has been set up since.
    pub async fn mfa_setup_required(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(REQUIRED)
                .bind(user_id)
                .fetch_one(pool)
                .await?
        }) > 0)
    }
}
