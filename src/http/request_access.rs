//! `/account/request-access`: a signed-in person asks to join an organisation, or to use a
//! service for one, giving a reason; their earlier requests and answers are listed below.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::client::Client;
use super::current_user::CurrentUser;
use super::forms::FormErrors;
use super::pages::Layout;
use super::{AppState, Error, csrf};
use crate::auth::CurrentSession;
use crate::directory::DirectoryError;

pub fn router() -> Router<AppState> {
    Router::new().route("/account/request-access", get(form).post(send))
}

/// One service in the list.
struct ServiceOption {
    client_id: String,
    name: String,
    selected: bool,
}

/// One earlier request.
struct PastRequest {
    asks_for: String,
    asked_on: String,
    status: &'static str,
    answer: String,
}

#[derive(Template)]
#[template(path = "account/request_access.html")]
struct RequestPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    organisation: String,
    /// The organisation's name when the link named it (the field is then fixed).
    organisation_name: Option<String>,
    services: Vec<ServiceOption>,
    reason: String,
    past: Vec<PastRequest>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    reason: String,
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentSession,
    input: &RequestForm,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let mut services: Vec<ServiceOption> = state
        .store
        .list_clients()
        .await?
        .into_iter()
        .map(|c| ServiceOption {
            selected: c.id == input.client_id,
            client_id: c.id,
            name: c.name,
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let named = match input.organisation.trim() {
        "" => None,
        key => state.directory.find(key).await?,
    };
    let past = state
        .approvals
        .requests_of(&current.user.id)
        .await?
        .into_iter()
        .map(|r| PastRequest {
            asks_for: match &r.client_name {
                Some(service) => format!("To use {service} for {}", r.organisation_name),
                None => format!("To join {}", r.organisation_name),
            },
            asked_on: super::organisation::day(r.created_at),
            status: match r.status.as_str() {
                "pending" if r.escalated_at.is_some() => "With the helpdesk",
                "pending" => "Waiting for an approver",
                "approved" => "Approved",
                "rejected" => "Rejected",
                _ => "Withdrawn",
            },
            answer: r.decision_reason.unwrap_or_default(),
        })
        .collect();
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let fixed = named.filter(|_| form.error_for("organisation").is_none());
    let page = RequestPage {
        layout: Layout::default(),
        form,
        csrf_token,
        organisation: match &fixed {
            Some(org) => org.id.clone(),
            None => input.organisation.clone(),
        },
        organisation_name: fixed.map(|o| o.name),
        services,
        reason: input.reason.clone(),
        past,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
struct Prefill {
    organisation: Option<String>,
    client_id: Option<String>,
}

async fn form(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    jar: CookieJar,
    Query(prefill): Query<Prefill>,
) -> Result<Response, Error> {
    let input = RequestForm {
        organisation: prefill.organisation.unwrap_or_default(),
        client_id: prefill.client_id.unwrap_or_default(),
        ..RequestForm::default()
    };
    let form = FormErrors::default();
    render(&state, jar, &current, &input, form, StatusCode::OK).await
}

async fn send(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<RequestForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let mut errors = FormErrors::default();
    let key = input.organisation.trim();
    let organisation = if key.is_empty() {
        errors.add(
            "organisation",
            "Enter the school's URN or the local authority's code",
        );
        None
    } else {
        let found = state.directory.find(key).await?;
        if found.is_none() {
            errors.add(
                "organisation",
                "No school or local authority has that URN or code",
            );
        }
        found
    };
    if input.reason.trim().is_empty() {
        errors.add("reason", "Enter why you need access");
    }
    let Some(organisation) = organisation.filter(|_| errors.is_empty()) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&state, jar, &current, &input, errors, status).await;
    };
    let client_id = Some(input.client_id.trim()).filter(|c| !c.is_empty());
    match state
        .approvals
        .request_access(&current.user, &organisation, client_id, &input.reason, &ctx)
        .await
    {
        Ok(_) => Ok(Redirect::to("/account?notice=request-sent").into_response()),
        Err(DirectoryError::Field(field, message)) => {
            let field = match field {
                "organisation" => "organisation",
                "client" => "client_id",
                _ => "reason",
            };
            errors.add(field, message);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, jar, &current, &input, errors, status).await
        }
        Err(e) => Err(e.into()),
    }
}
