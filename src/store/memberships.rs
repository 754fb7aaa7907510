//! Memberships, service roles and service access as stored. Changes to one person's access
//! happen inside the caller's transaction; the reads a sign-in needs are one query each.

use super::organisations::OrganisationRow;
use super::{Store, StoreError, Tx, on_pool, on_tx};

/// A person's place in an organisation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MembershipRow {
    pub user_id: String,
    pub organisation_id: String,
    pub level: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One role a service defines.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRow {
    pub client_id: String,
    pub code: String,
    pub name: String,
    pub created_at: i64,
}

const UPSERT_MEMBERSHIP: &str = "INSERT INTO memberships (user_id, organisation_id, level, \
     status, created_at, updated_at) VALUES ($1, $2, $3, 'approved', $4, $4) \
     ON CONFLICT (user_id, organisation_id) DO UPDATE SET level = excluded.level, \
     status = 'approved', updated_at = excluded.updated_at";
const DELETE_MEMBERSHIP: &str =
    "DELETE FROM memberships WHERE user_id = $1 AND organisation_id = $2";
const MEMBERSHIP: &str = "SELECT user_id, organisation_id, level, status, created_at, updated_at \
     FROM memberships WHERE user_id = $1 AND organisation_id = $2";
const UPSERT_ROLE: &str = "INSERT INTO service_roles (client_id, code, name, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, code) DO UPDATE SET name = excluded.name";
const DELETE_ROLE: &str = "DELETE FROM service_roles WHERE client_id = $1 AND code = $2";
const ROLES: &str = "SELECT client_id, code, name, created_at FROM service_roles \
     WHERE client_id = $1 ORDER BY code";
const ORG_KINDS: &str =
    "SELECT kind FROM service_organisation_kinds WHERE client_id = $1 ORDER BY kind";
const DELETE_ORG_KINDS: &str = "DELETE FROM service_organisation_kinds WHERE client_id = $1";
const INSERT_ORG_KIND: &str =
    "INSERT INTO service_organisation_kinds (client_id, kind) VALUES ($1, $2)";
const UPSERT_ACCESS: &str = "INSERT INTO service_access (user_id, organisation_id, client_id, \
     created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, organisation_id, client_id) \
     DO NOTHING";
/// Gives access without touching roles already held (a re-run of a migration).
const ENSURE_ACCESS: &str = UPSERT_ACCESS;
const DELETE_ACCESS_ROLES: &str = "DELETE FROM service_access_roles WHERE user_id = $1 \
     AND organisation_id = $2 AND client_id = $3";
const INSERT_ACCESS_ROLE: &str = "INSERT INTO service_access_roles (user_id, organisation_id, \
     client_id, role_code) VALUES ($1, $2, $3, $4)";
const DELETE_ACCESS: &str = "DELETE FROM service_access WHERE user_id = $1 \
     AND organisation_id = $2 AND client_id = $3";
/// The organisations where a person may use a service (approved memberships only).
const ACCESS_ORGS: &str = "SELECT o.id, o.kind, o.name, o.name_normalised, o.urn, o.ukprn, \
     o.la_code, o.establishment_number, o.type_code, o.type_name, o.phase_code, o.phase_name, \
     o.status, o.street, o.town, o.postcode, o.opened_on, o.closed_on, o.source, o.created_at, \
     o.updated_at FROM service_access a \
     JOIN memberships m ON m.user_id = a.user_id AND m.organisation_id = a.organisation_id \
     JOIN organisations o ON o.id = a.organisation_id \
     WHERE a.user_id = $1 AND a.client_id = $2 AND m.status = 'approved' ORDER BY o.name";
const ACCESS_ROLES: &str = "SELECT role_code FROM service_access_roles WHERE user_id = $1 \
     AND organisation_id = $2 AND client_id = $3 ORDER BY role_code";
const MEMBERSHIPS_OF: &str = "SELECT m.user_id, m.organisation_id, m.level, m.status, \
     m.created_at, m.updated_at FROM memberships m JOIN organisations o \
     ON o.id = m.organisation_id WHERE m.user_id = $1 ORDER BY o.name";
const IS_APPROVER: &str = "SELECT COUNT(*) FROM memberships WHERE user_id = $1 \
     AND level = 'approver' AND status = 'approved'";
const APPROVERS: &str = "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
     WHERE m.organisation_id = $1 AND m.level = 'approver' AND m.status = 'approved' \
     AND u.status = 'active' ORDER BY u.family_name, u.given_name";

