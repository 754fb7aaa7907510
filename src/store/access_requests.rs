//! Access requests as stored: one open request per person, organisation and service, decided
//! once by a conditional update, and escalated to the helpdesk queue in one statement.

use super::{Store, StoreError, Tx, on_pool, on_tx};

/// A request, with the names the pages and emails show.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccessRequestRow {
    pub id: String,
    pub user_id: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub organisation_id: String,
    pub organisation_name: String,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub reason: String,
    pub status: String,
    pub created_at: i64,
    pub escalated_at: Option<i64>,
    pub escalation: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_reason: Option<String>,
}

/// What a new request needs.
#[derive(Debug, Clone)]
pub struct NewAccessRequest<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub organisation_id: &'a str,
    pub client_id: Option<&'a str>,
    pub reason: &'a str,
    /// Set when the organisation has no active approver to ask.
    pub escalation: Option<&'a str>,
}

macro_rules! select_requests {
    () => {
        "SELECT r.id, r.user_id, u.given_name, u.family_name, u.email, \
     r.organisation_id, o.name AS organisation_name, r.client_id, c.name AS client_name, \
     r.reason, r.status, r.created_at, r.escalated_at, r.escalation, r.decided_at, \
     r.decision_reason FROM access_requests r JOIN users u ON u.id = r.user_id \
     JOIN organisations o ON o.id = r.organisation_id \
     LEFT JOIN clients c ON c.id = r.client_id"
    };
}
const INSERT: &str = "INSERT INTO access_requests (id, user_id, organisation_id, client_id, \
     reason, status, created_at, escalated_at, escalation) \
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8) ON CONFLICT DO NOTHING";
const DECIDE: &str = "UPDATE access_requests SET status = $2, decided_at = $3, \
     decided_by = $4, decision_reason = $5 WHERE id = $1 AND status = 'pending'";
const ESCALATE_OVERDUE: &str = "UPDATE access_requests SET escalated_at = $2, \
     escalation = 'overdue' WHERE status = 'pending' AND escalated_at IS NULL \
     AND created_at <= $1 RETURNING id, user_id, organisation_id";

impl Store {
    /// Files a request; false when the same one is already waiting.
    pub async fn insert_access_request(
        &self,
        tx: &mut Tx,
        request: &NewAccessRequest<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let escalated_at = request.escalation.map(|_| now);
        Ok(on_tx!(tx, |conn| {
            sqlx::query(INSERT)
                .bind(request.id)
                .bind(request.user_id)
                .bind(request.organisation_id)
                .bind(request.client_id)
                .bind(request.reason)
                .bind(now)
                .bind(escalated_at)
                .bind(request.escalation)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    pub async fn access_request(&self, id: &str) -> Result<Option<AccessRequestRow>, StoreError> {
        const SQL: &str = concat!(select_requests!(), " WHERE r.id = $1");
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccessRequestRow>(SQL)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// An organisation's waiting requests, oldest first.
    pub async fn pending_access_requests(
        &self,
        organisation_id: &str,
    ) -> Result<Vec<AccessRequestRow>, StoreError> {
        const SQL: &str = concat!(
            select_requests!(),
            " WHERE r.organisation_id = $1 AND r.status = 'pending' ORDER BY r.created_at, r.id"
        );
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccessRequestRow>(SQL)
                .bind(organisation_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// A person's own requests, newest first.
    pub async fn access_requests_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<AccessRequestRow>, StoreError> {
        const SQL: &str = concat!(
            select_requests!(),
            " WHERE r.user_id = $1 ORDER BY r.created_at DESC, r.id"
        );
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccessRequestRow>(SQL)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The helpdesk queue: waiting requests that were escalated, oldest first.
    pub async fn escalated_access_requests(
        &self,
        limit: i64,
    ) -> Result<Vec<AccessRequestRow>, StoreError> {
        const SQL: &str = concat!(
            select_requests!(),
            " WHERE r.status = 'pending' AND r.escalated_at IS NOT NULL \
             ORDER BY r.escalated_at, r.id LIMIT $1"
        );
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, AccessRequestRow>(SQL)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Records a decision on a waiting request; false when it was no longer waiting (someone
    /// else decided first, or it was withdrawn).
    pub async fn decide_access_request(
        &self,
        tx: &mut Tx,
        id: &str,
        status: &str,
        decided_by: Option<&str>,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DECIDE)
                .bind(id)
                .bind(status)
                .bind(now)
                .bind(decided_by)
                .bind(reason)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Escalates every request still waiting since `before`; returns (id, user, organisation)
    /// of each one escalated now.
    pub async fn escalate_overdue_requests(
        &self,
        tx: &mut Tx,
        before: i64,
        now: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, (String, String, String)>(ESCALATE_OVERDUE)
                .bind(before)
                .bind(now)
                .fetch_all(conn)
                .await?
        }))
    }
}
