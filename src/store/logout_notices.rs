//! The back-channel logout queue: due notices, claimed by one node at a time.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoticeRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

const DUE: &str = "SELECT id, client_id, user_id, sid, attempts, next_attempt_at \
     FROM logout_notices WHERE delivered_at IS NULL AND failed_at IS NULL \
     AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2";
/// Optimistic claim: only the node that still sees the old due time wins.
const CLAIM: &str = "UPDATE logout_notices SET next_attempt_at = $3 \
     WHERE id = $1 AND next_attempt_at = $2 AND delivered_at IS NULL";
const DELIVERED: &str =
    "UPDATE logout_notices SET delivered_at = $2, attempts = attempts + 1 WHERE id = $1";
const FAILED: &str = "UPDATE logout_notices SET attempts = attempts + 1, last_error = $2, \
     next_attempt_at = $3, failed_at = $4 WHERE id = $1";
/// Finished notices (delivered or given up) are kept a day for operators, then removed.
const DELETE_FINISHED: &str = "DELETE FROM logout_notices \
     WHERE (delivered_at IS NOT NULL AND delivered_at <= $1) OR (failed_at IS NOT NULL AND failed_at <= $1)";
const COUNT_PENDING: &str =
    "SELECT COUNT(*) FROM logout_notices WHERE delivered_at IS NULL AND failed_at IS NULL";

impl Store {
    pub async fn due_logout_notices(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<NoticeRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, NoticeRow>(DUE)
                .bind(millis(now))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn claim_logout_notice(
        &self,
        notice: &NoticeRow,
        _now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(self, write, |pool| {
            sqlx::query(CLAIM)
                .bind(&notice.id)
                .bind(notice.next_attempt_at)
                .bind(millis(lease_until))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn logout_notice_delivered(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(DELIVERED)
                .bind(id)
                .bind(millis(now))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn logout_notice_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        failed_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(500).collect();
        on_pool!(self, write, |pool| {
            sqlx::query(FAILED)
                .bind(id)
                .bind(&error)
                .bind(millis(next_attempt_at))
                .bind(failed_at.map(millis))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Delivery attempts made so far, across every notice (for tests and operators).
    pub async fn logout_notice_attempts(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM logout_notices",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn delete_finished_logout_notices(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(DELETE_FINISHED)
                .bind(millis(before))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Notices still waiting to be delivered (a metric).
    pub async fn pending_logout_notices(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(COUNT_PENDING)
                .fetch_one(pool)
                .await?
        }))
    }
}
