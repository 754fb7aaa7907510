//! `/manage/staff`: administrators see who holds each staff role, grant a role to an account
//! by email address and take one away. Nobody changes their own roles; every change is
//! audited (as `gatehouse staff grant|revoke` is).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::super::client::Client;
use super::super::forms::FormErrors;
use super::super::organisation::day;
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::{StaffUser, require};
use crate::audit::Actor;
use crate::domain::{Email, UserId};
use crate::staff::{Capability, StaffError, StaffRole};

struct Holder {
    user_id: String,
    name: String,
    email: String,
    role: String,
    since: String,
    own: bool,
}

#[derive(Template)]
#[template(path = "manage/staff.html")]
struct StaffPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    csrf_token: String,
    holders: Vec<Holder>,
    email: String,
    role: String,
}

#[derive(Debug, Deserialize)]
pub struct StaffQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    role: String,
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    me: &str,
    input: &GrantForm,
    form: FormErrors,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, Error> {
    let holders = state
        .store
        .all_staff()
        .await?
        .into_iter()
        .map(|r| Holder {
            own: r.user_id == me,
            name: format!("{} {}", r.given_name, r.family_name),
            since: day(r.granted_at),
            user_id: r.user_id,
            email: r.email,
            role: r.role,
        })
        .collect();
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = StaffPage {
        layout: Layout::default(),
        form,
        notice,
        csrf_token,
        holders,
        email: input.email.clone(),
        role: input.role.clone(),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn staff(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
    Query(query): Query<StaffQuery>,
) -> Result<Response, Error> {
    require(&state, &staff, Capability::ManageStaff).await?;
    let notice = match query.notice.as_deref() {
        Some("granted") => Some("The role was granted."),
        Some("revoked") => Some("The role was taken away."),
        _ => None,
    };
    let me = staff.0.user.id.clone();
    let input = GrantForm::default();
    render(
        &state,
        jar,
        &me,
        &input,
        FormErrors::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// What to say beside the form when a change is refused.
fn refusal(e: StaffError) -> Result<(&'static str, String), Error> {
    Ok(match e {
        StaffError::Store(e) => return Err(e.into()),
        StaffError::OwnRoles => ("email", "You cannot change your own staff roles".to_owned()),
        StaffError::AlreadyHeld(role) => ("role", format!("They already have the {role} role")),
        StaffError::NotHeld(role) => ("role", format!("They do not have the {role} role")),
    })
}

pub async fn grant(
    State(state): State<AppState>,
    staff: StaffUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<GrantForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageStaff).await?;
    let me = staff.0.user.user_id();
    let mut errors = FormErrors::default();
    let user = match Email::parse(&input.email) {
        Ok(email) => state.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    if user.is_none() {
        errors.add("email", "Enter the email address of an existing account");
    }
    let role = StaffRole::parse(&input.role);
    if role.is_none() {
        errors.add("role", "Select a role");
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let (Some(user), Some(role)) = (user, role) else {
        return render(&state, jar, me.as_str(), &input, errors, None, status).await;
    };
    match state
        .staff
        .grant(&user, role, Actor::User(me.clone()), &ctx)
        .await
    {
        Ok(()) => Ok(Redirect::to("/manage/staff?notice=granted").into_response()),
        Err(e) => {
            let (field, message) = refusal(e)?;
            errors.add(field, message);
            render(&state, jar, me.as_str(), &input, errors, None, status).await
        }
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    staff: StaffUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<RevokeForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageStaff).await?;
    let me = staff.0.user.user_id();
    let user = state
        .store
        .user_by_id(&UserId::from_stored(input.user_id.clone()))
        .await?
        .ok_or(Error::NotFound)?;
    let role = StaffRole::parse(&input.role).ok_or(Error::NotFound)?;
    match state
        .staff
        .revoke(&user, role, Actor::User(me.clone()), &ctx)
        .await
    {
        Ok(()) => Ok(Redirect::to("/manage/staff?notice=revoked").into_response()),
        Err(e) => {
            let mut errors = FormErrors::default();
            let (field, message) = refusal(e)?;
            errors.add(field, message);
            let input = GrantForm::default();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, jar, me.as_str(), &input, errors, None, status).await
        }
    }
}
