//! `/manage/migration`: the Authentix migration dashboard for helpdesk and admin staff, as a
//! page and as CSV, from the last count; staff may ask for a count now.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::StaffUser;
use super::require;
use crate::directory::{Dashboard, MigrationLine};
use crate::staff::Capability;

/// Days after an invitation before someone counts as "not activated".
const DEFAULT_STALLED_DAYS: i64 = 14;
/// How long "Count again now" waits for the count before saying it is under way.
const COUNT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    days: Option<i64>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CountForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    days: String,
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
    notice: Option<&'static str>,
    csrf_token: String,
    days: i64,
    /// "27 Nov 2026 09:12 UTC", or empty before the first count.
    counted_at: String,
    took_seconds: String,
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
    jar: CookieJar,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, Error> {
    require(&state, &verified, Capability::ViewMigration).await?;
    let days = query.days.unwrap_or(DEFAULT_STALLED_DAYS);
    let dashboard = state.directory.migration_dashboard(days).await?;
    let notice = match query.notice.as_deref() {
        Some("counted") => Some("The figures were counted again just now."),
        Some("busy") => {
            Some("The figures are being counted already. They will show here when that finishes.")
        }
        Some("counting") => Some(
            "The figures are being counted. On a large estate this takes a minute or so; they \
             will show here when it finishes.",
        ),
        _ => None,
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = MigrationPage {
        layout: Layout::default(),
        notice,
        csrf_token,
        days: dashboard.stalled_days,
        counted_at: dashboard
            .counted_at
            .map(|at| at.format("%-d %b %Y %H:%M UTC").to_string())
            .unwrap_or_default(),
        took_seconds: dashboard
            .took_ms
            .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
            .unwrap_or_default(),
        by_local_authority: views(dashboard.by_local_authority),
        by_service: views(dashboard.by_service),
    };
    Ok((jar, Html(page.render()?)).into_response())
}

/// "Count again now": counts, waiting up to [`COUNT_WAIT`] for the figures (a small estate's
/// count takes milliseconds, a national one's half a minute), unless a count is already under
/// way somewhere.
pub async fn count(
    State(state): State<AppState>,
    verified: StaffUser,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<CountForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &verified, Capability::ViewMigration).await?;
    let days = input
        .days
        .trim()
        .parse::<i64>()
        .unwrap_or(DEFAULT_STALLED_DAYS)
        .clamp(0, 3650);
    // The count runs on its own task: at national scale it outlasts the request timeout, and
    // a count cut off half-way would keep its claim for the whole lease.
    let directory = state.directory.clone();
    let counting = tokio::spawn(async move { directory.count_migration().await });
    let notice = match tokio::time::timeout(COUNT_WAIT, counting).await {
        Ok(Ok(Ok(true))) => "counted",
        Ok(Ok(Ok(false))) => "busy",
        Ok(Ok(Err(e))) => return Err(e.into()),
        Ok(Err(e)) => return Err(Error::Internal(format!("the count stopped: {e}"))),
        Err(_) => "counting",
    };
    Ok(Redirect::to(&format!("/manage/migration?days={days}&notice={notice}")).into_response())
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
