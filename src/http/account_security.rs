//! `/account/security`: how a person signs in — their authenticator apps, security keys,
//! passkeys and recovery codes — and the password check that a change of them needs.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::account::format_time;
use super::client::Client;
use super::current_user::CurrentUser;
use super::forms::FormErrors;
use super::pages::Layout;
use super::{AppState, Error, csrf, return_to};
use crate::auth::CurrentSession;
use crate::auth::mfa::{MfaError, RecoveryCodes};
use crate::auth::password::{InputError, Password};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/security", get(overview))
        .route("/account/security/remove", post(remove))
        .route("/account/security/recovery-codes", post(new_codes))
        .route("/account/security/confirm", get(confirm_form).post(confirm))
        .route("/account/security/required", get(required))
}

/// One method on the page.
#[derive(Debug)]
struct FactorView {
    kind: &'static str,
    kind_label: &'static str,
    id: String,
    name: String,
    added: String,
    last_used: String,
    note: &'static str,
}

#[derive(Template)]
#[template(path = "account/security.html")]
struct SecurityPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    factors: Vec<FactorView>,
    recovery_left: i64,
    keys_available: bool,
    csrf_token: String,
}

#[derive(Debug, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn overview(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    jar: CookieJar,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, Error> {
    let notice = match query.notice.as_deref() {
        Some("added") => Some("The sign-in method has been added."),
        Some("removed") => Some("The sign-in method has been removed."),
        _ => None,
    };
    security_page(
        &state,
        jar,
        &current,
        FormErrors::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

async fn security_page(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentSession,
    form: FormErrors,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, Error> {
    let factors = state.auth.factors(&current.user.id).await?;
    let mut views: Vec<FactorView> = factors
        .apps
        .iter()
        .map(|a| FactorView {
            kind: "authenticator_app",
            kind_label: "Authenticator app",
            id: a.id.clone(),
            name: a.name.clone(),
            added: format_time(a.confirmed_at.unwrap_or(a.created_at)),
            last_used: a
                .last_used_at
                .map_or_else(|| "Never".to_owned(), format_time),
            note: if a.disabled_at.is_some() {
                "Turned off after too many wrong codes"
            } else {
                ""
            },
        })
        .collect();
    views.extend(factors.keys.iter().map(|k| {
        FactorView {
            kind: if k.kind == "passkey" {
                "passkey"
            } else {
                "security_key"
            },
            kind_label: if k.kind == "passkey" {
                "Passkey"
            } else {
                "Security key"
            },
            id: k.id.clone(),
            name: k.name.clone(),
            added: format_time(k.created_at),
            last_used: k
                .last_used_at
                .map_or_else(|| "Never".to_owned(), format_time),
            note: if k.counter_regressed_at.is_some() {
                "May have been copied: remove it"
            } else {
                ""
            },
        }
    }));
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = SecurityPage {
        layout: Layout::default(),
        form,
        notice,
        factors: views,
        recovery_left: factors.recovery_left,
        keys_available: state.auth.keys_available(),
        csrf_token,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

/// Where someone goes to confirm their password before coming back to `back`.
pub(super) fn confirm_first(back: &str) -> Response {
    let to = format!(
        "/account/security/confirm?return_to={}",
        return_to::encode(back)
    );
    Redirect::to(&to).into_response()
}

#[derive(Debug, Deserialize)]
struct RemoveForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    id: String,
}

async fn remove(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<RemoveForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    match state
        .auth
        .remove_factor(&current, &form.kind, &form.id, &ctx)
        .await
    {
        Ok(_) => Ok(Redirect::to("/account/security?notice=removed").into_response()),
        Err(MfaError::NeedsRecentAuthentication) => Ok(confirm_first("/account/security")),
        Err(MfaError::Auth(e)) => Err(e.into()),
        Err(e) => {
            let mut errors = FormErrors::default();
            errors.add("methods", e.to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            security_page(&state, jar, &current, errors, None, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
pub(super) struct RecoveryCodesPage {
    pub layout: Layout,
    pub heading: &'static str,
    pub codes: Vec<String>,
    /// The codes as a `data:` URL, for "Download as a text file".
    pub download: String,
    pub continue_to: String,
}

impl RecoveryCodesPage {
    pub fn new(heading: &'static str, codes: &RecoveryCodes, continue_to: String) -> Self {
        let shown = codes.shown();
        let text = format!(
            "Gatehouse recovery codes\r\nEach code works once.\r\n\r\n{}\r\n",
            shown.join("\r\n")
        );
        let download = format!(
            "data:text/plain;charset=utf-8,{}",
            url::form_urlencoded::byte_serialize(text.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        );
        Self {
            layout: Layout::default(),
            heading,
            codes: shown,
            download,
            continue_to,
        }
    }

    /// Shown once: never cached, never stored by the browser.
    pub fn response(&self, jar: CookieJar) -> Result<Response, Error> {
        Ok((
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            jar,
            Html(self.render()?),
        )
            .into_response())
    }
}

async fn new_codes(
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
    match state.auth.regenerate_recovery_codes(&current, &ctx).await {
        Ok(codes) => RecoveryCodesPage::new(
            "Your new recovery codes",
            &codes,
            "/account/security".to_owned(),
        )
        .response(jar),
        Err(MfaError::NeedsRecentAuthentication) => Ok(confirm_first("/account/security")),
        Err(MfaError::Auth(e)) => Err(e.into()),
        Err(e) => {
            let mut errors = FormErrors::default();
            errors.add("methods", e.to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            security_page(&state, jar, &current, errors, None, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "account/confirm_password.html")]
struct ConfirmPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    return_to: String,
    email: String,
}

#[derive(Debug, Deserialize)]
struct ReturnQuery {
    return_to: Option<String>,
}

async fn confirm_form(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    jar: CookieJar,
    Query(query): Query<ReturnQuery>,
) -> Result<Response, Error> {
    let back = return_to::safe(query.return_to.as_deref());
    confirm_page(
        &state,
        jar,
        &current,
        FormErrors::default(),
        back,
        StatusCode::OK,
    )
}

fn confirm_page(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentSession,
    form: FormErrors,
    return_to: String,
    status: StatusCode,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ConfirmPage {
        layout: Layout::default(),
        form,
        csrf_token,
        return_to,
        email: current.user.email.clone(),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    password: String,
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
    let back = return_to::safe(Some(&form.return_to));
    let mut errors = FormErrors::default();
    let password = match Password::from_input(&form.password) {
        Ok(p) => p,
        Err(InputError::Empty) => {
            errors.add("password", "Enter your password");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return confirm_page(&state, jar, &current, errors, back, status);
        }
        Err(e) => {
            errors.add("password", e.to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return confirm_page(&state, jar, &current, errors, back, status);
        }
    };
    if state.auth.reauthenticate(&current, &password, &ctx).await? {
        Ok(Redirect::to(&back).into_response())
    } else {
        errors.add("password", "The password is not right");
        confirm_page(
            &state,
            jar,
            &current,
            errors,
            back,
            StatusCode::UNAUTHORIZED,
        )
    }
}

#[derive(Template)]
#[template(path = "account/mfa_required.html")]
struct RequiredPage {
    layout: Layout,
    return_to_encoded: String,
    keys_available: bool,
}

/// A service needs 2-step verification and the person has none: set one up first.
async fn required(
    State(state): State<AppState>,
    CurrentUser(_current): CurrentUser,
    Query(query): Query<ReturnQuery>,
) -> Result<Response, Error> {
    let back = return_to::safe(query.return_to.as_deref());
    let page = RequiredPage {
        layout: Layout::default(),
        return_to_encoded: return_to::encode(&back),
        keys_available: state.auth.keys_available(),
    };
    Ok(Html(page.render()?).into_response())
}
