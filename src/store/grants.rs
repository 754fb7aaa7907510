//! Grants and everything issued from them: authorization codes, refresh tokens, revoked
//! access tokens, and the revocation that follows a session's end.
//!
//! Single-use values are consumed with one `UPDATE … WHERE used IS NULL RETURNING`, so among
//! parallel attempts exactly one wins (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14).

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

/// One authorization of a service by a person. Times are Unix milliseconds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_hash: String,
    pub sid: String,
    /// JSON array.
    pub scopes: String,
    pub offline: bool,
    pub auth_time: i64,
    /// JSON array (RFC 8176).
    pub amr: String,
    pub acr: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// With the `organisation` scope: the organisation the grant was made for.
    pub organisation_id: Option<String>,
}

/// A code as it was when its one redemption consumed it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// The result of presenting a single-use value.
#[derive(Debug)]
pub enum Redemption<T> {
    /// This attempt consumed it.
    Won(T),
    /// It was consumed before: a replay. Carries the grant to revoke.
    Replayed(String),
    Unknown,
}

macro_rules! grant_columns {
    () => {
        "id, client_id, user_id, session_hash, sid, scopes, offline, auth_time, amr, acr, \
         created_at, expires_at, revoked_at, organisation_id"
    };
}

const INSERT_GRANT: &str = concat!(
    "INSERT INTO grants (",
    grant_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13)"
);
const GRANT: &str = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
const REVOKE_GRANT: &str = "UPDATE grants SET revoked_at = $2, revoked_reason = $3 \
     WHERE id = $1 AND revoked_at IS NULL";
const REVOKE_USER_CLIENT: &str = "UPDATE grants SET revoked_at = $3, revoked_reason = $4 \
     WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL";

const SESSION_ALIVE: &str = "SELECT COUNT(*) FROM sessions WHERE id_hash = $1 AND expires_at > $2";
const INSERT_CODE: &str = "INSERT INTO authorization_codes (code_hash, grant_id, client_id, \
     redirect_uri, code_challenge, nonce, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const CONSUME_CODE: &str = "UPDATE authorization_codes SET consumed_at = $3 \
     WHERE code_hash = $1 AND client_id = $2 AND consumed_at IS NULL \
     RETURNING grant_id, redirect_uri, code_challenge, nonce, expires_at";
const CODE_GRANT: &str =
    "SELECT grant_id FROM authorization_codes WHERE code_hash = $1 AND client_id = $2";
const DELETE_OLD_CODES: &str = "DELETE FROM authorization_codes WHERE expires_at <= $1";

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, \
     expires_at) VALUES ($1, $2, $3, $4)";
const USE_REFRESH: &str = "UPDATE refresh_tokens SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL \
     AND grant_id IN (SELECT id FROM grants WHERE client_id = $3) RETURNING grant_id";
const REFRESH_GRANT: &str = "SELECT r.grant_id FROM refresh_tokens r \
     JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = $1 AND g.client_id = $2";
const REFRESH_STATE: &str = "SELECT r.grant_id, r.used_at FROM refresh_tokens r \
     JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = $1 AND g.client_id = $2";
const LIVE_REFRESH: &str = "SELECT r.grant_id FROM refresh_tokens r \
     JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = $1 AND g.client_id = $2 \
     AND r.used_at IS NULL AND r.expires_at > $3";
const DELETE_OLD_REFRESH: &str = "DELETE FROM refresh_tokens WHERE expires_at <= $1";

const USE_ASSERTION: &str = "INSERT INTO used_client_assertions (client_id, jti, expires_at) \
     VALUES ($1, $2, $3) ON CONFLICT (client_id, jti) DO NOTHING";
const DELETE_OLD_ASSERTIONS: &str = "DELETE FROM used_client_assertions WHERE expires_at <= $1";
const REVOKE_JTI: &str = "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
     ON CONFLICT (jti) DO NOTHING";
const JTI_REVOKED: &str = "SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = $1";
const DELETE_OLD_JTIS: &str = "DELETE FROM revoked_access_tokens WHERE expires_at <= $1";

