//! Adding a sign-in method: an authenticator app from its QR code (or the same secret as
//! text), or a security key or passkey through the WebAuthn module. The first method added
//! brings ten recovery codes, shown once.

use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::account_security::{RecoveryCodesPage, confirm_first};
use super::client::Client;
use super::current_user::CurrentUser;
use super::forms::FormErrors;
use super::pages::Layout;
use super::{AppState, Error, csrf, return_to};
use crate::auth::CurrentSession;
use crate::auth::mfa::{Change, KeyKind, MfaError};

/// Where people go after adding a method when nothing else is waiting.
const DONE: &str = "/account/security?notice=added";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/security/app", get(app_form).post(app_submit))
        .route("/account/security/key", get(key_form).post(key_submit))
}

#[derive(Debug, Deserialize)]
struct SetupQuery {
    return_to: Option<String>,
    kind: Option<String>,
}

fn destination(requested: Option<&str>) -> String {
    match requested {
        Some(path) if !path.is_empty() => return_to::safe(Some(path)),
        _ => DONE.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "account/app_setup.html")]
struct AppSetupPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    return_to: String,
    setup_id: String,
    qr_svg: String,
    secret_text: String,
    name: String,
}

async fn app_form(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    OriginalUri(uri): OriginalUri,
    jar: CookieJar,
    Query(query): Query<SetupQuery>,
) -> Result<Response, Error> {
    if !state.auth.is_recent(current.session.auth_time) {
        return Ok(confirm_first(&uri.to_string()));
    }
    let back = destination(query.return_to.as_deref());
    app_page(
        &state,
        jar,
        &current,
        FormErrors::default(),
        back,
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn app_page(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentSession,
    form: FormErrors,
    return_to: String,
    name: String,
    status: StatusCode,
) -> Result<Response, Error> {
    let setup = state.auth.totp_setup(&current.user).await?;
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let qr_svg = setup
        .qr_svg
        .expose_secret()
        .split_once("<svg")
        .map(|(_, rest)| {
            format!(
                "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\" focusable=\"false\"{rest}"
            )
        })
        .unwrap_or_default();
    let page = AppSetupPage {
        layout: Layout::default(),
        form,
        csrf_token,
        return_to,
        setup_id: setup.id,
        qr_svg,
        secret_text: setup.secret_text.expose_secret().to_owned(),
        name,
    };
    Ok((
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        jar,
        Html(page.render()?),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct AppForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    setup_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
}

async fn app_submit(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<AppForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let back = destination(Some(&form.return_to));
    match state
        .auth
        .confirm_app(&current, &form.setup_id, &form.name, &form.code, &ctx)
        .await
    {
        Ok(change) => added(&state, jar, change, back),
        Err(MfaError::NeedsRecentAuthentication) => Ok(confirm_first("/account/security/app")),
        Err(MfaError::Auth(e)) => Err(e.into()),
        Err(e) => {
            let field = match e {
                MfaError::NameMissing | MfaError::NameTooLong => "name",
                _ => "code",
            };
            let mut errors = FormErrors::default();
            errors.add(field, e.to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            app_page(&state, jar, &current, errors, back, form.name, status).await
        }
    }
}

/// After a method is added: the renewed session, then the recovery codes (first method) or
/// the next page.
fn added(
    state: &AppState,
    jar: CookieJar,
    change: Change,
    back: String,
) -> Result<Response, Error> {
    let jar = jar.add(
        state
            .cookies
            .session(change.session.cookie_value().to_owned()),
    );
    match change.recovery_codes {
        Some(codes) => {
            RecoveryCodesPage::new("Save your recovery codes", &codes, back).response(jar)
        }
        None => Ok((jar, Redirect::to(&back)).into_response()),
    }
}

#[derive(Template)]
#[template(path = "account/key_new.html")]
struct KeyPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    return_to: String,
    kind: &'static str,
    label: &'static str,
    handle: String,
    options_json: String,
    name: String,
}

async fn key_form(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    OriginalUri(uri): OriginalUri,
    jar: CookieJar,
    Query(query): Query<SetupQuery>,
) -> Result<Response, Error> {
    if !state.auth.is_recent(current.session.auth_time) {
        return Ok(confirm_first(&uri.to_string()));
    }
    let kind = query
        .kind
        .as_deref()
        .and_then(KeyKind::parse)
        .unwrap_or(KeyKind::Passkey);
    let back = destination(query.return_to.as_deref());
    key_page(
        &state,
        jar,
        &current,
        kind,
        FormErrors::default(),
        back,
        String::new(),
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn key_page(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentSession,
    kind: KeyKind,
    mut form: FormErrors,
    return_to: String,
    name: String,
    status: StatusCode,
) -> Result<Response, Error> {
    let (handle, options_json) = match state.auth.start_key_registration(&current.user, kind).await
    {
        Ok(options) => (
            options.handle.expose_secret().to_owned(),
            options.options_json,
        ),
        Err(MfaError::Auth(e)) => return Err(e.into()),
        Err(e) => {
            form.add("key", e.to_string());
            (String::new(), String::new())
        }
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = KeyPage {
        layout: Layout::default(),
        form,
        csrf_token,
        return_to,
        kind: kind.as_str(),
        label: kind.label(),
        handle,
        options_json,
        name,
    };
    Ok((
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        jar,
        Html(page.render()?),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct KeyForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    credential: String,
}

async fn key_submit(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let kind = KeyKind::parse(&form.kind).unwrap_or(KeyKind::Passkey);
    let back = destination(Some(&form.return_to));
    let result = if form.credential.is_empty() && !form.name.trim().is_empty() {
        Err(MfaError::KeyRefused(
            "no response: the browser ran no script".to_owned(),
        ))
    } else {
        state
            .auth
            .add_key(&current, &form.handle, &form.credential, &form.name, &ctx)
            .await
    };
    match result {
        Ok(change) => added(&state, jar, change, back),
        Err(MfaError::NeedsRecentAuthentication) => Ok(confirm_first("/account/security")),
        Err(MfaError::Auth(e)) => Err(e.into()),
        Err(e) => {
            let field = match e {
                MfaError::NameMissing | MfaError::NameTooLong => "name",
                _ => "key",
            };
            let mut errors = FormErrors::default();
            errors.add(field, e.to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            key_page(&state, jar, &current, kind, errors, back, form.name, status).await
        }
    }
}
