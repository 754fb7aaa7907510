//! `/manage/…`: pages for Gatehouse staff. Each needs 2-step verification in the session and
//! checks its capability first: the Authentix migration dashboard (also as CSV) and the
//! queue of access requests escalated to the helpdesk.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::current_user::VerifiedUser;
use super::pages::Layout;
use super::{AppState, Error};
use crate::directory::Dashboard;
use crate::staff::Capability;
use crate::store::MigrationLine;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/manage/migration", get(migration))
        .route("/manage/migration.csv", get(migration_csv))
        .route("/manage/requests", get(requests))
}

/// Refuses anyone whose staff roles do not give `capability`.
async fn require(
    state: &AppState,
    VerifiedUser(current): &VerifiedUser,
    capability: Capability,
) -> Result<(), Error> {
    if state.staff.can(&current.user.id, capability).await? {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Days after an invitation before someone counts as "not activated".
const DEFAULT_STALLED_DAYS: i64 = 14;

#[derive(Debug, Deserialize)]
struct DashboardQuery {
    days: Option<i64>,
}

/// A dashboard line with its percentage worked out.
struct LineView {
    line: MigrationLine,
    percent_ready: i64,
}

#[derive(Template)]
#[template(path = "manage/migration.html")]
struct MigrationPage {
    layout: Layout,
    days: i64,
    by_local_authority: Vec<LineView>,
    by_service: Vec<LineView>,
}

fn views(lines: Vec<MigrationLine>) -> Vec<LineView> {
    lines
        .into_iter()
        .map(|line| LineView {
            percent_ready: Dashboard::ready_percent(&line),
            line,
        })
        .collect()
}

async fn migration(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, Error> {
    require(&state, &verified, Capability::ViewMigration).await?;
    let days = query.days.unwrap_or(DEFAULT_STALLED_DAYS);
    let dashboard = state.directory.migration_dashboard(days).await?;
    let page = MigrationPage {
        layout: Layout::default(),
        days: dashboard.stalled_days,
        by_local_authority: views(dashboard.by_local_authority),
        by_service: views(dashboard.by_service),
    };
    Ok(Html(page.render()?).into_response())
}

async fn migration_csv(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, Error> {
    require(&state, &verified, Capability::ViewMigration).await?;
    let days = query.days.unwrap_or(DEFAULT_STALLED_DAYS);
    let dashboard = state.directory.migration_dashboard(days).await?;
    let csv = dashboard.to_csv().map_err(|e| {
        Error::Directory(crate::directory::DirectoryError::Field(
            "csv",
            e.to_string(),
        ))
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"gatehouse-migration.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// One request in the helpdesk queue.
struct QueuedView {
    name: String,
    email: String,
    organisation: String,
    asks_for: String,
    reason: String,
    asked_on: String,
    why: &'static str,
}

#[derive(Template)]
#[template(path = "manage/requests.html")]
struct QueuePage {
    layout: Layout,
    requests: Vec<QueuedView>,
}

/// How many queued requests the page shows.
const QUEUE_PAGE: i64 = 200;

async fn requests(
    State(state): State<AppState>,
    verified: VerifiedUser,
) -> Result<Response, Error> {
    require(&state, &verified, Capability::ViewRequestQueue).await?;
    let requests = state
        .approvals
        .helpdesk_queue(QUEUE_PAGE)
        .await?
        .into_iter()
        .map(|r| QueuedView {
            name: format!("{} {}", r.given_name, r.family_name),
            email: r.email,
            asks_for: r
                .client_name
                .map_or_else(|| "To join".to_owned(), |s| format!("To use {s}")),
            organisation: r.organisation_name,
            reason: r.reason,
            asked_on: super::organisation::day(r.created_at),
            why: match r.escalation.as_deref() {
                Some("no_approver") => "No approver",
                _ => "Not answered in 5 days",
            },
        })
        .collect();
    let page = QueuePage {
        layout: Layout::default(),
        requests,
    };
    Ok(Html(page.render()?).into_response())
}
