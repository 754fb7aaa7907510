//! What the pages reached from emailed links share: opening a link (its secret leaves the
//! address bar for a cookie), the one "this link has expired" page, the new-password form,
//! and `Referrer-Policy: no-referrer` on all of them.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::forms::FormErrors;
use super::pages::Layout;
use super::{AppState, Error, csrf};
use crate::account::FlowError;
use crate::auth::password::{InputError, Password, policy_min_length};

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

pub fn new_password_page(
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
        min_length: policy_min_length(false),
    };
    Ok(no_referrer(
        (status, jar, Html(page.render()?)).into_response(),
    ))
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
