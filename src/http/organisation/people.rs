//! `/organisation` (which organisation) and `/organisation/{org}`: an organisation's people,
//! searchable and paged, and the access requests waiting for its approvers.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::client::Client;
use super::super::current_user::VerifiedUser;
use super::super::pages::Layout;
use super::super::{AppState, Error};
use super::approver;
use crate::directory::PEOPLE_PER_PAGE;
use crate::store::OrganisationRow;

#[derive(Template)]
#[template(path = "organisation/choose.html")]
struct ChoosePage {
    layout: Layout,
    organisations: Vec<OrganisationRow>,
}

/// Lists the organisations the person approves (straight to the one, if only one).
pub async fn choose(
    State(state): State<AppState>,
    verified: VerifiedUser,
) -> Result<Response, Error> {
    let VerifiedUser(current) = &verified;
    let organisations = state
        .approvals
        .approver_organisations(&current.user.id)
        .await?;
    if let [only] = organisations.as_slice() {
        return Ok(Redirect::to(&format!("/organisation/{}", only.id)).into_response());
    }
    let status = if organisations.is_empty() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let page = ChoosePage {
        layout: Layout::default(),
        organisations,
    };
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
    notice: Option<String>,
}

/// One person in the list.
struct PersonView {
    user_id: String,
    name: String,
    email: String,
    level: &'static str,
    status: &'static str,
}

/// One waiting request.
struct RequestView {
    id: String,
    name: String,
    asks_for: String,
    reason: String,
    asked_on: String,
}

#[derive(Template)]
#[template(path = "organisation/people.html")]
struct PeoplePage {
    layout: Layout,
    notice: Option<&'static str>,
    organisation: OrganisationRow,
    query: String,
    people: Vec<PersonView>,
    total: i64,
    page: i64,
    pages: i64,
    previous: Option<String>,
    next: Option<String>,
    requests: Vec<RequestView>,
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "active" => "Active",
        "invited" => "Invited",
        "locked" => "Locked",
        _ => "Deactivated",
    }
}

pub fn level_label(level: &str) -> &'static str {
    if level == "approver" {
        "Approver"
    } else {
        "Member"
    }
}

pub fn day(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%-d %B %Y").to_string())
        .unwrap_or_default()
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "invited" => {
            Some("Your colleague has been invited. They will get an email to set up their account.")
        }
        "added" => {
            Some("Your colleague already had an account. They have been added to the organisation.")
        }
        "removed" => Some("They have been removed from the organisation. Their access has ended."),
        "decided" => Some("The request has been answered. The person has been told by email."),
        _ => None,
    }
}

/// Link to another page of the same search.
fn page_link(org: &str, q: &str, page: i64) -> String {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("/organisation/{org}?q={q}&page={page}")
}

pub async fn list(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    Path(org): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, Error> {
    let scope = approver(&state, &verified, &org, &ctx).await?;
    let term: String = query.q.trim().chars().take(100).collect();
    let page = query.page.unwrap_or(1).clamp(1, 100_000);
    let (people, total) = state.approvals.people(&scope, &term, page).await?;
    let pages = ((total + PEOPLE_PER_PAGE - 1) / PEOPLE_PER_PAGE).max(1);
    let id = &scope.organisation.id;
    let requests = state
        .approvals
        .pending_requests(&scope)
        .await?
        .into_iter()
        .map(|r| RequestView {
            asks_for: match &r.client_name {
                Some(service) => format!("To use {service}"),
                None => "To join the organisation".to_owned(),
            },
            name: format!("{} {}", r.given_name, r.family_name),
            reason: r.reason,
            asked_on: day(r.created_at),
            id: r.id,
        })
        .collect();
    let page_view = PeoplePage {
        layout: Layout::default(),
        notice: notice(query.notice.as_deref()),
        previous: (page > 1).then(|| page_link(id, &term, page - 1)),
        next: (page < pages).then(|| page_link(id, &term, page + 1)),
        people: people
            .into_iter()
            .map(|p| PersonView {
                name: format!("{} {}", p.given_name, p.family_name),
                email: p.email,
                level: level_label(&p.level),
                status: status_label(&p.status),
                user_id: p.user_id,
            })
            .collect(),
        organisation: scope.organisation,
        query: term,
        total,
        page,
        pages,
        requests,
    };
    Ok(Html(page_view.render()?).into_response())
}
