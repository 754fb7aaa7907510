//! `/sign-in` and `/sign-out`: the first thing a member of staff touches.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::client::Client;
use super::current_user::MaybeUser;
use super::forms::FormErrors;
use super::pages::{Layout, MessagePage};
use super::{AppState, Error, csrf, return_to};
use crate::auth::SignInError;
use crate::auth::password::Password;
use crate::domain::{Email, EmailError};

/// Shown for every refused sign-in, whatever the reason (PRODUCT.md: never say which part).
pub const REFUSED: &str = "Enter the correct email address and password for your account";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in", get(show).post(submit))
        .route("/sign-out", post(sign_out))
        .route("/signed-out", get(signed_out))
}

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
struct SignInPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    return_to: String,
    email: String,
    /// Whether to offer "Sign in with a passkey" (not on a bare IP address).
    passkeys: bool,
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    return_to: Option<String>,
    /// Pre-fills the email address (OIDC `login_hint`).
    login_hint: Option<String>,
    /// Asks a signed-in person to prove who they are again (`prompt=login`, `max_age`).
    reauth: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    MaybeUser(signed_in): MaybeUser,
    jar: CookieJar,
    Query(query): Query<ShowQuery>,
) -> Result<Response, Error> {
    let return_to = return_to::safe(query.return_to.as_deref());
    let email = match (&signed_in, query.reauth.is_some()) {
        (Some(_), false) => return Ok(Redirect::to(&return_to).into_response()),
        (Some(current), true) => current.user.email.clone(),
        (None, _) => query
            .login_hint
            .filter(|h| h.len() <= 254 && h.contains('@'))
            .unwrap_or_default(),
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = SignInPage {
        layout: Layout::default(),
        form: FormErrors::default(),
        csrf_token,
        return_to,
        email,
        passkeys: state.auth.keys_available(),
    };
    Ok((jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn submit(
    State(state): State<AppState>,
    MaybeUser(previous): MaybeUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let return_to = return_to::safe(Some(&form.return_to));
    let mut errors = FormErrors::default();
    let email = Email::parse(&form.email).map_err(|e| match e {
        EmailError::Empty => errors.add("email", "Enter your email address"),
        other => errors.add("email", other.to_string()),
    });
    let password = Password::from_input(&form.password).map_err(|e| match e {
        crate::auth::password::InputError::Empty => errors.add("password", "Enter your password"),
        other => errors.add("password", other.to_string()),
    });
    let (Ok(email), Ok(password)) = (email, password) else {
        return form_page(
            &state,
            jar,
            errors,
            return_to,
            form.email,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state.auth.sign_in(&email, &password, &ctx).await {
        Ok(signed_in) if signed_in.second_step => {
            // No session yet: only the second step can be reached with this cookie.
            let jar = jar.add(
                state
                    .cookies
                    .pending(signed_in.token.cookie_value().to_owned()),
            );
            let back = return_to::encode(&return_to);
            Ok((
                jar,
                Redirect::to(&format!("/sign-in/verify?return_to={back}")),
            )
                .into_response())
        }
        Ok(signed_in) => {
            if let Some(old) = previous {
                state.auth.discard_session(&old).await?;
            }
            let jar = jar.add(
                state
                    .cookies
                    .session(signed_in.token.cookie_value().to_owned()),
            );
            let jar = csrf::rotate(jar, state.cookies)?;
            if signed_in.must_set_up_mfa {
                let back = return_to::encode(&return_to);
                let to = format!("/account/security/required?return_to={back}");
                return Ok((jar, Redirect::to(&to)).into_response());
            }
            Ok((jar, Redirect::to(&return_to)).into_response())
        }
        Err(SignInError::Refused(_)) => {
            errors.add("email", REFUSED);
            form_page(
                &state,
                jar,
                errors,
                return_to,
                form.email,
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(SignInError::Throttled {
            retry_after_seconds,
        }) => Ok(super::error::too_many_attempts(retry_after_seconds)),
        Err(SignInError::Auth(e)) => Err(e.into()),
    }
}

pub(super) fn form_page(
    state: &AppState,
    jar: CookieJar,
    form: FormErrors,
    return_to: String,
    email: String,
    status: StatusCode,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = SignInPage {
        layout: Layout::default(),
        form,
        csrf_token,
        return_to,
        email,
        passkeys: state.auth.keys_available(),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

async fn sign_out(
    State(state): State<AppState>,
    MaybeUser(current): MaybeUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<csrf::TokenOnly>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    if let Some(current) = current {
        state.auth.sign_out(&current, &ctx).await?;
    }
    let jar = jar.add(state.cookies.removal(state.cookies.session_name()));
    let jar = csrf::rotate(jar, state.cookies)?;
    Ok((jar, Redirect::to("/signed-out")).into_response())
}

async fn signed_out() -> Result<Response, Error> {
    let page = MessagePage {
        layout: Layout::default(),
        heading: "You have signed out",
        paragraphs: vec!["You have signed out of Gatehouse on this device."],
        link_href: "/sign-in",
        link_text: "Sign in again",
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(page.render()?)).into_response())
}
