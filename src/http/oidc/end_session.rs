//! /end_session (RP-Initiated Logout 1.0 §2–§3). With a valid `id_token_hint` for the
//! person signed in, they are signed out at once; otherwise they are asked to confirm, so a
//! bare link cannot sign anyone out. Only a registered `post_logout_redirect_uri` is used.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::responses::problem;
use crate::audit::RequestContext;
use crate::auth::CurrentSession;
use crate::http::client::Client as HttpClient;
use crate::http::current_user::MaybeUser;
use crate::http::pages::Layout;
use crate::http::{AppState, Error, csrf};

#[derive(Debug, Default, Deserialize)]
pub struct EndSessionParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "oidc/end_session.html")]
struct ConfirmPage<'a> {
    layout: Layout,
    service: Option<&'a str>,
    csrf_token: String,
    params: &'a EndSessionParams,
}

pub async fn get(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
    HttpClient(ctx): HttpClient,
    jar: CookieJar,
    Query(params): Query<EndSessionParams>,
) -> Result<Response, Error> {
    handle(&state, session, &ctx, jar, &params, false).await
}

pub async fn post(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
    HttpClient(ctx): HttpClient,
    jar: CookieJar,
    headers: HeaderMap,
    Form(params): Form<EndSessionParams>,
) -> Result<Response, Error> {
    let confirmed = !params.csrf_token.is_empty()
        && csrf::is_valid(&jar, state.cookies, &params.csrf_token, &headers);
    handle(&state, session, &ctx, jar, &params, confirmed).await
}

async fn handle(
    state: &AppState,
    session: Option<CurrentSession>,
    ctx: &RequestContext,
    jar: CookieJar,
    params: &EndSessionParams,
    confirmed: bool,
) -> Result<Response, Error> {
    let request = match state
        .oidc
        .validate_end_session(
            params.id_token_hint.as_deref(),
            params.client_id.as_deref(),
            params.post_logout_redirect_uri.as_deref(),
            params.state.as_deref(),
        )
        .await
    {
        Ok(request) => request,
        Err(message) => {
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                "There is a problem with the sign-out link",
                message,
            ));
        }
    };
    let destination = request
        .redirect
        .clone()
        .unwrap_or_else(|| "/signed-out".to_owned());
    let Some(session) = session else {
        return Ok(Redirect::to(&destination).into_response());
    };
    let hinted_here = request.hint_sub.as_deref() == Some(session.user.id.as_str());
    if !(hinted_here || confirmed) {
        let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
        let page = ConfirmPage {
            layout: Layout::default(),
            service: request.client.as_ref().map(|c| c.name.as_str()),
            csrf_token,
            params,
        };
        return Ok((jar, Html(page.render()?)).into_response());
    }
    state.auth.sign_out(&session, ctx).await?;
    let jar = jar.add(state.cookies.removal(state.cookies.session_name()));
    let jar = csrf::rotate(jar, state.cookies)?;
    Ok((jar, Redirect::to(&destination)).into_response())
}
