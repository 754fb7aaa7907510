//! Appending to and reading the audit trail, and checking its hash chain.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};
use crate::audit::{AuditEvent, ChainedEvent, GENESIS_HASH};
use crate::domain::UserId;

/// An audit event as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub id: String,
    pub occurred_at: i64,
    pub actor: String,
    pub subject_user_id: Option<String>,
    pub organisation_id: Option<String>,
    pub client_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub details: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// When retention blanked the event (only its place, time, action and hashes remain).
    pub pruned_at: Option<i64>,
}

impl AuditRow {
    fn chained(&self) -> ChainedEvent<'_> {
        ChainedEvent {
            seq: self.seq,
            id: &self.id,
            occurred_at: self.occurred_at,
            actor: &self.actor,
            subject_user_id: self.subject_user_id.as_deref(),
            organisation_id: self.organisation_id.as_deref(),
            client_id: self.client_id.as_deref(),
            action: &self.action,
            outcome: &self.outcome,
            reason: self.reason.as_deref(),
            ip: self.ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            request_id: self.request_id.as_deref(),
            details: self.details.as_deref(),
            prev_hash: &self.prev_hash,
        }
    }
}

/// What an `audit.pruned` event records: which actions were blanked, up to when and where.
#[derive(Debug, serde::Deserialize)]
struct Checkpoint {
    actions: Vec<String>,
    before: i64,
    through_seq: i64,
}

impl Checkpoint {
    /// Whether this pruning explains `row` being blank.
    fn covers(&self, row: &AuditRow) -> bool {
        row.seq <= self.through_seq
            && row.occurred_at < self.before
            && self.actions.contains(&row.action)
    }
}

/// Where and why the chain stopped verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first event that does not fit (or the head's position, for a cut-off tail).
    pub seq: i64,
    pub reason: &'static str,
}

macro_rules! audit_columns {
    () => {
        "seq, id, occurred_at, actor, subject_user_id, organisation_id, client_id, \
         action, outcome, reason, ip, user_agent, request_id, details, prev_hash, hash"
    };
}

/// What reads return: the stored columns and whether retention blanked the event.
macro_rules! read_columns {
    () => {
        concat!(audit_columns!(), ", pruned_at")
    };
}

/// Takes the next place in the chain. Being an `UPDATE`, it locks the head row until commit,
/// so concurrent appends on PostgreSQL queue here and each sees its predecessor's hash.
const ADVANCE_HEAD: &str =
    "UPDATE audit_head SET seq = seq + 1 WHERE singleton = 1 RETURNING seq, hash";
/// Takes `$1` places at once for a batch (see [`Store::append_audit_batch`]).
const ADVANCE_HEAD_BY: &str =
    "UPDATE audit_head SET seq = seq + $1 WHERE singleton = 1 RETURNING seq, hash";
const SET_HEAD_HASH: &str = "UPDATE audit_head SET hash = $1 WHERE singleton = 1";
const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE singleton = 1";
const INSERT: &str = concat!(
    "INSERT INTO audit_events (",
    audit_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);
const FOR_USER: &str = concat!(
    "SELECT ",
    read_columns!(),
    " FROM audit_events WHERE subject_user_id = $1 OR actor = $1 \
     ORDER BY seq DESC LIMIT $2"
);
/// One page of a person's timeline, older than `$2`.
const FOR_USER_BEFORE: &str = concat!(
    "SELECT ",
    read_columns!(),
    " FROM audit_events WHERE (subject_user_id = $1 OR actor = $1) AND seq < $2 \
     ORDER BY seq DESC LIMIT $3"
);
const SUBJECT_ACTION: &str = concat!(
    "SELECT ",
    read_columns!(),
    " FROM audit_events WHERE subject_user_id = $1 AND action = $2 ORDER BY seq DESC LIMIT $3"
);
const PAGE: &str = concat!(
    "SELECT ",
    read_columns!(),
    " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
);

/// Rows per INSERT in a batch append (16 values each, well within both engines' limits).
pub const AUDIT_BATCH: usize = 500;

