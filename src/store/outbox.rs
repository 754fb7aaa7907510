//! The mail outbox: messages queued inside the transaction that caused them, claimed by one
//! node at a time, and marked sent, retried or given up.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

/// A message waiting to be sent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub payload: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// How the queue looks, for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxStats {
    pub pending: i64,
    pub dead: i64,
    /// Creation time of the oldest message still waiting, if any.
    pub oldest_pending_at: Option<i64>,
}

const INSERT: &str = "INSERT INTO outbox (id, kind, user_id, payload, status, next_attempt_at, \
     created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5)";
const DUE: &str = "SELECT id, kind, user_id, payload, attempts, next_attempt_at, created_at \
     FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
     ORDER BY next_attempt_at LIMIT $2";
/// Optimistic claim: only the node that still sees the old due time wins; if that node dies
/// mid-send, the message falls due again when the lease runs out.
const CLAIM: &str = "UPDATE outbox SET next_attempt_at = $3 \
     WHERE id = $1 AND next_attempt_at = $2 AND status = 'pending'";
const SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $2, payload = NULL, \
     attempts = attempts + 1, last_error = NULL WHERE id = $1 AND status = 'pending'";
const FAILED: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
     next_attempt_at = $3 WHERE id = $1 AND status = 'pending'";
/// A dead letter keeps its sealed payload, so an operator can still retry it.
const DEAD: &str = "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = $2 \
     WHERE id = $1 AND status = 'pending'";
const STATS: &str = "SELECT \
     CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT), \
     CAST(COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT), \
     MIN(CASE WHEN status = 'pending' THEN created_at END) \
     FROM outbox WHERE status <> 'sent'";
const DELETE_SENT: &str = "DELETE FROM outbox WHERE status = 'sent' AND sent_at <= $1";

impl Store {
    /// Queues a message inside `tx`: it is sent only if the change that caused it commits.
    pub async fn insert_outbox(
        &self,
        tx: &mut Tx,
        id: &str,
        kind: &str,
        user_id: Option<&str>,
        payload: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(id)
                .bind(kind)
                .bind(user_id)
                .bind(payload)
                .bind(millis(now))
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    pub async fn due_outbox(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, OutboxRow>(DUE)
                .bind(millis(now))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Claims `row` for this node until `lease_until`; false if another node got it first.
    pub async fn claim_outbox(
        &self,
        row: &OutboxRow,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(self, write, |pool| {
            sqlx::query(CLAIM)
                .bind(&row.id)
                .bind(row.next_attempt_at)
                .bind(millis(lease_until))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Marks a message sent inside `tx` (with its audit event) and forgets its payload.
    pub async fn outbox_sent(
        &self,
        tx: &mut Tx,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = on_tx!(tx, |conn| {
            sqlx::query(SENT)
                .bind(id)
                .bind(millis(now))
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Records a failed attempt inside `tx`: retried at `retry_at`, or, with `None`, given
    /// up as a dead letter.
    pub async fn outbox_failed(
        &self,
        tx: &mut Tx,
        id: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error: String = crate::audit::clean(error, 500);
        on_tx!(tx, |conn| {
            match retry_at {
                Some(at) => {
                    sqlx::query(FAILED)
                        .bind(id)
                        .bind(&error)
                        .bind(millis(at))
                        .execute(conn)
                        .await?
                }
                None => {
                    sqlx::query(DEAD)
                        .bind(id)
                        .bind(&error)
                        .execute(conn)
                        .await?
                }
            };
        });
        Ok(())
    }

    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let (pending, dead, oldest): (i64, i64, Option<i64>) = on_pool!(self, read, |pool| {
            sqlx::query_as(STATS).fetch_one(pool).await?
        });
        Ok(OutboxStats {
            pending,
            dead,
            oldest_pending_at: oldest,
        })
    }

    /// Removes sent messages older than `before` (their payload is already gone).
    pub async fn delete_sent_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(DELETE_SENT)
                .bind(millis(before))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
