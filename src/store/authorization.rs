//! Pending /authorize requests and remembered consents.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

const INSERT_REQUEST: &str = "INSERT INTO authorization_requests \
     (id_hash, client_id, request, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
const REQUEST: &str = "SELECT request, created_at FROM authorization_requests \
     WHERE id_hash = $1 AND expires_at > $2";
/// Consumes a pending request: whoever deletes it first is the only one to go on.
const TAKE_REQUEST: &str =
    "DELETE FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2";
/// Records a choice made while the request waits (the organisation to act for).
const UPDATE_REQUEST: &str = "UPDATE authorization_requests SET request = $2 \
     WHERE id_hash = $1 AND expires_at > $3";
const DELETE_EXPIRED_REQUESTS: &str = "DELETE FROM authorization_requests WHERE expires_at <= $1";

const CONSENT: &str = "SELECT scopes FROM consents WHERE user_id = $1 AND client_id = $2";
const UPSERT_CONSENT: &str = "INSERT INTO consents (user_id, client_id, scopes, granted_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) \
     DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at";
const DELETE_CONSENT: &str = "DELETE FROM consents WHERE user_id = $1 AND client_id = $2";
const CONSENTS_OF: &str = "SELECT c.client_id, k.name, c.scopes, c.granted_at \
     FROM consents c JOIN clients k ON k.id = c.client_id WHERE c.user_id = $1 ORDER BY k.name";

/// A consent as listed on the account page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub client_id: String,
    pub name: String,
    pub scopes: String,
    pub granted_at: i64,
}

impl Store {
    pub async fn insert_authorization_request(
        &self,
        id_hash: &str,
        client_id: &str,
        request: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(DELETE_EXPIRED_REQUESTS)
                .bind(millis(now))
                .execute(pool)
                .await?;
            sqlx::query(INSERT_REQUEST)
                .bind(id_hash)
                .bind(client_id)
                .bind(request)
                .bind(millis(now))
                .bind(millis(expires_at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// How many authorization requests are stored (live or not yet swept), to watch that a
    /// flood stays bounded.
    pub async fn count_authorization_requests(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM authorization_requests";
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(SQL).fetch_one(pool).await?
        }))
    }

    /// The stored request JSON and its creation time, if it is still pending.
    pub async fn authorization_request(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, i64)>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, (String, i64)>(REQUEST)
                .bind(id_hash)
                .bind(millis(now))
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Removes a pending request; `false` if someone else already did (or it expired).
    /// Rewrites a pending request's parameters; false if it has gone.
    pub async fn update_authorization_request(
        &self,
        id_hash: &str,
        request: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(UPDATE_REQUEST)
                .bind(id_hash)
                .bind(request)
                .bind(millis(now))
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn take_authorization_request(
        &self,
        tx: &mut Tx,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_tx!(tx, |conn| {
            sqlx::query(TAKE_REQUEST)
                .bind(id_hash)
                .bind(millis(now))
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// The scopes a person has allowed a service, as a JSON array.
    pub async fn consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<crate::domain::Scopes>, StoreError> {
        let json = on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(CONSENT)
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(pool)
                .await?
        });
        json.as_deref().map(scopes_from_json).transpose()
    }

    /// [`Store::consent`] inside `tx`.
    pub async fn consent_in(
        &self,
        tx: &mut Tx,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<crate::domain::Scopes>, StoreError> {
        let json = on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, String>(CONSENT)
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(conn)
                .await?
        });
        json.as_deref().map(scopes_from_json).transpose()
    }

    pub async fn save_consent(
        &self,
        tx: &mut Tx,
        user_id: &str,
        client_id: &str,
        scopes: &crate::domain::Scopes,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(&scopes.to_vec())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_tx!(tx, |conn| {
            sqlx::query(UPSERT_CONSENT)
                .bind(user_id)
                .bind(client_id)
                .bind(json)
                .bind(millis(now))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_consent(
        &self,
        tx: &mut Tx,
        user_id: &str,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let n = on_tx!(tx, |conn| {
            sqlx::query(DELETE_CONSENT)
                .bind(user_id)
                .bind(client_id)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    pub async fn consents_of(&self, user_id: &str) -> Result<Vec<ConsentRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, ConsentRow>(CONSENTS_OF)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }
}

/// A stored JSON list of scopes.
fn scopes_from_json(json: &str) -> Result<crate::domain::Scopes, StoreError> {
    serde_json::from_str::<Vec<String>>(json)
        .map(crate::domain::Scopes::from_stored)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}