impl Store {
    pub async fn upsert_membership(
        &self,
        tx: &mut Tx,
        user_id: &str,
        organisation_id: &str,
        level: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(UPSERT_MEMBERSHIP)
                .bind(user_id)
                .bind(organisation_id)
                .bind(level)
                .bind(now)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Ends a membership and, with it, every access it carried; false if there was none.
    pub async fn delete_membership(
        &self,
        tx: &mut Tx,
        user_id: &str,
        organisation_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DELETE_MEMBERSHIP)
                .bind(user_id)
                .bind(organisation_id)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn membership(
        &self,
        user_id: &str,
        organisation_id: &str,
    ) -> Result<Option<MembershipRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, MembershipRow>(MEMBERSHIP)
                .bind(user_id)
                .bind(organisation_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn memberships_of(&self, user_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, MembershipRow>(MEMBERSHIPS_OF)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Whether someone is an approver anywhere (approvers must use 2-step verification).
    pub async fn is_approver(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(IS_APPROVER)
                .bind(user_id)
                .fetch_one(pool)
                .await?
                > 0
        }))
    }

    /// The active approvers of an organisation, by name.
    pub async fn approvers(&self, organisation_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(APPROVERS)
                .bind(organisation_id)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn upsert_role(&self, tx: &mut Tx, role: &RoleRow) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(UPSERT_ROLE)
                .bind(&role.client_id)
                .bind(&role.code)
                .bind(&role.name)
                .bind(role.created_at)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Removes a role (and every grant of it); false if the service had no such role.
    pub async fn delete_role(
        &self,
        tx: &mut Tx,
        client_id: &str,
        code: &str,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DELETE_ROLE)
                .bind(client_id)
                .bind(code)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn roles(&self, client_id: &str) -> Result<Vec<RoleRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, RoleRow>(ROLES)
                .bind(client_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The kinds of organisation a service may be granted for (empty: any).
    pub async fn service_organisation_kinds(
        &self,
        client_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(ORG_KINDS)
                .bind(client_id)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn set_service_organisation_kinds(
        &self,
        tx: &mut Tx,
        client_id: &str,
        kinds: &[&str],
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(DELETE_ORG_KINDS)
                .bind(client_id)
                .execute(&mut *conn)
                .await?;
            for kind in kinds {
                sqlx::query(INSERT_ORG_KIND)
                    .bind(client_id)
                    .bind(*kind)
                    .execute(&mut *conn)
                    .await?;
            }
        });
        Ok(())
    }

    /// Gives access with exactly `roles` (replacing any roles held before).
    pub async fn set_access(
        &self,
        tx: &mut Tx,
        user_id: &str,
        organisation_id: &str,
        client_id: &str,
        roles: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(UPSERT_ACCESS)
                .bind(user_id)
                .bind(organisation_id)
                .bind(client_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            sqlx::query(DELETE_ACCESS_ROLES)
                .bind(user_id)
                .bind(organisation_id)
                .bind(client_id)
                .execute(&mut *conn)
                .await?;
            for role in roles {
                sqlx::query(INSERT_ACCESS_ROLE)
                    .bind(user_id)
                    .bind(organisation_id)
                    .bind(client_id)
                    .bind(role)
                    .execute(&mut *conn)
                    .await?;
            }
        });
        Ok(())
    }

    /// Gives access if it is not already there (roles held are left alone); true if new.
    pub async fn ensure_access(
        &self,
        tx: &mut Tx,
        user_id: &str,
        organisation_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(ENSURE_ACCESS)
                .bind(user_id)
                .bind(organisation_id)
                .bind(client_id)
                .bind(now)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// A membership read inside `tx`.
    pub async fn membership_in(
        &self,
        tx: &mut Tx,
        user_id: &str,
        organisation_id: &str,
    ) -> Result<Option<MembershipRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, MembershipRow>(MEMBERSHIP)
                .bind(user_id)
                .bind(organisation_id)
                .fetch_optional(conn)
                .await?
        }))
    }

    /// Removes a person's access to a service at an organisation; false if there was none.
    pub async fn delete_access(
        &self,
        tx: &mut Tx,
        user_id: &str,
        organisation_id: &str,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DELETE_ACCESS)
                .bind(user_id)
                .bind(organisation_id)
                .bind(client_id)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// The organisations where `user_id` may use `client_id`, by name.
    pub async fn access_organisations(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Vec<OrganisationRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, OrganisationRow>(ACCESS_ORGS)
                .bind(user_id)
                .bind(client_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// A person's roles in a service at one organisation.
    pub async fn access_roles(
        &self,
        user_id: &str,
        organisation_id: &str,
        client_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(ACCESS_ROLES)
                .bind(user_id)
                .bind(organisation_id)
                .bind(client_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