/// Queues a back-channel logout notice for every live grant of the selected sessions whose
/// service listens for them (one per service and session).
macro_rules! notify_sessions {
    ($sessions:literal) => {
        concat!(
            "INSERT INTO logout_notices (id, client_id, user_id, sid, created_at, \
             next_attempt_at) SELECT g.client_id || ' ' || g.sid, g.client_id, g.user_id, g.sid, \
             CAST($1 AS BIGINT), CAST($1 AS BIGINT) FROM grants g JOIN clients c ON c.id = g.client_id \
             WHERE g.revoked_at IS NULL AND c.backchannel_logout_uri IS NOT NULL \
             AND g.session_hash IN (",
            $sessions,
            ") ON CONFLICT DO NOTHING"
        )
    };
}
/// Revokes the session-bound (not offline) grants of the selected sessions.
macro_rules! revoke_sessions {
    ($sessions:literal) => {
        concat!(
            "UPDATE grants SET revoked_at = $1, revoked_reason = 'session_ended' \
             WHERE revoked_at IS NULL AND offline = FALSE AND session_hash IN (",
            $sessions,
            ")"
        )
    };
}
const ONE_SESSION: [&str; 2] = [notify_sessions!("$2"), revoke_sessions!("$2")];
const OTHER_SESSIONS: [&str; 2] = [
    notify_sessions!("SELECT id_hash FROM sessions WHERE user_id = $2 AND id_hash <> $3"),
    revoke_sessions!("SELECT id_hash FROM sessions WHERE user_id = $2 AND id_hash <> $3"),
];
const EXPIRED_SESSIONS: [&str; 2] = [
    notify_sessions!("SELECT id_hash FROM sessions WHERE expires_at <= $2 OR last_seen_at <= $3"),
    revoke_sessions!("SELECT id_hash FROM sessions WHERE expires_at <= $2 OR last_seen_at <= $3"),
];
/// Every session of a person ends and every grant goes, offline ones too (deactivation,
/// locking, password reset).
const USER_GRANTS: [&str; 2] = [
    notify_sessions!("SELECT session_hash FROM grants WHERE user_id = $2"),
    "UPDATE grants SET revoked_at = $1, revoked_reason = 'account_changed' \
     WHERE revoked_at IS NULL AND user_id = $2",
];

