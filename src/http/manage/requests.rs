//! `/manage/requests`: the helpdesk's queue of access requests — those no approver answered
//! within 5 days, and those to organisations with no approver — and answering one.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};

use super::super::client::Client;
use super::super::forms::FormErrors;
use super::super::organisation::requests::{DecideForm, RequestPlace, refusal, render_request};
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::StaffUser;
use super::require;
use crate::staff::Capability;
use crate::store::AccessRequestRow;

/// One request in the helpdesk queue.
struct QueuedView {
    id: String,
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
    notice: Option<&'static str>,
    requests: Vec<QueuedView>,
}

#[derive(Debug, serde::Deserialize)]
pub struct QueueQuery {
    notice: Option<String>,
}

/// How many queued requests the page shows.
const QUEUE_PAGE: i64 = 200;

pub async fn requests(
    State(state): State<AppState>,
    verified: StaffUser,
    axum::extract::Query(query): axum::extract::Query<QueueQuery>,
) -> Result<Response, Error> {
    require(&state, &verified, Capability::ViewRequestQueue).await?;
    let requests = state
        .approvals
        .helpdesk_queue(QUEUE_PAGE)
        .await?
        .into_iter()
        .map(|r| QueuedView {
            id: r.id.clone(),
            name: format!("{} {}", r.given_name, r.family_name),
            email: r.email,
            asks_for: r
                .client_name
                .map_or_else(|| "To join".to_owned(), |s| format!("To use {s}")),
            organisation: r.organisation_name,
            reason: r.reason,
            asked_on: super::super::organisation::day(r.created_at),
            why: match r.escalation.as_deref() {
                Some("no_approver") => "No approver",
                _ => "Not answered in 5 days",
            },
        })
        .collect();
    let page = QueuePage {
        layout: Layout::default(),
        notice: (query.notice.as_deref() == Some("decided"))
            .then_some("The request has been answered. The person has been told by email."),
        requests,
    };
    Ok(Html(page.render()?).into_response())
}

async fn place(state: &AppState, request: &AccessRequestRow) -> Result<RequestPlace, Error> {
    let without_approver = state
        .store
        .approvers(&request.organisation_id)
        .await?
        .is_empty();
    Ok(RequestPlace {
        organisation: request.organisation_name.clone(),
        offer_approver: without_approver,
        action: format!("/manage/requests/{}", request.id),
        back: "/manage/requests".to_owned(),
        back_label: "Back to the queue".to_owned(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    verified: StaffUser,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    require(&state, &verified, Capability::AnswerRequests).await?;
    let request = state.approvals.any_request(&id).await?;
    let input = DecideForm::default();
    let form = FormErrors::default();
    let place = place(&state, &request).await?;
    render_request(&state, jar, &place, &request, &input, form, StatusCode::OK).await
}

pub async fn decide(
    State(state): State<AppState>,
    verified: StaffUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<DecideForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &verified, Capability::AnswerRequests).await?;
    let StaffUser(current) = &verified;
    let request = state.approvals.any_request(&id).await?;
    let place = place(&state, &request).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let decision = match input.decision() {
        Ok(decision) => decision,
        Err(errors) => {
            return render_request(&state, jar, &place, &request, &input, errors, status).await;
        }
    };
    match state
        .approvals
        .decide_as_helpdesk(&current.user, &request, decision, &ctx)
        .await
    {
        Ok(()) => Ok(Redirect::to("/manage/requests?notice=decided").into_response()),
        Err(e) => {
            let errors = refusal(e)?;
            render_request(&state, jar, &place, &request, &input, errors, status).await
        }
    }
}
