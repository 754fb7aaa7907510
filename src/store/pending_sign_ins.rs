//! Sign-ins waiting for a second factor. They live apart from sessions on purpose: nothing
//! that looks for a session can ever find one of these.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingRow {
    pub id_hash: String,
    pub user_id: String,
    pub session_hash: Option<String>,
    pub amr: String,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

macro_rules! pending_columns {
    () => {
        "id_hash, user_id, session_hash, amr, attempts, created_at, expires_at"
    };
}

const INSERT: &str = "INSERT INTO pending_sign_ins (id_hash, user_id, session_hash, amr, \
     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
const LIVE: &str = concat!(
    "SELECT ",
    pending_columns!(),
    " FROM pending_sign_ins WHERE id_hash = $1 AND expires_at > $2"
);
/// Counts an attempt, refusing once `$3` have been made.
const ATTEMPT: &str = "UPDATE pending_sign_ins SET attempts = attempts + 1 \
     WHERE id_hash = $1 AND expires_at > $2 AND attempts < $3";
/// Whoever deletes the row completes the sign-in.
const TAKE: &str = concat!(
    "DELETE FROM pending_sign_ins WHERE id_hash = $1 AND expires_at > $2 RETURNING ",
    pending_columns!()
);
const DELETE: &str = "DELETE FROM pending_sign_ins WHERE id_hash = $1";
const DELETE_EXPIRED: &str = "DELETE FROM pending_sign_ins WHERE expires_at <= $1";

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_pending_sign_in(
        &self,
        tx: &mut Tx,
        id_hash: &str,
        user_id: &str,
        session_hash: Option<&str>,
        amr: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(id_hash)
                .bind(user_id)
                .bind(session_hash)
                .bind(amr)
                .bind(millis(now))
                .bind(millis(expires_at))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    pub async fn pending_sign_in(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, PendingRow>(LIVE)
                .bind(id_hash)
                .bind(millis(now))
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Counts one more attempt; false once `limit` attempts were made (or it has gone).
    pub async fn pending_attempt(
        &self,
        id_hash: &str,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(ATTEMPT)
                .bind(id_hash)
                .bind(millis(now))
                .bind(limit)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn take_pending_sign_in(
        &self,
        tx: &mut Tx,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, PendingRow>(TAKE)
                .bind(id_hash)
                .bind(millis(now))
                .fetch_optional(conn)
                .await?
        }))
    }

    pub async fn delete_pending_sign_in(&self, id_hash: &str) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(DELETE).bind(id_hash).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn delete_expired_pending_sign_ins(
        &self,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(DELETE_EXPIRED)
                .bind(millis(now))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
