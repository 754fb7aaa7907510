//! `/sign-in/verify`: the second step of signing in, and step-up for a signed-in person whose
//! service needs more than a password. Until it succeeds there is no session at all.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::client::Client;
use super::current_user::MaybeUser;
use super::forms::FormErrors;
use super::pages::{Layout, MessagePage};
use super::{AppState, Error, csrf, return_to};
use crate::auth::mfa::{Amr, Method, MfaError, PendingSignIn, PendingToken};

pub fn router() -> Router<AppState> {
    Router::new().route("/sign-in/verify", get(show).post(submit))
}

#[derive(Template)]
#[template(path = "auth/second_step.html")]
struct SecondStepPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    return_to: String,
    return_to_encoded: String,
    /// `code`, `key` or `recovery`, or empty when nothing is left to use.
    method: &'static str,
    /// The other methods, as (method, link text).
    others: Vec<(&'static str, &'static str)>,
    step_up: bool,
    /// For `key`: the ceremony handle and the options for the browser.
    handle: String,
    options_json: String,
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    return_to: Option<String>,
    method: Option<String>,
}

fn link_text(method: Method) -> &'static str {
    match method {
        Method::Code => "Security code",
        Method::Key => "Use a security key or passkey",
        Method::Recovery => "Use a recovery code",
    }
}

/// The live pending sign-in named by the browser's cookie.
pub(super) async fn pending_of(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Option<PendingSignIn>, Error> {
    let Some(token) = jar
        .get(state.cookies.pending_name())
        .and_then(|c| PendingToken::from_cookie(c.value()))
    else {
        return Ok(None);
    };
    Ok(state.auth.pending_sign_in(&token).await?)
}

async fn show(
    State(state): State<AppState>,
    MaybeUser(signed_in): MaybeUser,
    jar: CookieJar,
    Query(query): Query<ShowQuery>,
) -> Result<Response, Error> {
    let return_to = return_to::safe(query.return_to.as_deref());
    let (pending, jar) = match pending_of(&state, &jar).await? {
        Some(pending) => (pending, jar),
        None => {
            let Some(current) = signed_in else {
                let back = return_to::encode(&return_to);
                return Ok(Redirect::to(&format!("/sign-in?return_to={back}")).into_response());
            };
            let amr = Amr::from_json(&current.session.amr);
            // A verified session may still step up with a key (administrators need one).
            let key_wanted = query.method.as_deref() == Some("key");
            if amr.is_mfa() && (amr.is_phishing_resistant() || !key_wanted) {
                return Ok(Redirect::to(&return_to).into_response());
            }
            if !state.auth.factors(&current.user.id).await?.has_mfa() {
                let back = return_to::encode(&return_to);
                let to = format!("/account/security/required?return_to={back}");
                return Ok(Redirect::to(&to).into_response());
            }
            let token = state.auth.begin_step_up(&current).await?;
            let Some(pending) = state.auth.pending_sign_in(&token).await? else {
                return Err(Error::NotFound);
            };
            let jar = jar.add(state.cookies.pending(token.cookie_value().to_owned()));
            (pending, jar)
        }
    };
    let method = query.method.as_deref().and_then(Method::parse);
    page(
        &state,
        jar,
        &pending,
        method,
        FormErrors::default(),
        return_to,
        StatusCode::OK,
    )
    .await
}

async fn page(
    state: &AppState,
    jar: CookieJar,
    pending: &PendingSignIn,
    wanted: Option<Method>,
    form: FormErrors,
    return_to: String,
    status: StatusCode,
) -> Result<Response, Error> {
    let methods = pending.factors.methods();
    let chosen = wanted
        .filter(|m| methods.contains(m))
        .or_else(|| methods.first().copied());
    let (handle, options_json) = match chosen {
        Some(Method::Key) => match state
            .auth
            .start_key_assertion(&pending.user.id, &pending.factors.keys)
            .await
        {
            Ok(options) => (
                options.handle.expose_secret().to_owned(),
                options.options_json,
            ),
            Err(MfaError::Auth(e)) => return Err(e.into()),
            Err(_) => (String::new(), String::new()),
        },
        _ => (String::new(), String::new()),
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = SecondStepPage {
        layout: Layout::default(),
        form,
        csrf_token,
        return_to_encoded: return_to::encode(&return_to),
        return_to,
        method: chosen.map_or("", Method::as_str),
        others: methods
            .iter()
            .filter(|m| Some(**m) != chosen)
            .map(|m| (m.as_str(), link_text(*m)))
            .collect(),
        step_up: pending.is_step_up(),
        handle,
        options_json,
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
struct VerifyForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    credential: String,
}

async fn submit(
    State(state): State<AppState>,
    MaybeUser(previous): MaybeUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<VerifyForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let return_to = return_to::safe(Some(&form.return_to));
    let Some(pending) = pending_of(&state, &jar).await? else {
        return start_again(&state, jar);
    };
    let method = Method::parse(&form.method);
    let result = match method {
        Some(Method::Code) => state.auth.verify_code(&pending, &form.code, &ctx).await,
        Some(Method::Recovery) => {
            state
                .auth
                .verify_recovery_code(&pending, &form.recovery_code, &ctx)
                .await
        }
        Some(Method::Key) if form.credential.is_empty() => Err(MfaError::KeyRefused(
            "no response: the browser ran no script".to_owned(),
        )),
        Some(Method::Key) => {
            state
                .auth
                .verify_key(&pending, &form.handle, &form.credential, &ctx)
                .await
        }
        None => Err(MfaError::Expired),
    };
    match result {
        Ok(session) => {
            if let Some(old) = previous.filter(|_| !pending.is_step_up()) {
                state.auth.discard_session(&old).await?;
            }
            let jar = jar
                .remove(state.cookies.removal(state.cookies.pending_name()))
                .add(state.cookies.session(session.cookie_value().to_owned()));
            let jar = csrf::rotate(jar, state.cookies)?;
            Ok((jar, Redirect::to(&return_to)).into_response())
        }
        Err(MfaError::Auth(e)) => Err(e.into()),
        Err(MfaError::TooManyAttempts | MfaError::Expired) => start_again(&state, jar),
        Err(e) => {
            let field = match method {
                Some(Method::Recovery) => "recovery_code",
                Some(Method::Key) => "key",
                _ => "code",
            };
            let status = match e {
                MfaError::CodeMissing
                | MfaError::CodeFormat
                | MfaError::RecoveryMissing
                | MfaError::RecoveryFormat => StatusCode::UNPROCESSABLE_ENTITY,
                MfaError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut errors = FormErrors::default();
            errors.add(field, e.to_string());
            // Counts and flags may have changed (an app turned off, a code used).
            let pending = pending_of(&state, &jar).await?.unwrap_or(pending);
            page(&state, jar, &pending, method, errors, return_to, status).await
        }
    }
}

/// The pending sign-in has gone (too many tries, too slow, or finished elsewhere).
fn start_again(state: &AppState, jar: CookieJar) -> Result<Response, Error> {
    let jar = jar.remove(state.cookies.removal(state.cookies.pending_name()));
    let page = MessagePage {
        layout: Layout::default(),
        heading: "Sign in again",
        paragraphs: vec![
            "You took too long, or tried too many times, to finish signing in.",
            "For your security, start again with your email address and password.",
        ],
        link_href: "/sign-in",
        link_text: "Sign in",
    };
    Ok((StatusCode::UNAUTHORIZED, jar, Html(page.render()?)).into_response())
}
