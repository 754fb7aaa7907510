//! `/manage/migration`: the Authentix migration dashboard for helpdesk and admin staff, as a
//! page and as CSV.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::super::pages::Layout;
use super::super::{AppState, Error};
use super::StaffUser;
use super::require;
use crate::directory::Dashboard;
use crate::staff::Capability;
use crate::store::MigrationLine;

/// Days after an invitation before someone counts as "not activated".
const DEFAULT_STALLED_DAYS: i64 = 14;

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
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

pub async fn migration(
    State(state): State<AppState>,
    verified: StaffUser,
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

pub async fn migration_csv(
    State(state): State<AppState>,
    verified: StaffUser,
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
