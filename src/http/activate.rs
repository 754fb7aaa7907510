//! `/activate`: accepting an invitation. The person chooses a password, is signed in, and
//! goes on to the service that invited them (one of its registered addresses) or `/account`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;

use super::client::Client;
use super::current_user::MaybeUser;
use super::forms::FormErrors;
use super::links::{self, NewPasswordForm};
use super::reset::NewPasswordFields;
use super::{AppState, Error, csrf};
use crate::account::{FlowError, purpose};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/activate/{secret}", get(open_link))
        .route("/activate", get(show_form).post(save))
}

const FORM: NewPasswordForm = NewPasswordForm {
    heading: "Create your password",
    action: "/activate",
};

async fn open_link(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(secret): Path<String>,
) -> Result<Response, Error> {
    links::open(&state, jar, purpose::ACTIVATION, &secret, "/activate").await
}

async fn show_form(State(state): State<AppState>, jar: CookieJar) -> Result<Response, Error> {
    let Some(handle) = links::handle(&state, &jar) else {
        return links::expired(&state, jar);
    };
    match state.lifecycle.link_for(purpose::ACTIVATION, &handle).await {
        Ok((_, user)) => links::new_password_page(
            &state,
            jar,
            FORM,
            user.email,
            FormErrors::default(),
            StatusCode::OK,
        ),
        Err(FlowError::LinkExpired) => links::expired(&state, jar),
        Err(e) => Err(links::flow_error(e)),
    }
}

async fn save(
    State(state): State<AppState>,
    MaybeUser(previous): MaybeUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<NewPasswordFields>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let Some(handle) = links::handle(&state, &jar) else {
        return links::expired(&state, jar);
    };
    let (_, user) = match state.lifecycle.link_for(purpose::ACTIVATION, &handle).await {
        Ok(found) => found,
        Err(FlowError::LinkExpired) => return links::expired(&state, jar),
        Err(e) => return Err(links::flow_error(e)),
    };
    let mut errors = FormErrors::default();
    let Some(password) =
        links::read_new_password(&form.new_password, &form.confirm_password, &mut errors)
    else {
        return links::new_password_page(
            &state,
            jar,
            FORM,
            user.email,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state.lifecycle.activate(&handle, &password, &ctx).await {
        Ok(activated) => {
            if let Some(old) = previous {
                state.auth.discard_session(&old).await?;
            }
            let jar = jar
                .add(state.cookies.removal(state.cookies.link_name()))
                .add(
                    state
                        .cookies
                        .session(activated.session.cookie_value().to_owned()),
                );
            let jar = csrf::rotate(jar, state.cookies)?;
            let next = activated
                .return_to
                .unwrap_or_else(|| "/account?notice=activated".to_owned());
            Ok(links::no_referrer(
                (jar, Redirect::to(&next)).into_response(),
            ))
        }
        Err(FlowError::Policy(why)) => {
            errors.add("new_password", why.to_string());
            links::new_password_page(
                &state,
                jar,
                FORM,
                user.email,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(FlowError::LinkExpired) => links::expired(&state, jar),
        Err(e) => Err(links::flow_error(e)),
    }
}
