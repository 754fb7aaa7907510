//! The reads behind the helpdesk's account page: one account's organisations, services and
//! roles, and its links by purpose whether or not they have expired.

use super::{AccountTokenRow, Store, StoreError, on_pool};

/// An organisation someone belongs to, as the account page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlaceRow {
    pub organisation_id: String,
    pub name: String,
    pub kind: String,
    pub urn: Option<String>,
    pub ukprn: Option<String>,
    pub la_code: Option<String>,
    pub level: String,
}

/// A service someone may use at one organisation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessRow {
    pub organisation_id: String,
    pub client_id: String,
    pub client_name: String,
}

/// One role held in a service at one organisation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldRoleRow {
    pub organisation_id: String,
    pub client_id: String,
    pub role_name: String,
}

const PLACES: &str = "SELECT m.organisation_id, o.name, o.kind, o.urn, o.ukprn, o.la_code, \
     m.level FROM memberships m JOIN organisations o ON o.id = m.organisation_id \
     WHERE m.user_id = $1 ORDER BY o.name, o.id";
const ACCESS: &str = "SELECT a.organisation_id, a.client_id, c.name AS client_name \
     FROM service_access a JOIN clients c ON c.id = a.client_id \
     WHERE a.user_id = $1 ORDER BY c.name, c.id";
const ROLES: &str = "SELECT r.organisation_id, r.client_id, s.name AS role_name \
     FROM service_access_roles r JOIN service_roles s \
     ON s.client_id = r.client_id AND s.code = r.role_code \
     WHERE r.user_id = $1 ORDER BY s.name";
const TOKEN: &str = "SELECT id, user_id, purpose, new_email, client_id, return_to, token_hash, \
     attempts, created_at, expires_at FROM account_tokens WHERE user_id = $1 AND purpose = $2";

impl Store {
    /// The organisations `user_id` belongs to, by name.
    pub async fn places_of(&self, user_id: &str) -> Result<Vec<PlaceRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, PlaceRow>(PLACES)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Every service `user_id` may use, at every organisation.
    pub async fn access_of(&self, user_id: &str) -> Result<Vec<AccessRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccessRow>(ACCESS)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Every role `user_id` holds, in every service and organisation.
    pub async fn held_roles_of(&self, user_id: &str) -> Result<Vec<HeldRoleRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, HeldRoleRow>(ROLES)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// `user_id`'s link of `purpose`, live or expired.
    pub async fn account_token_any(
        &self,
        user_id: &str,
        purpose: &str,
    ) -> Result<Option<AccountTokenRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccountTokenRow>(TOKEN)
                .bind(user_id)
                .bind(purpose)
                .fetch_optional(pool)
                .await?
        }))
    }
}
