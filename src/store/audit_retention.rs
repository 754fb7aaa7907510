//! Blanking audit events past their retention (migration 0013), and counting them first.

use super::{Store, StoreError, Tx, on_pool, on_tx};

impl Store {
    /// Blanks, inside `tx`, every whole event with one of `actions` that happened before
    /// `before` (ms); returns how many and the last position blanked.
    pub async fn prune_audit_in(
        &self,
        tx: &mut Tx,
        actions: &[&str],
        before: i64,
        now: i64,
    ) -> Result<(u64, Option<i64>), StoreError> {
        if actions.is_empty() {
            return Ok((0, None));
        }
        let seqs: Vec<i64> = on_tx!(tx, |conn| {
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE audit_events SET actor = 'pruned', subject_user_id = NULL, \
                 organisation_id = NULL, client_id = NULL, reason = NULL, ip = NULL, \
                 user_agent = NULL, request_id = NULL, details = NULL, pruned_at = ",
            );
            q.push_bind(now);
            q.push(" WHERE pruned_at IS NULL AND occurred_at < ");
            q.push_bind(before);
            q.push(" AND action IN (");
            let mut list = q.separated(", ");
            for action in actions {
                list.push_bind(*action);
            }
            q.push(") RETURNING seq");
            q.build_query_scalar::<i64>().fetch_all(conn).await?
        });
        Ok((seqs.len() as u64, seqs.into_iter().max()))
    }

    /// How many whole events with one of `actions` happened before `before` (ms).
    pub async fn count_prunable_audit(
        &self,
        actions: &[&str],
        before: i64,
    ) -> Result<i64, StoreError> {
        if actions.is_empty() {
            return Ok(0);
        }
        Ok(on_pool!(self, read, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT COUNT(*) FROM audit_events WHERE pruned_at IS NULL AND occurred_at < ",
            );
            q.push_bind(before);
            q.push(" AND action IN (");
            let mut list = q.separated(", ");
            for action in actions {
                list.push_bind(*action);
            }
            q.push(")");
            q.build_query_scalar::<i64>().fetch_one(pool).await?
        }))
    }

    /// The details of every pruning checkpoint, oldest first.
    pub async fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT details FROM audit_events WHERE action = 'audit.pruned' \
             AND pruned_at IS NULL AND details IS NOT NULL ORDER BY seq";
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(SQL).fetch_all(pool).await?
        }))
    }
}