/// Which sessions are ending.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending<'a> {
    One(&'a str),
    OthersOf(&'a str, &'a str),
    AllOf(&'a str),
}

impl Store {
    pub async fn insert_grant(&self, tx: &mut Tx, g: &GrantRow) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(INSERT_GRANT)
                .bind(&g.id)
                .bind(&g.client_id)
                .bind(&g.user_id)
                .bind(&g.session_hash)
                .bind(&g.sid)
                .bind(&g.scopes)
                .bind(g.offline)
                .bind(g.auth_time)
                .bind(&g.amr)
                .bind(&g.acr)
                .bind(g.created_at)
                .bind(g.expires_at)
                .bind(&g.organisation_id)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    pub async fn grant(&self, id: &str) -> Result<Option<GrantRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, GrantRow>(GRANT)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A grant read inside `tx` (never take a second connection while holding a
    /// transaction: under load the pool runs dry and both wait).
    pub async fn grant_in(&self, tx: &mut Tx, id: &str) -> Result<Option<GrantRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, GrantRow>(GRANT)
                .bind(id)
                .fetch_optional(conn)
                .await?
        }))
    }

    /// Whether the browser session a grant came from still exists and has not reached its
    /// absolute expiry (the sweeper removes idle ones).
    pub async fn session_alive_in(
        &self,
        tx: &mut Tx,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, i64>(SESSION_ALIVE)
                .bind(session_hash)
                .bind(millis(now))
                .fetch_one(conn)
                .await?
        });
        Ok(n > 0)
    }

    /// [`Store::session_alive_in`], on the shared pool.
    pub async fn session_alive(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(SESSION_ALIVE)
                .bind(session_hash)
                .bind(millis(now))
                .fetch_one(pool)
                .await?
        });
        Ok(n > 0)
    }

    /// Revokes a grant and so every token issued from it; `false` if it already was.
    pub async fn revoke_grant(
        &self,
        tx: &mut Tx,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_tx!(tx, |conn| {
            sqlx::query(REVOKE_GRANT)
                .bind(id)
                .bind(millis(now))
                .bind(reason)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Revokes every grant a person gave a service (consent withdrawn).
    pub async fn revoke_user_client_grants(
        &self,
        tx: &mut Tx,
        user_id: &str,
        client_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(REVOKE_USER_CLIENT)
                .bind(user_id)
                .bind(client_id)
                .bind(millis(now))
                .bind(reason)
                .execute(conn)
                .await?
                .rows_affected()
        }))
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_code(
        &self,
        tx: &mut Tx,
        code_hash: &str,
        grant_id: &str,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        nonce: Option<&str>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(DELETE_OLD_CODES)
                .bind(millis(now))
                .execute(&mut *conn)
                .await?;
            sqlx::query(INSERT_CODE)
                .bind(code_hash)
                .bind(grant_id)
                .bind(client_id)
                .bind(redirect_uri)
                .bind(code_challenge)
                .bind(nonce)
                .bind(millis(now))
                .bind(millis(expires_at))
                .execute(&mut *conn)
                .await?;
        });
        Ok(())
    }

    /// Consumes a code issued to `client_id`. Expiry is checked by the caller, after the
    /// code is consumed, so an expired code is still burnt.
    pub async fn consume_code(
        &self,
        tx: &mut Tx,
        code_hash: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Redemption<CodeRow>, StoreError> {
        on_tx!(tx, |conn| {
            let won = sqlx::query_as::<_, CodeRow>(CONSUME_CODE)
                .bind(code_hash)
                .bind(client_id)
                .bind(millis(now))
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = won {
                return Ok(Redemption::Won(row));
            }
            let earlier = sqlx::query_scalar::<_, String>(CODE_GRANT)
                .bind(code_hash)
                .bind(client_id)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(earlier.map_or(Redemption::Unknown, Redemption::Replayed))
        })
    }

    pub async fn insert_refresh_token(
        &self,
        tx: &mut Tx,
        token_hash: &str,
        grant_id: &str,
        now: DateTime<Utc>,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(DELETE_OLD_REFRESH)
                .bind(millis(now))
                .execute(&mut *conn)
                .await?;
            sqlx::query(INSERT_REFRESH)
                .bind(token_hash)
                .bind(grant_id)
                .bind(millis(now))
                .bind(expires_at)
                .execute(&mut *conn)
                .await?;
        });
        Ok(())
    }

    /// Consumes a refresh token for rotation; a second use is reported as a replay.
    pub async fn use_refresh_token(
        &self,
        tx: &mut Tx,
        token_hash: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Redemption<String>, StoreError> {
        on_tx!(tx, |conn| {
            let won = sqlx::query_scalar::<_, String>(USE_REFRESH)
                .bind(token_hash)
                .bind(millis(now))
                .bind(client_id)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(grant) = won {
                return Ok(Redemption::Won(grant));
            }
            let earlier = sqlx::query_scalar::<_, String>(REFRESH_GRANT)
                .bind(token_hash)
                .bind(client_id)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(earlier.map_or(Redemption::Unknown, Redemption::Replayed))
        })
    }

    /// The grant a refresh token of `client_id` belongs to, and whether it was used, without
    /// using it.
    pub async fn refresh_token_state(
        &self,
        token_hash: &str,
        client_id: &str,
    ) -> Result<Option<(String, bool)>, StoreError> {
        let row: Option<(String, Option<i64>)> = on_pool!(self, read, |pool| {
            sqlx::query_as(REFRESH_STATE)
                .bind(token_hash)
                .bind(client_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(grant, used_at)| (grant, used_at.is_some())))
    }

    /// The grant a refresh token belongs to, without using it (for revocation).
    pub async fn refresh_token_grant(
        &self,
        token_hash: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(REFRESH_GRANT)
                .bind(token_hash)
                .bind(client_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The grant of an unused, unexpired refresh token of `client_id`.
    pub async fn live_refresh_token_grant(
        &self,
        token_hash: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(LIVE_REFRESH)
                .bind(token_hash)
                .bind(client_id)
                .bind(millis(now))
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn revoke_access_token(
        &self,
        jti: &str,
        expires_at: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(DELETE_OLD_JTIS)
                .bind(millis(now))
                .execute(pool)
                .await?;
            sqlx::query(REVOKE_JTI)
                .bind(jti)
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records a client assertion's `jti`; `false` if it was used before (a replay).
    pub async fn use_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(self, write, |pool| {
            sqlx::query(DELETE_OLD_ASSERTIONS)
                .bind(millis(now))
                .execute(pool)
                .await?;
            sqlx::query(USE_ASSERTION)
                .bind(client_id)
                .bind(jti)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(JTI_REVOKED)
                .bind(jti)
                .fetch_one(pool)
                .await?
        });
        Ok(n > 0)
    }

    /// Before sessions are deleted: queue back-channel logout notices for their services
    /// and revoke the grants bound to them.
    pub(crate) async fn end_session_grants(
        &self,
        conn: &mut Tx,
        ending: Ending<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (sql, a, b): ([&'static str; 2], &str, Option<&str>) = match ending {
            Ending::One(id) => (ONE_SESSION, id, None),
            Ending::OthersOf(user, keep) => (OTHER_SESSIONS, user, Some(keep)),
            Ending::AllOf(user) => (USER_GRANTS, user, None),
        };
        for statement in sql {
            on_tx!(conn, |c| {
                let mut q = sqlx::query(statement).bind(millis(now)).bind(a);
                if let Some(b) = b {
                    q = q.bind(b);
                }
                q.execute(c).await?;
            });
        }
        Ok(())
    }

    /// The sweeper's version of [`Store::end_session_grants`] for expired sessions.
    pub(crate) async fn end_expired_session_grants(
        &self,
        now: DateTime<Utc>,
        idle_cutoff: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            for statement in EXPIRED_SESSIONS {
                sqlx::query(statement)
                    .bind(millis(now))
                    .bind(millis(now))
                    .bind(millis(idle_cutoff))
                    .execute(pool)
                    .await?;
            }
        });
        Ok(())
    }
}
