//! Security keys and passkeys as stored (public keys only), and the server-side state of
//! WebAuthn ceremonies: single use, short-lived, one per person and purpose.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    /// `security_key` or `passkey`.
    pub kind: String,
    pub name: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub counter_regressed_at: Option<i64>,
}

/// What it takes to register one.
#[derive(Debug, Clone)]
pub struct NewCredential<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub credential_id: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
}

macro_rules! credential_columns {
    () => {
        "id, user_id, credential_id, kind, name, credential, created_at, last_used_at, \
         counter_regressed_at"
    };
}

const INSERT: &str = "INSERT INTO webauthn_credentials (id, user_id, credential_id, kind, name, \
     credential, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (credential_id) DO NOTHING";
const FOR_USER: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at"
);
const BY_CREDENTIAL_ID: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM webauthn_credentials WHERE credential_id = $1"
);
const DELETE: &str =
    "DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2 RETURNING name";
const USED: &str =
    "UPDATE webauthn_credentials SET credential = $2, last_used_at = $3 WHERE id = $1";
const REGRESSED: &str = "UPDATE webauthn_credentials SET counter_regressed_at = $2 WHERE id = $1";

const DELETE_PREVIOUS: &str = "DELETE FROM webauthn_challenges WHERE user_id = $1 AND purpose = $2";
const INSERT_CHALLENGE: &str = "INSERT INTO webauthn_challenges (id_hash, user_id, purpose, \
     state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
/// The one statement that uses a challenge: whoever deletes the row may finish the ceremony.
const TAKE_CHALLENGE: &str = "DELETE FROM webauthn_challenges WHERE id_hash = $1 \
     AND purpose = $2 AND expires_at > $3 RETURNING user_id, state";
const DELETE_EXPIRED: &str = "DELETE FROM webauthn_challenges WHERE expires_at <= $1";
const COUNT_LIVE: &str = "SELECT COUNT(*) FROM webauthn_challenges WHERE expires_at > $1";

impl Store {
    /// Registers a credential; false if its id already belongs to anyone.
    pub async fn insert_credential(
        &self,
        tx: &mut Tx,
        new: &NewCredential<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(new.id)
                .bind(new.user_id)
                .bind(new.credential_id)
                .bind(new.kind)
                .bind(new.name)
                .bind(new.credential)
                .bind(millis(now))
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn credentials(&self, user_id: &str) -> Result<Vec<CredentialRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, CredentialRow>(FOR_USER)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn credentials_in(
        &self,
        tx: &mut Tx,
        user_id: &str,
    ) -> Result<Vec<CredentialRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, CredentialRow>(FOR_USER)
                .bind(user_id)
                .fetch_all(conn)
                .await?
        }))
    }

    pub async fn credential_by_id(
        &self,
        credential_id: &str,
    ) -> Result<Option<CredentialRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, CredentialRow>(BY_CREDENTIAL_ID)
                .bind(credential_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Removes one of this person's credentials; returns its name if it existed.
    pub async fn delete_credential(
        &self,
        tx: &mut Tx,
        id: &str,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, String>(DELETE)
                .bind(id)
                .bind(user_id)
                .fetch_optional(conn)
                .await?
        }))
    }

    /// Stores the credential's new counter and flags after a successful assertion.
    pub async fn credential_used(
        &self,
        tx: &mut Tx,
        id: &str,
        credential: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(USED)
                .bind(id)
                .bind(credential)
                .bind(millis(now))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    pub async fn credential_counter_regressed(
        &self,
        tx: &mut Tx,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(REGRESSED)
                .bind(id)
                .bind(millis(now))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Saves ceremony state under `id_hash`. With a person, their earlier challenge for the
    /// same purpose is dropped, so each person holds at most one per purpose.
    pub async fn insert_challenge(
        &self,
        id_hash: &str,
        user_id: Option<&str>,
        purpose: &str,
        state: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            if let Some(user_id) = user_id {
                sqlx::query(DELETE_PREVIOUS)
                    .bind(user_id)
                    .bind(purpose)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(INSERT_CHALLENGE)
                .bind(id_hash)
                .bind(user_id)
                .bind(purpose)
                .bind(state)
                .bind(millis(now))
                .bind(millis(expires_at))
                .execute(conn)
                .await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// Takes a live challenge: (its person, its state). Only one taker ever gets it.
    pub async fn take_challenge(
        &self,
        id_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Option<String>, String)>, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query_as::<_, (Option<String>, String)>(TAKE_CHALLENGE)
                .bind(id_hash)
                .bind(purpose)
                .bind(millis(now))
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn delete_expired_challenges(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(DELETE_EXPIRED)
                .bind(millis(now))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Live challenges, for the gauge that shows pre-authentication state stays bounded.
    pub async fn live_challenges(&self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(COUNT_LIVE)
                .bind(millis(now))
                .fetch_one(pool)
                .await?
        }))
    }
}
