//! `/organisation/{org}/people/{user}`: one colleague — their services and roles, whether
//! they are an approver, and removing them from the organisation.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::super::client::Client;
use super::super::current_user::VerifiedUser;
use super::super::forms::FormErrors;
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::approver;
use super::people::{level_label, status_label};
use super::services::{ServiceChoice, choices, chosen};
use crate::audit::RequestContext;
use crate::directory::{ApproverOf, Colleague, DirectoryError, Level};

#[derive(Template)]
#[template(path = "organisation/person.html")]
struct PersonPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    csrf_token: String,
    org_id: String,
    organisation: String,
    user_id: String,
    name: String,
    email: String,
    status: &'static str,
    level: &'static str,
    is_approver: bool,
    is_self: bool,
    /// "Service: Role, Role" for each service held.
    held: Vec<String>,
    services: Vec<ServiceChoice>,
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    scope: &ApproverOf,
    colleague: &Colleague,
    form: FormErrors,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, Error> {
    let held = state.approvals.services_of(scope, colleague).await?;
    let offers = state.approvals.services_offered(scope).await?;
    let current: Vec<(String, Vec<String>)> = held
        .iter()
        .map(|h| (h.service.client_id.clone(), h.roles.clone()))
        .collect();
    let described = held
        .iter()
        .map(|h| {
            let offer = offers.iter().find(|o| o.client_id == h.service.client_id);
            let names: Vec<String> = h
                .roles
                .iter()
                .map(|code| {
                    offer
                        .and_then(|o| o.roles.iter().find(|r| r.code == *code))
                        .map_or_else(|| code.clone(), |r| r.name.clone())
                })
                .collect();
            if names.is_empty() {
                h.service.client_name.clone()
            } else {
                format!("{}: {}", h.service.client_name, names.join(", "))
            }
        })
        .collect();
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let user = &colleague.user;
    let page = PersonPage {
        layout: Layout::default(),
        form,
        notice,
        csrf_token,
        org_id: scope.organisation.id.clone(),
        organisation: scope.organisation.name.clone(),
        user_id: user.id.clone(),
        name: format!("{} {}", user.given_name, user.family_name),
        email: user.email.clone(),
        status: status_label(&user.status),
        level: level_label(&colleague.membership.level),
        is_approver: colleague.membership.level == Level::Approver.as_str(),
        is_self: user.id == scope.approver.id,
        held: described,
        services: choices(&offers, &current),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    Path((org, user)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<NoticeQuery>,
) -> Result<Response, Error> {
    let (scope, colleague) = colleague(&state, &verified, &org, &user, &ctx).await?;
    let notice = match query.notice.as_deref() {
        Some("services") => Some("Their services have been saved."),
        Some("unchanged") => Some("Nothing needed changing."),
        Some("approver") => Some("They are now an approver. They must use 2-step verification."),
        Some("member") => Some("They are no longer an approver."),
        _ => None,
    };
    let form = FormErrors::default();
    render(
        &state,
        jar,
        &scope,
        &colleague,
        form,
        notice,
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ServicesForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    service: Vec<String>,
    #[serde(default)]
    role: Vec<String>,
}

/// The approver's standing in the organisation, and the colleague of the path within it.
async fn colleague(
    state: &AppState,
    verified: &VerifiedUser,
    org: &str,
    user: &str,
    ctx: &RequestContext,
) -> Result<(ApproverOf, Colleague), Error> {
    let scope = approver(state, verified, org, ctx).await?;
    let colleague = state.approvals.colleague(&scope, user, ctx).await?;
    Ok((scope, colleague))
}

fn person_path(org: &str, user: &str, notice: &str) -> String {
    format!("/organisation/{org}/people/{user}?notice={notice}")
}

/// A refused change shown beside `field` on the person's page.
async fn refused(
    state: &AppState,
    jar: CookieJar,
    scope: &ApproverOf,
    colleague: &Colleague,
    error: DirectoryError,
) -> Result<Response, Error> {
    match error {
        DirectoryError::Field(field, message) => {
            let mut form = FormErrors::default();
            form.add(
                if field == "level" {
                    "level"
                } else {
                    "services"
                },
                message,
            );
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(state, jar, scope, colleague, form, None, status).await
        }
        other => Err(other.into()),
    }
}

pub async fn save_services(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path((org, user)): Path<(String, String)>,
    Form(form): Form<ServicesForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    let (scope, colleague) = colleague(&state, &verified, &org, &user, &ctx).await?;
    let wanted = chosen(&form.service, &form.role);
    match state
        .approvals
        .set_services(&scope, &colleague, &wanted, &ctx)
        .await
    {
        Ok(true) => Ok(Redirect::to(&person_path(&org, &user, "services")).into_response()),
        Ok(false) => Ok(Redirect::to(&person_path(&org, &user, "unchanged")).into_response()),
        Err(e) => refused(&state, jar, &scope, &colleague, e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct LevelForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    level: String,
}

pub async fn level(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path((org, user)): Path<(String, String)>,
    Form(form): Form<LevelForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    let (scope, colleague) = colleague(&state, &verified, &org, &user, &ctx).await?;
    let level = match form.level.as_str() {
        "approver" => Level::Approver,
        "member" => Level::Member,
        _ => {
            let e = DirectoryError::Field("level", "Choose approver or member".into());
            return refused(&state, jar, &scope, &colleague, e).await;
        }
    };
    match state
        .approvals
        .set_level(&scope, &colleague, level, &ctx)
        .await
    {
        Ok(()) => Ok(Redirect::to(&person_path(&org, &user, level.as_str())).into_response()),
        Err(e) => refused(&state, jar, &scope, &colleague, e).await,
    }
}

#[derive(Template)]
#[template(path = "organisation/remove.html")]
struct RemovePage {
    layout: Layout,
    csrf_token: String,
    org_id: String,
    organisation: String,
    user_id: String,
    name: String,
}

pub async fn confirm_remove(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    Path((org, user)): Path<(String, String)>,
) -> Result<Response, Error> {
    let (scope, colleague) = colleague(&state, &verified, &org, &user, &ctx).await?;
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = RemovePage {
        layout: Layout::default(),
        csrf_token,
        org_id: scope.organisation.id.clone(),
        organisation: scope.organisation.name.clone(),
        user_id: colleague.user.id.clone(),
        name: format!(
            "{} {}",
            colleague.user.given_name, colleague.user.family_name
        ),
    };
    Ok((jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn remove(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path((org, user)): Path<(String, String)>,
    Form(form): Form<RemoveForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    let (scope, colleague) = colleague(&state, &verified, &org, &user, &ctx).await?;
    match state.approvals.remove(&scope, &colleague, &ctx).await {
        Ok(()) => Ok(Redirect::to(&format!("/organisation/{org}?notice=removed")).into_response()),
        Err(e) => refused(&state, jar, &scope, &colleague, e).await,
    }
}
