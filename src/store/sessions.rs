//! Browser sessions, stored by the SHA-256 of their cookie value, and the per-IP token
//! buckets that throttle sign-in attempts across every node.

use chrono::{DateTime, Utc};

use super::grants::Ending;
use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};
use crate::domain::UserId;

/// A session as stored. Times are Unix milliseconds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub auth_time: i64,
    /// JSON array of authentication methods (RFC 8176), e.g. `["pwd"]`.
    pub amr: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What it takes to start a session.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user_id: &'a UserId,
    pub expires_at: DateTime<Utc>,
    pub amr: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

macro_rules! session_columns {
    () => {
        "id_hash, user_id, created_at, last_seen_at, expires_at, auth_time, amr, ip, user_agent"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO sessions (",
    session_columns!(),
    ") VALUES ($1, $2, $3, $3, $4, $3, $5, $6, $7)"
);
/// A live session: not past its absolute expiry and seen within the idle limit.
const LIVE: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $3"
);
/// Only written when the stored time is older than `$3`, to spare a write per request.
const TOUCH: &str =
    "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $3";
const FOR_USER: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE user_id = $1 AND expires_at > $2 AND last_seen_at > $3 \
     ORDER BY last_seen_at DESC"
);
const DELETE: &str = "DELETE FROM sessions WHERE id_hash = $1";
/// A session proved again (second factor, step-up): a new id, what was proved, and when.
const RENEW: &str = "UPDATE sessions SET id_hash = $2, amr = $3, auth_time = $4, \
     last_seen_at = $4 WHERE id_hash = $1";
/// Tokens already issued stay tied to the session under its new id (their `sid` is kept).
const MOVE_GRANTS: &str = "UPDATE grants SET session_hash = $2 WHERE session_hash = $1";
const REAUTHENTICATED: &str = "UPDATE sessions SET auth_time = $2 WHERE id_hash = $1";
const DELETE_OTHERS: &str = "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2";
const DELETE_ALL: &str = "DELETE FROM sessions WHERE user_id = $1";
const DELETE_EXPIRED: &str = "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2";

/// Refill the bucket for the time passed (capped at `$4`), then take one token; the debt may
/// not fall below `-$4`, so a flood's wait stays bounded. Portable: no MIN/LEAST.
const TAKE_TOKEN: &str = "INSERT INTO ip_buckets (ip, tokens, updated_at) \
     VALUES ($1, CAST($4 AS DOUBLE PRECISION) - 1, $2) \
     ON CONFLICT (ip) DO UPDATE SET \
     tokens = CASE \
         WHEN ip_buckets.tokens + ($2 - ip_buckets.updated_at) * CAST($3 AS DOUBLE PRECISION) \
             >= CAST($4 AS DOUBLE PRECISION) \
             THEN CAST($4 AS DOUBLE PRECISION) - 1 \
         WHEN ip_buckets.tokens + ($2 - ip_buckets.updated_at) * CAST($3 AS DOUBLE PRECISION) - 1 \
             < 0 - CAST($4 AS DOUBLE PRECISION) \
             THEN 0 - CAST($4 AS DOUBLE PRECISION) \
         ELSE ip_buckets.tokens + ($2 - ip_buckets.updated_at) * CAST($3 AS DOUBLE PRECISION) - 1 \
         END, \
     updated_at = $2 \
     RETURNING tokens";
const DELETE_FULL_BUCKETS: &str = "DELETE FROM ip_buckets WHERE updated_at < $1";

