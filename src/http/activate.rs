//! `/activate`: accepting an invitation. The person chooses a password, is signed in, and
//! goes on to the service that invited them (one of its registered addresses) or `/account`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;

use super::client::Client;
use super::current_user::MaybeUser;
use super::links::{self, NewPasswordFields, NewPasswordForm, Submitted};
use super::{AppState, Error, csrf};
use crate::account::purpose;

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
    links::show_form(&state, jar, purpose::ACTIVATION, FORM).await
}

async fn save(
    State(state): State<AppState>,
    MaybeUser(previous): MaybeUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<NewPasswordFields>,
) -> Result<Response, Error> {
    let (handle, email, password, jar) =
        match links::read_submission(&state, jar, &headers, &form, purpose::ACTIVATION, FORM)
            .await?
        {
            Submitted::Ready {
                handle,
                email,
                password,
                jar,
            } => (handle, email, password, jar),
            Submitted::Answered(response) => return Ok(response),
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
            let mut next = activated
                .return_to
                .unwrap_or_else(|| "/account?notice=activated".to_owned());
            // Approvers (for instance the first contact of a migrated school) must set up
            // 2-step verification before anything else.
            if state.store.is_approver(activated.user_id.as_str()).await? {
                next = format!(
                    "/account/security/required?return_to={}",
                    crate::http::return_to::encode(&crate::http::return_to::safe(Some(&next)))
                );
            }
            Ok(links::no_referrer(
                (jar, Redirect::to(&next)).into_response(),
            ))
        }
        Err(e) => links::failed(&state, jar, FORM, email, e).await,
    }
}
