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
