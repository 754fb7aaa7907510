//! Single-use links and codes sent by email (activation, password reset, email change):
//! stored as hashes, one per person and purpose, consumed by one atomic statement.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

/// A link or code as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountTokenRow {
    pub id: String,
    pub user_id: String,
    pub purpose: String,
    pub new_email: Option<String>,
    pub client_id: Option<String>,
    pub return_to: Option<String>,
    pub token_hash: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What it takes to issue one.
#[derive(Debug, Clone)]
pub struct NewAccountToken<'a> {
    pub user_id: &'a str,
    pub purpose: &'a str,
    pub token_hash: &'a str,
    pub new_email: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub return_to: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

macro_rules! token_columns {
    () => {
        "id, user_id, purpose, new_email, client_id, return_to, token_hash, attempts, created_at, \
         expires_at"
    };
}

const DELETE_FOR: &str = "DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2";
/// One statement, so parallel requests for one person cannot trip over each other: the
/// newest simply replaces the row, and with it every earlier link or code.
const UPSERT: &str = "INSERT INTO account_tokens (id, user_id, purpose, token_hash, new_email, \
     client_id, return_to, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (user_id, purpose) DO UPDATE SET id = excluded.id, \
     token_hash = excluded.token_hash, handle_hash = NULL, new_email = excluded.new_email, \
     client_id = excluded.client_id, return_to = excluded.return_to, attempts = 0, \
     created_at = excluded.created_at, expires_at = excluded.expires_at";
/// Swaps a link's token for a browser handle: the link works once, and the secret leaves
/// the address bar, history and any `Referer`.
const OPEN: &str = concat!(
    "UPDATE account_tokens SET token_hash = NULL, handle_hash = $2 \
     WHERE token_hash = $1 AND purpose = $3 AND expires_at > $4 RETURNING ",
    token_columns!()
);
const BY_HANDLE: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM account_tokens WHERE handle_hash = $1 AND purpose = $2 AND expires_at > $3"
);
/// The one statement that uses a link: whoever deletes the row has used it.
const CONSUME: &str = concat!(
    "DELETE FROM account_tokens WHERE handle_hash = $1 AND purpose = $2 AND expires_at > $3 \
     RETURNING ",
    token_columns!()
);
const FOR_USER: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM account_tokens WHERE user_id = $1 AND purpose = $2 AND expires_at > $3"
);
/// Counts one more code attempt, refusing once `$4` attempts have been made.
const ATTEMPT: &str = concat!(
    "UPDATE account_tokens SET attempts = attempts + 1 \
     WHERE user_id = $1 AND purpose = $2 AND expires_at > $3 AND attempts < $4 RETURNING ",
    token_columns!()
);
const DELETE_ONE: &str = "DELETE FROM account_tokens WHERE id = $1";
const DELETE_EXPIRED: &str = "DELETE FROM account_tokens WHERE expires_at <= $1";

impl Store {
    /// Issues a token inside `tx`, replacing any earlier one of the same purpose.
    pub async fn replace_account_token(
        &self,
        tx: &mut Tx,
        token: &NewAccountToken<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        on_tx!(tx, |conn| {
            sqlx::query(UPSERT)
                .bind(&id)
                .bind(token.user_id)
                .bind(token.purpose)
                .bind(token.token_hash)
                .bind(token.new_email)
                .bind(token.client_id)
                .bind(token.return_to)
                .bind(millis(now))
                .bind(millis(token.expires_at))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Removes a person's token of `purpose` inside `tx` (superseded, cancelled or used).
    pub async fn delete_account_token(
        &self,
        tx: &mut Tx,
        user_id: &str,
        purpose: &str,
    ) -> Result<u64, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DELETE_FOR)
                .bind(user_id)
                .bind(purpose)
                .execute(conn)
                .await?
                .rows_affected()
        }))
    }

    /// Opens a link: binds it to `handle_hash` and forgets the emailed token. `None` when the
    /// link is unknown, used, superseded, expired or already opened.
    pub async fn open_account_token(
        &self,
        token_hash: &str,
        handle_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountTokenRow>, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query_as::<_, AccountTokenRow>(OPEN)
                .bind(token_hash)
                .bind(handle_hash)
                .bind(purpose)
                .bind(millis(now))
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The live token a browser handle points at, without using it.
    pub async fn account_token_by_handle(
        &self,
        handle_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountTokenRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccountTokenRow>(BY_HANDLE)
                .bind(handle_hash)
                .bind(purpose)
                .bind(millis(now))
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Uses the token behind a browser handle inside `tx`; of parallel attempts, one gets it.
    pub async fn consume_account_token(
        &self,
        tx: &mut Tx,
        handle_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountTokenRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, AccountTokenRow>(CONSUME)
                .bind(handle_hash)
                .bind(purpose)
                .bind(millis(now))
                .fetch_optional(conn)
                .await?
        }))
    }

    /// A person's live token of `purpose`, if any.
    pub async fn account_token_for(
        &self,
        user_id: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountTokenRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccountTokenRow>(FOR_USER)
                .bind(user_id)
                .bind(purpose)
                .bind(millis(now))
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Counts an attempt at a code inside `tx`; `None` when there is no live code or its
    /// `max_attempts` are used up.
    pub async fn attempt_account_token(
        &self,
        tx: &mut Tx,
        user_id: &str,
        purpose: &str,
        max_attempts: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountTokenRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, AccountTokenRow>(ATTEMPT)
                .bind(user_id)
                .bind(purpose)
                .bind(millis(now))
                .bind(max_attempts)
                .fetch_optional(conn)
                .await?
        }))
    }

    pub async fn delete_account_token_id(&self, tx: &mut Tx, id: &str) -> Result<u64, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DELETE_ONE)
                .bind(id)
                .execute(conn)
                .await?
                .rows_affected()
        }))
    }

    /// Removes expired links and codes (the sweeper).
    pub async fn delete_expired_account_tokens(
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