impl Store {
    pub async fn insert_session(
        &self,
        tx: &mut Tx,
        session: &NewSession<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(session.id_hash)
                .bind(session.user_id.as_str())
                .bind(millis(now))
                .bind(millis(session.expires_at))
                .bind(session.amr)
                .bind(session.ip)
                .bind(session.user_agent)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// The session with this hash, if it is still live at `now` given the idle `cutoff`.
    pub async fn live_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle_cutoff: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, SessionRow>(LIVE)
                .bind(id_hash)
                .bind(millis(now))
                .bind(millis(idle_cutoff))
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Marks the session as seen now, unless it was marked since `unless_after`.
    pub async fn touch_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        unless_after: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(TOUCH)
                .bind(id_hash)
                .bind(millis(now))
                .bind(millis(unless_after))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A person's live sessions, most recently active first.
    pub async fn sessions_for_user(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        idle_cutoff: DateTime<Utc>,
    ) -> Result<Vec<SessionRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, SessionRow>(FOR_USER)
                .bind(user.as_str())
                .bind(millis(now))
                .bind(millis(idle_cutoff))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Gives a session a new id after a further authentication step; false if it has gone.
    pub async fn renew_session(
        &self,
        tx: &mut Tx,
        old_hash: &str,
        new_hash: &str,
        amr: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            let renewed = sqlx::query(RENEW)
                .bind(old_hash)
                .bind(new_hash)
                .bind(amr)
                .bind(millis(now))
                .execute(&mut *conn)
                .await?
                .rows_affected()
                > 0;
            sqlx::query(MOVE_GRANTS)
                .bind(old_hash)
                .bind(new_hash)
                .execute(conn)
                .await?;
            renewed
        }))
    }

    /// Records that the person just proved who they are again (their password, before a
    /// change of sign-in methods).
    pub async fn session_reauthenticated(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(REAUTHENTICATED)
                .bind(id_hash)
                .bind(millis(now))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends one session; returns whether it existed.
    pub async fn delete_session(
        &self,
        tx: &mut Tx,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.end_session_grants(tx, Ending::One(id_hash), now)
            .await?;
        let n = on_tx!(tx, |conn| {
            sqlx::query(DELETE)
                .bind(id_hash)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Ends every session of `user` except `keep`; returns how many ended.
    pub async fn delete_other_sessions(
        &self,
        tx: &mut Tx,
        user: &UserId,
        keep: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.end_session_grants(tx, Ending::OthersOf(user.as_str(), keep), now)
            .await?;
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DELETE_OTHERS)
                .bind(user.as_str())
                .bind(keep)
                .execute(conn)
                .await?
                .rows_affected()
        }))
    }

    /// Ends every session of `user`; returns how many ended.
    pub async fn delete_user_sessions(
        &self,
        tx: &mut Tx,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.end_session_grants(tx, Ending::AllOf(user.as_str()), now)
            .await?;
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DELETE_ALL)
                .bind(user.as_str())
                .execute(conn)
                .await?
                .rows_affected()
        }))
    }

    /// Removes sessions past their absolute expiry or idle limit, and buckets untouched since
    /// `bucket_cutoff` (by then they are full again, the same as absent).
    pub async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle_cutoff: DateTime<Utc>,
        bucket_cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.end_expired_session_grants(now, idle_cutoff).await?;
        Ok(on_pool!(self, write, |pool| {
            let sessions = sqlx::query(DELETE_EXPIRED)
                .bind(millis(now))
                .bind(millis(idle_cutoff))
                .execute(pool)
                .await?
                .rows_affected();
            sqlx::query(DELETE_FULL_BUCKETS)
                .bind(millis(bucket_cutoff))
                .execute(pool)
                .await?;
            sessions
        }))
    }

    /// Takes one token from `ip`'s bucket (capacity `burst`, refilled at `per_milli` tokens a
    /// millisecond) and returns the tokens left: negative means the attempt must wait.
    pub async fn take_ip_token(
        &self,
        ip: &str,
        burst: f64,
        per_milli: f64,
        now: DateTime<Utc>,
    ) -> Result<f64, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query_scalar::<_, f64>(TAKE_TOKEN)
                .bind(ip)
                .bind(millis(now))
                .bind(per_milli)
                .bind(burst)
                .fetch_one(pool)
                .await?
        }))
    }
}
