//! `/account/email`: changing one's own email address with a code sent to the new one.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::client::Client;
use super::current_user::CurrentUser;
use super::forms::FormErrors;
use super::links::flow_error;
use super::pages::Layout;
use super::{AppState, Error, csrf};
use crate::account::FlowError;
use crate::auth::password::{InputError, Password};
use crate::domain::{Email, EmailError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/email", get(show_change).post(change))
        .route("/account/email/confirm", get(show_confirm).post(confirm))
        .route("/account/email/cancel", post(cancel))
}

#[derive(Template)]
#[template(path = "account/change_email.html")]
struct ChangePage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    current: String,
    new_email: String,
}

#[derive(Template)]
#[template(path = "account/confirm_email.html")]
struct ConfirmPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    new_email: String,
}

async fn show_change(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    jar: CookieJar,
) -> Result<Response, Error> {
    change_page(
        &state,
        jar,
        current.user.email,
        String::new(),
        FormErrors::default(),
        StatusCode::OK,
    )
}

fn change_page(
    state: &AppState,
    jar: CookieJar,
    current: String,
    new_email: String,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ChangePage {
        layout: Layout::default(),
        form,
        csrf_token,
        current,
        new_email,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
struct ChangeForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    password: String,
}

async fn change(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<ChangeForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let mut errors = FormErrors::default();
    let shown: String = form
        .new_email
        .chars()
        .filter(|c| !c.is_control())
        .take(254)
        .collect();
    let email = Email::parse(&form.new_email).map_err(|e| match e {
        EmailError::Empty => errors.add("new_email", "Enter your new email address"),
        other => errors.add("new_email", other.to_string()),
    });
    let password = Password::from_input(&form.password).map_err(|e| match e {
        InputError::Empty => errors.add("password", "Enter your password"),
        other => errors.add("password", other.to_string()),
    });
    let (Ok(email), Ok(password)) = (email, password) else {
        return change_page(
            &state,
            jar,
            current.user.email,
            shown,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state
        .lifecycle
        .request_email_change(&current.user, &password, &email, &ctx)
        .await
    {
        Ok(()) => Ok(Redirect::to("/account/email/confirm").into_response()),
        Err(FlowError::Field { field, message }) => {
            errors.add(field, message);
            change_page(
                &state,
                jar,
                current.user.email,
                shown,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(flow_error(e)),
    }
}

async fn show_confirm(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    jar: CookieJar,
) -> Result<Response, Error> {
    match state
        .lifecycle
        .pending_email_change(&current.user.user_id())
        .await
        .map_err(flow_error)?
    {
        Some(pending) => confirm_page(
            &state,
            jar,
            pending.new_email,
            FormErrors::default(),
            StatusCode::OK,
        ),
        None => Ok(Redirect::to("/account/email").into_response()),
    }
}

fn confirm_page(
    state: &AppState,
    jar: CookieJar,
    new_email: String,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ConfirmPage {
        layout: Layout::default(),
        form,
        csrf_token,
        new_email,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    code: String,
}

async fn confirm(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let pending = state
        .lifecycle
        .pending_email_change(&current.user.user_id())
        .await
        .map_err(flow_error)?;
    match state
        .lifecycle
        .confirm_email_change(&current.user, &form.code, &ctx)
        .await
    {
        Ok(_) => Ok(Redirect::to("/account?notice=email-changed").into_response()),
        Err(FlowError::Field { field, message }) => {
            let mut errors = FormErrors::default();
            errors.add(field, message);
            let new_email = pending.map(|p| p.new_email).unwrap_or_default();
            confirm_page(
                &state,
                jar,
                new_email,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(FlowError::EmailTaken) => {
            let mut errors = FormErrors::default();
            errors.add("code", "Another account now uses that email address, so it cannot be yours. Cancel the change and choose another address");
            let new_email = pending.map(|p| p.new_email).unwrap_or_default();
            confirm_page(&state, jar, new_email, errors, StatusCode::CONFLICT)
        }
        Err(e) => Err(flow_error(e)),
    }
}

async fn cancel(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<csrf::TokenOnly>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    state
        .lifecycle
        .cancel_email_change(&current.user, &ctx)
        .await
        .map_err(flow_error)?;
    Ok(Redirect::to("/account?notice=email-change-cancelled").into_response())
}
