//! `/forgot-password` and `/reset-password`: a member of staff resets their own password in
//! a few clicks. The request page answers the same, at once, whatever the address.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::client::Client;
use super::forms::FormErrors;
use super::links::{self, NewPasswordFields, NewPasswordForm, Submitted};
use super::pages::{Layout, MessagePage};
use super::{AppState, Error, csrf};
use crate::account::purpose;
use crate::domain::{Email, EmailError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/forgot-password", get(show_request).post(request))
        .route("/reset-password/{secret}", get(open_link))
        .route("/reset-password", get(show_form).post(save))
}

const FORM: NewPasswordForm = NewPasswordForm {
    heading: "Choose a new password",
    action: "/reset-password",
};

#[derive(Template)]
#[template(path = "auth/forgot_password.html")]
struct RequestPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    email: String,
}

#[derive(Template)]
#[template(path = "auth/check_email.html")]
struct CheckEmailPage {
    layout: Layout,
    email: String,
}

async fn show_request(State(state): State<AppState>, jar: CookieJar) -> Result<Response, Error> {
    request_page(
        &state,
        jar,
        FormErrors::default(),
        String::new(),
        StatusCode::OK,
    )
}

fn request_page(
    state: &AppState,
    jar: CookieJar,
    form: FormErrors,
    email: String,
    status: StatusCode,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = RequestPage {
        layout: Layout::default(),
        form,
        csrf_token,
        email,
    };
    Ok(links::no_referrer(
        (status, jar, Html(page.render()?)).into_response(),
    ))
}

#[derive(Debug, Deserialize)]
struct RequestForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
}

/// Answers at once with the same page whatever happens next: the lookup, throttles and
/// queueing run after the answer, so neither the words nor the timing say whether the
/// address has an account.
async fn request(
    State(state): State<AppState>,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<RequestForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let mut errors = FormErrors::default();
            match e {
                EmailError::Empty => errors.add("email", "Enter your email address"),
                other => errors.add("email", other.to_string()),
            }
            let shown: String = form
                .email
                .chars()
                .filter(|c| !c.is_control())
                .take(254)
                .collect();
            return request_page(&state, jar, errors, shown, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    state
        .lifecycle
        .request_reset_in_background(email.clone(), ctx);
    let page = CheckEmailPage {
        layout: Layout::default(),
        email: email.as_str().to_owned(),
    };
    Ok(links::no_referrer(Html(page.render()?).into_response()))
}

async fn open_link(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(secret): Path<String>,
) -> Result<Response, Error> {
    links::open(&state, jar, purpose::RESET, &secret, "/reset-password").await
}

async fn show_form(State(state): State<AppState>, jar: CookieJar) -> Result<Response, Error> {
    links::show_form(&state, jar, purpose::RESET, FORM).await
}

async fn save(
    State(state): State<AppState>,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<NewPasswordFields>,
) -> Result<Response, Error> {
    let (handle, email, password, jar) =
        match links::read_submission(&state, jar, &headers, &form, purpose::RESET, FORM).await? {
            Submitted::Ready {
                handle,
                email,
                password,
                jar,
            } => (handle, email, password, jar),
            Submitted::Answered(response) => return Ok(response),
        };
    match state
        .lifecycle
        .complete_reset(&handle, &password, &ctx)
        .await
    {
        Ok(()) => {
            let jar = jar.add(state.cookies.removal(state.cookies.link_name()));
            // Any session this browser had is gone with all the others.
            let jar = jar.add(state.cookies.removal(state.cookies.session_name()));
            let page = MessagePage {
                layout: Layout::default(),
                heading: "Your password has been saved",
                paragraphs: vec![
                    "You have been signed out everywhere, and we have emailed you to say the password changed.",
                    "Sign in with your new password.",
                ],
                link_href: "/sign-in",
                link_text: "Sign in",
            };
            Ok(links::no_referrer(
                (jar, Html(page.render()?)).into_response(),
            ))
        }
        Err(e) => links::failed(&state, jar, FORM, email, e).await,
    }
}