const SINCE: &str = concat!(
    "SELECT ",
    read_columns!(),
    " FROM audit_events WHERE seq > $1 AND occurred_at >= $2 ORDER BY seq LIMIT $3"
);

/// How many events `verify_audit_chain` reads at a time.
const VERIFY_PAGE: i64 = 1000;

impl Store {
    /// Seals `event` into the chain inside `tx`, so it commits with the change it describes.
    pub async fn append_audit(
        &self,
        tx: &mut Tx,
        event: &AuditEvent,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let (seq, prev_hash): (i64, String) = on_tx!(tx, |conn| sqlx::query_as(ADVANCE_HEAD)
            .fetch_one(conn)
            .await?);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let details = event.details.as_ref().map(serde_json::Value::to_string);
        let actor = event.actor.as_str();
        let subject = event.subject.as_ref().map(UserId::as_str);
        let row = ChainedEvent {
            seq,
            id: &id,
            occurred_at: millis(now),
            actor,
            subject_user_id: subject,
            organisation_id: event.organisation_id.as_deref(),
            client_id: event.client_id.as_deref(),
            action: event.action.as_str(),
            outcome: event.outcome.as_str(),
            reason: event.reason,
            ip: event.context.ip.as_deref(),
            user_agent: event.context.user_agent.as_deref(),
            request_id: event.context.request_id.as_deref(),
            details: details.as_deref(),
            prev_hash: &prev_hash,
        };
        let hash = row.hash();
        on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(row.seq)
                .bind(row.id)
                .bind(row.occurred_at)
                .bind(row.actor)
                .bind(row.subject_user_id)
                .bind(row.organisation_id)
                .bind(row.client_id)
                .bind(row.action)
                .bind(row.outcome)
                .bind(row.reason)
                .bind(row.ip)
                .bind(row.user_agent)
                .bind(row.request_id)
                .bind(row.details)
                .bind(row.prev_hash)
                .bind(&hash)
                .execute(&mut *conn)
                .await?;
            sqlx::query(SET_HEAD_HASH).bind(&hash).execute(conn).await?;
        });
        Ok(seq)
    }

    /// The newest events where `user` is the actor or the subject, newest first.
    pub async fn audit_for_user(
        &self,
        user: &UserId,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AuditRow>(FOR_USER)
                .bind(user.as_str())
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Up to `limit` events where `user` is the actor or the subject, older than `before`
    /// (a `seq`), newest first: the account timeline, a page at a time.
    pub async fn audit_for_user_before(
        &self,
        user: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AuditRow>(FOR_USER_BEFORE)
                .bind(user)
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The newest `limit` events of one kind about `user`.
    pub async fn audit_about(
        &self,
        user: &str,
        action: &str,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AuditRow>(SUBJECT_ACTION)
                .bind(user)
                .bind(action)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Seals many events into the chain inside `tx`, in order, with one move of the head and
    /// one statement per [`AUDIT_BATCH`] rows: for bulk work (imports), whose thousands of
    /// appends in one transaction would otherwise each rewrite the head row.
    pub async fn append_audit_batch(
        &self,
        tx: &mut Tx,
        events: &[AuditEvent],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let (last, mut prev_hash): (i64, String) =
            on_tx!(tx, |conn| sqlx::query_as(ADVANCE_HEAD_BY)
                .bind(count)
                .fetch_one(conn)
                .await?);
        let first = last - count + 1;
        let occurred_at = millis(now);
        let mut rows = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let details = event.details.as_ref().map(serde_json::Value::to_string);
            let seq = first + i as i64;
            let hash = ChainedEvent {
                seq,
                id: &id,
                occurred_at,
                actor: event.actor.as_str(),
                subject_user_id: event.subject.as_ref().map(UserId::as_str),
                organisation_id: event.organisation_id.as_deref(),
                client_id: event.client_id.as_deref(),
                action: event.action.as_str(),
                outcome: event.outcome.as_str(),
                reason: event.reason,
                ip: event.context.ip.as_deref(),
                user_agent: event.context.user_agent.as_deref(),
                request_id: event.context.request_id.as_deref(),
                details: details.as_deref(),
                prev_hash: &prev_hash,
            }
            .hash();
            rows.push((seq, id, details, prev_hash, hash.clone()));
            prev_hash = hash;
        }
        for chunk in rows.chunks(AUDIT_BATCH).zip(events.chunks(AUDIT_BATCH)) {
            let (rows, events) = chunk;
            on_tx!(tx, |conn| {
                let mut insert = sqlx::QueryBuilder::new(concat!(
                    "INSERT INTO audit_events (",
                    audit_columns!(),
                    ") "
                ));
                insert.push_values(rows.iter().zip(events), |mut b, (row, event)| {
                    let (seq, id, details, prev, hash) = row;
                    b.push_bind(*seq)
                        .push_bind(id.as_str())
                        .push_bind(occurred_at)
                        .push_bind(event.actor.as_str())
                        .push_bind(event.subject.as_ref().map(UserId::as_str))
                        .push_bind(event.organisation_id.as_deref())
                        .push_bind(event.client_id.as_deref())
                        .push_bind(event.action.as_str())
                        .push_bind(event.outcome.as_str())
                        .push_bind(event.reason)
                        .push_bind(event.context.ip.as_deref())
                        .push_bind(event.context.user_agent.as_deref())
                        .push_bind(event.context.request_id.as_deref())
                        .push_bind(details.as_deref())
                        .push_bind(prev.as_str())
                        .push_bind(hash.as_str());
                });
                insert.build().execute(conn).await?;
            });
        }
        on_tx!(tx, |conn| {
            sqlx::query(SET_HEAD_HASH)
                .bind(&prev_hash)
                .execute(conn)
                .await?;
        });
        Ok(())
    }

    /// Up to `limit` events after `after_seq` that happened at or after `since` (ms), in
    /// chain order; call again from the last `seq` for the next page.
    pub async fn audit_since(
        &self,
        after_seq: i64,
        since: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AuditRow>(SINCE)
                .bind(after_seq)
                .bind(since)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Re-computes every hash from the first event. `Ok(Ok(n))` means all `n` events are
    /// intact and the chain ends where the head says; `Ok(Err(_))` names the first break.
    pub async fn verify_audit_chain(&self) -> Result<Result<i64, ChainBreak>, StoreError> {
        let (head_seq, head_hash): (i64, String) =
            on_pool!(self, read, |pool| sqlx::query_as(HEAD)
                .fetch_one(pool)
                .await?);
        let checkpoints: Vec<Checkpoint> = self
            .audit_checkpoints()
            .await?
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect();
        let mut expected_prev = GENESIS_HASH.to_owned();
        let mut expected_seq = 1;
        'pages: loop {
            let page: Vec<AuditRow> = on_pool!(self, read, |pool| {
                sqlx::query_as(PAGE)
                    .bind(expected_seq - 1)
                    .bind(VERIFY_PAGE)
                    .fetch_all(pool)
                    .await?
            });
            if page.is_empty() {
                break;
            }
            for row in &page {
                let broken = |reason| {
                    Ok(Err(ChainBreak {
                        seq: row.seq,
                        reason,
                    }))
                };
                if row.seq > head_seq {
                    // Appended after we read the head; the next verification covers it.
                    break 'pages;
                }
                if row.seq != expected_seq {
                    return Ok(Err(ChainBreak {
                        seq: expected_seq,
                        reason: "event missing",
                    }));
                }
                if row.prev_hash != expected_prev {
                    return broken("does not follow the event before it");
                }
                if row.pruned_at.is_some() {
                    if !checkpoints.iter().any(|c| c.covers(row)) {
                        return broken("blanked without a retention checkpoint");
                    }
                } else if row.chained().hash() != row.hash {
                    return broken("contents changed after it was written");
                }
                expected_prev.clone_from(&row.hash);
                expected_seq += 1;
            }
        }
        let count = expected_seq - 1;
        if count != head_seq || expected_prev != head_hash {
            return Ok(Err(ChainBreak {
                seq: count + 1,
                reason: "events missing from the end of the trail",
            }));
        }
        Ok(Ok(count))
    }
}
