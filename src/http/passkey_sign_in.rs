//! "Sign in with a passkey": a discoverable credential with user verification signs someone
//! in without an email address or password. The script asks for options, the browser asks
//! the person, and the answer comes back as an ordinary form post.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::client::Client;
use super::current_user::MaybeUser;
use super::forms::FormErrors;
use super::{AppState, Error, csrf, return_to};
use crate::auth::mfa::MfaError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in/passkey/options", post(options))
        .route("/sign-in/passkey", post(submit))
}

/// Ceremony options for the script, as JSON. Throttled per IP address.
async fn options(
    State(state): State<AppState>,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<csrf::TokenOnly>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    match state.auth.passkey_options(&ctx).await {
        Ok(options) => {
            let parsed: serde_json::Value = serde_json::from_str(&options.options_json)
                .map_err(|e| Error::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
            Ok((
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(serde_json::json!({
                    "handle": options.handle.expose_secret(),
                    "options": parsed,
                })),
            )
                .into_response())
        }
        Err(MfaError::Throttled(seconds)) => Ok(super::error::too_many_attempts(
            u64::try_from(seconds).unwrap_or(60),
        )),
        Err(MfaError::Auth(e)) => Err(e.into()),
        Err(_) => Ok(super::error::error_page(StatusCode::NOT_FOUND, true)),
    }
}

#[derive(Debug, Deserialize)]
struct PasskeyForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    return_to: String,
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
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let return_to = return_to::safe(Some(&form.return_to));
    let result = if form.credential.is_empty() {
        Err(MfaError::KeyRefused("no response".to_owned()))
    } else {
        state
            .auth
            .sign_in_with_passkey(&form.handle, &form.credential, &ctx)
            .await
    };
    match result {
        Ok((_, session)) => {
            if let Some(old) = previous {
                state.auth.discard_session(&old).await?;
            }
            let jar = jar.add(state.cookies.session(session.cookie_value().to_owned()));
            let jar = csrf::rotate(jar, state.cookies)?;
            Ok((jar, Redirect::to(&return_to)).into_response())
        }
        Err(MfaError::Auth(e)) => Err(e.into()),
        Err(e) => {
            let message = match e {
                MfaError::ChallengeExpired => "The passkey took too long to answer. Try again",
                _ => {
                    "Your passkey could not be used to sign in. Try again, or sign in with your email address and password"
                }
            };
            let mut errors = FormErrors::default();
            errors.add("passkey", message);
            super::sign_in::form_page(
                &state,
                jar,
                errors,
                return_to,
                String::new(),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}
