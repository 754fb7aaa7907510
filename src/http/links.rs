//! What the pages reached from emailed links share: opening a link (its secret leaves the
//! address bar for a cookie), the one "this link has expired" page, the new-password form,
//! and `Referrer-Policy: no-referrer` on all of them.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::forms::FormErrors;
use super::pages::Layout;
use super::{AppState, Error, csrf};
use crate::account::FlowError;
use crate::auth::password::{InputError, Password};

#[derive(Template)]
#[template(path = "auth/link_expired.html")]
struct ExpiredPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "auth/new_password.html")]
struct NewPasswordPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    heading: &'static str,
    action: &'static str,
    email: String,
    min_length: usize,
}

/// Stops a page's address (which may have held a secret) leaking to any other site.
pub fn no_referrer(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The one answer for a link that is unknown, used, superseded, expired or truncated.
pub fn expired(state: &AppState, jar: CookieJar) -> Result<Response, Error> {
    let jar = jar.add(state.cookies.removal(state.cookies.link_name()));
    let page = ExpiredPage {
        layout: Layout::default(),
    };
    Ok(no_referrer(
        (StatusCode::GONE, jar, Html(page.render()?)).into_response(),
    ))
}

/// Opens an emailed link: its secret becomes a cookie handle and the browser moves on to
/// `next`, an address without the secret.
pub async fn open(
    state: &AppState,
    jar: CookieJar,
    purpose: &str,
    secret: &str,
    next: &'static str,
) -> Result<Response, Error> {
    match state.lifecycle.open_link(purpose, secret).await {
        Ok(handle) => {
            let jar = jar.add(state.cookies.link(handle));
            Ok(no_referrer((jar, Redirect::to(next)).into_response()))
        }
        Err(FlowError::LinkExpired) => expired(state, jar),
        Err(e) => Err(flow_error(e)),
    }
}

/// The browser's link handle, if it has one.
pub fn handle(state: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(state.cookies.link_name())
        .map(|c| c.value().to_owned())
}

/// Which new-password page to show.
#[derive(Debug, Clone, Copy)]
pub struct NewPasswordForm {
    pub heading: &'static str,
    pub action: &'static str,
}

pub async fn new_password_page(
    state: &AppState,
    jar: CookieJar,
    which: NewPasswordForm,
    email: String,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = NewPasswordPage {
        layout: Layout::default(),
        form,
        csrf_token,
        heading: which.heading,
        action: which.action,
        email,
        min_length: state.auth.policies().current().await?.password_min(false),
    };
    Ok(no_referrer(
        (status, jar, Html(page.render()?)).into_response(),
    ))
}

/// The new-password form fields (reset and activation).
#[derive(Debug, serde::Deserialize)]
pub struct NewPasswordFields {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub confirm_password: String,
}

/// `GET` of a new-password page: the form for the browser's live link, or the expired page.
pub async fn show_form(
    state: &AppState,
    jar: CookieJar,
    purpose: &str,
    which: NewPasswordForm,
) -> Result<Response, Error> {
    let Some(handle) = handle(state, &jar) else {
        return expired(state, jar);
    };
    match state.lifecycle.link_for(purpose, &handle).await {
        Ok((_, user)) => {
            new_password_page(
                state,
                jar,
                which,
                user.email,
                FormErrors::default(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => failed(state, jar, which, String::new(), e).await,
    }
}

/// A submitted new-password form, checked as far as it can be before the use case runs.
#[derive(Debug)]
pub enum Submitted {
    /// A live link and an acceptable pair of passwords.
    Ready {
        handle: String,
        email: String,
        password: Password,
        jar: CookieJar,
    },
    /// Already answered: refused form, expired link, or field errors.
    Answered(Response),
}

pub async fn read_submission(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    form: &NewPasswordFields,
    purpose: &str,
    which: NewPasswordForm,
) -> Result<Submitted, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, headers) {
        return Ok(Submitted::Answered(super::error::forbidden()));
    }
    let Some(handle) = handle(state, &jar) else {
        return expired(state, jar).map(Submitted::Answered);
    };
    let (_, user) = match state.lifecycle.link_for(purpose, &handle).await {
        Ok(found) => found,
        Err(e) => {
            return failed(state, jar, which, String::new(), e)
                .await
                .map(Submitted::Answered);
        }
    };
    let mut errors = FormErrors::default();
    match read_new_password(&form.new_password, &form.confirm_password, &mut errors) {
        Some(password) => Ok(Submitted::Ready {
            handle,
            email: user.email,
            password,
            jar,
        }),
        None => new_password_page(
            state,
            jar,
            which,
            user.email,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
        .map(Submitted::Answered),
    }
}

/// The answer to a failed reset or activation: a policy refusal beside the field, the
/// expired page, or an internal error.
pub async fn failed(
    state: &AppState,
    jar: CookieJar,
    which: NewPasswordForm,
    email: String,
    e: FlowError,
) -> Result<Response, Error> {
    match e {
        FlowError::Policy(why) => {
            let mut errors = FormErrors::default();
            errors.add("new_password", why.to_string());
            new_password_page(
                state,
                jar,
                which,
                email,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        FlowError::LinkExpired => expired(state, jar),
        other => Err(flow_error(other)),
    }
}

/// Checks the two new-password fields, adding errors beside them.
pub fn read_new_password(
    new_password: &str,
    confirm_password: &str,
    errors: &mut FormErrors,
) -> Option<Password> {
    let password = Password::from_input(new_password).map_err(|e| match e {
        InputError::Empty => errors.add("new_password", "Enter a new password"),
        other => errors.add("new_password", other.to_string()),
    });
    if confirm_password.is_empty() {
        errors.add("confirm_password", "Confirm your new password");
    } else if confirm_password != new_password {
        errors.add(
            "confirm_password",
            "Enter the same password in both new password fields",
        );
    }
    password.ok().filter(|_| errors.is_empty())
}

/// Turns a failure nobody could fix by typing into the handler error.
pub fn flow_error(e: FlowError) -> Error {
    match e {
        FlowError::Internal(e) => Error::Auth(e),
        other => Error::Auth(crate::auth::AuthError::Mail(other.to_string())),
    }
}
