//! The Authentix migration's own bookkeeping: who was brought over, and when each was invited
//! and reminded, so invitations can go out in waves.

use super::{Store, StoreError, Tx, on_pool, on_tx};

const INSERT: &str = "INSERT INTO migration_contacts (user_id, source, imported_at) \
     VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING";
/// Invited accounts not yet invited by the migration, optionally only those belonging to
/// one local authority (the LA itself or its schools), oldest import first.
const NOT_INVITED: &str = "SELECT c.user_id FROM migration_contacts c \
     JOIN users u ON u.id = c.user_id \
     WHERE c.invited_at IS NULL AND u.status = 'invited' AND ($1 = '' OR EXISTS ( \
         SELECT 1 FROM memberships m JOIN organisations o ON o.id = m.organisation_id \
         WHERE m.user_id = c.user_id AND o.la_code = $1)) \
     ORDER BY c.imported_at, c.user_id LIMIT $2";
/// Invited, still not activated, invited before `$1` and not yet reminded.
const DUE_REMINDER: &str = "SELECT c.user_id FROM migration_contacts c \
     JOIN users u ON u.id = c.user_id \
     WHERE c.invited_at IS NOT NULL AND c.invited_at <= $1 AND c.reminded_at IS NULL \
     AND u.status = 'invited' ORDER BY c.invited_at, c.user_id LIMIT $2";
const MARK_INVITED: &str = "UPDATE migration_contacts SET invited_at = $2 WHERE user_id = $1";
const MARK_REMINDED: &str = "UPDATE migration_contacts SET reminded_at = $2 WHERE user_id = $1";
const PROGRESS: &str = "SELECT COUNT(*), \
     SUM(CASE WHEN c.invited_at IS NOT NULL THEN 1 ELSE 0 END), \
     SUM(CASE WHEN u.status = 'active' THEN 1 ELSE 0 END) \
     FROM migration_contacts c JOIN users u ON u.id = c.user_id";

impl Store {
    pub async fn insert_migration_contact(
        &self,
        tx: &mut Tx,
        user_id: &str,
        source: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(user_id)
                .bind(source)
                .bind(now)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    pub async fn migration_not_invited(
        &self,
        la_code: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(NOT_INVITED)
                .bind(la_code)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn migration_due_reminders(
        &self,
        invited_before: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(DUE_REMINDER)
                .bind(invited_before)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn mark_migration_invited(
        &self,
        user_id: &str,
        now: i64,
        reminder: bool,
    ) -> Result<(), StoreError> {
        let query = if reminder {
            MARK_REMINDED
        } else {
            MARK_INVITED
        };
        on_pool!(self, write, |pool| {
            sqlx::query(query)
                .bind(user_id)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// (brought over, invited, activated).
    pub async fn migration_progress(&self) -> Result<(i64, i64, i64), StoreError> {
        Ok(on_pool!(self, read, |pool| {
            let (all, invited, active): (i64, Option<i64>, Option<i64>) =
                sqlx::query_as(PROGRESS).fetch_one(pool).await?;
            (all, invited.unwrap_or(0), active.unwrap_or(0))
        }))
    }
}

/// One line of the migration dashboard: a local authority's or a service's contacts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MigrationLine {
    /// The LA code, or the service's client id.
    pub code: String,
    /// The LA's or service's name (empty when the LA is not in the directory).
    pub name: String,
    pub imported: i64,
    pub invited: i64,
    pub activated: i64,
    pub with_mfa: i64,
    /// Invited before the cut-off and still not activated.
    pub stalled: i64,
    /// Organisations involved (for a service: those where anyone has access to it).
    pub organisations: i64,
    /// Of those, organisations with at least one active account (with access to the service).
    pub ready: i64,
}

/// Counts over migration contacts `c` joined to their users `u`; `$1` is the cut-off for
/// "not activated after N days".
macro_rules! contact_counts {
    () => {
        "COUNT(DISTINCT c.user_id) AS imported, \
     COUNT(DISTINCT CASE WHEN c.invited_at IS NOT NULL THEN c.user_id END) AS invited, \
     COUNT(DISTINCT CASE WHEN u.status = 'active' THEN c.user_id END) AS activated, \
     COUNT(DISTINCT CASE WHEN u.status = 'active' AND (EXISTS (SELECT 1 FROM totp_factors t \
         WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL AND t.disabled_at IS NULL) \
         OR EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.user_id = u.id)) \
         THEN c.user_id END) AS with_mfa, \
     COUNT(DISTINCT CASE WHEN u.status = 'invited' AND c.invited_at <= $1 \
         THEN c.user_id END) AS stalled"
    };
}

impl Store {
    /// The dashboard by local authority (a school counts under its LA's code).
    pub async fn migration_by_local_authority(
        &self,
        stalled_before: i64,
    ) -> Result<Vec<MigrationLine>, StoreError> {
        const SQL: &str = concat!(
            "SELECT COALESCE(o.la_code, '') AS code, COALESCE(MAX(la.name), '') AS name, ",
            contact_counts!(),
            ", COUNT(DISTINCT o.id) AS organisations, \
             COUNT(DISTINCT CASE WHEN u.status = 'active' THEN o.id END) AS ready \
             FROM migration_contacts c JOIN users u ON u.id = c.user_id \
             JOIN memberships m ON m.user_id = c.user_id \
             JOIN organisations o ON o.id = m.organisation_id \
             LEFT JOIN organisations la ON la.kind = 'local_authority' \
                 AND la.la_code = o.la_code \
             GROUP BY COALESCE(o.la_code, '') ORDER BY 1"
        );
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, MigrationLine>(SQL)
                .bind(stalled_before)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The dashboard by service: contacts with access to it, and how many of the
    /// organisations using it have at least one active account that may use it.
    pub async fn migration_by_service(
        &self,
        stalled_before: i64,
    ) -> Result<Vec<MigrationLine>, StoreError> {
        const SQL: &str = concat!(
            "SELECT s.id AS code, s.name AS name, ",
            contact_counts!(),
            ", (SELECT COUNT(DISTINCT a2.organisation_id) FROM service_access a2 \
                 WHERE a2.client_id = s.id) AS organisations, \
             (SELECT COUNT(DISTINCT a3.organisation_id) FROM service_access a3 \
                 JOIN users u3 ON u3.id = a3.user_id \
                 WHERE a3.client_id = s.id AND u3.status = 'active') AS ready \
             FROM clients s LEFT JOIN service_access a ON a.client_id = s.id \
             LEFT JOIN migration_contacts c ON c.user_id = a.user_id \
             LEFT JOIN users u ON u.id = c.user_id \
             GROUP BY s.id, s.name ORDER BY s.name, s.id"
        );
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, MigrationLine>(SQL)
                .bind(stalled_before)
                .fetch_all(pool)
                .await?
        }))
    }
}
