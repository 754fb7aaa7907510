//! GET and POST /authorize (OIDC Core §3.1.2.1), and the return from sign-in. The request
//! is validated, kept server-side under an opaque id, and continued after each step.

use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::responses::{deliver, problem};
use crate::audit::RequestContext;
use crate::auth::CurrentSession;
use crate::http::client::Client as HttpClient;
use crate::http::current_user::MaybeUser;
use crate::http::{AppState, Error, return_to};
use crate::oidc::{AuthorizationRequest, AuthorizeError, Client, IssuedCode, Next};

pub async fn get(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
    HttpClient(ctx): HttpClient,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let params = pairs(query.as_deref().unwrap_or_default().as_bytes());
    start(&state, session, &ctx, jar, &params).await
}

/// POST with `application/x-www-form-urlencoded` parameters (OIDC Core §3.1.2.1).
pub async fn post(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
    HttpClient(ctx): HttpClient,
    jar: CookieJar,
    body: Bytes,
) -> Result<Response, Error> {
    let params = pairs(&body);
    start(&state, session, &ctx, jar, &params).await
}

fn pairs(input: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(input).into_owned().collect()
}

async fn start(
    state: &AppState,
    session: Option<CurrentSession>,
    ctx: &RequestContext,
    jar: CookieJar,
    params: &[(String, String)],
) -> Result<Response, Error> {
    let issuer = state.config.issuer.as_str();
    match state.oidc.validate_authorization(params).await {
        Ok((client, request)) => {
            let id = match state.oidc.save_pending(&request, ctx.ip.as_deref()).await {
                Ok(id) => id,
                Err(AuthorizeError::Throttled(wait)) => {
                    return Ok(super::super::error::too_many_attempts(wait));
                }
                Err(AuthorizeError::Internal(e)) => return Err(e.into()),
                Err(_) => return Err(Error::NotFound),
            };
            let now = state.clock.now();
            proceed(state, session, ctx, jar, &id, &client, &request, now).await
        }
        Err(AuthorizeError::Page(message)) => Ok(problem(
            StatusCode::BAD_REQUEST,
            "There is a problem with the link you followed",
            message,
        )),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            state: st,
            error,
        }) => deliver(&IssuedCode::error_to(
            &redirect_uri,
            response_mode,
            st.as_deref(),
            &error,
            issuer,
        )),
        Err(AuthorizeError::Throttled(wait)) => Ok(super::super::error::too_many_attempts(wait)),
        Err(AuthorizeError::Internal(e)) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    #[serde(default)]
    request: String,
}

/// Where sign-in sends the person back to.
pub async fn resume(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
    HttpClient(ctx): HttpClient,
    jar: CookieJar,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, Error> {
    if query.request.is_empty() {
        return Ok(expired());
    }
    let Some((client, request, created_at)) = state.oidc.pending(&query.request).await? else {
        return Ok(expired());
    };
    proceed(
        &state,
        session,
        &ctx,
        jar,
        &query.request,
        &client,
        &request,
        created_at,
    )
    .await
}

pub fn expired() -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "This sign-in link has expired",
        "You took too long, or you have already used this link.".to_owned(),
    )
}

pub fn resume_path(request_id: &str) -> String {
    format!("/authorize/resume?request={request_id}")
}

#[allow(clippy::too_many_arguments)]
async fn proceed(
    state: &AppState,
    session: Option<CurrentSession>,
    ctx: &RequestContext,
    jar: CookieJar,
    request_id: &str,
    client: &Client,
    request: &AuthorizationRequest,
    requested_at: DateTime<Utc>,
) -> Result<Response, Error> {
    let next = state
        .oidc
        .next_step(client, request, requested_at, session.as_ref())
        .await?;
    match (next, session) {
        (Next::Issue, Some(session)) => {
            match state
                .oidc
                .approve(request_id, client, request, &session, false, ctx)
                .await
            {
                Ok(issued) => deliver(&issued),
                Err(_) => Ok(expired()),
            }
        }
        (Next::Consent, Some(session)) => {
            super::consent::page(state, jar, request_id, client, request, &session)
        }
        (Next::ChooseOrganisation(orgs), Some(_)) => super::organisation::choose_page(
            state,
            jar,
            request_id,
            client,
            &orgs,
            crate::http::forms::FormErrors::default(),
        ),
        (Next::NoAccess, Some(session)) => {
            super::organisation::no_access(state, client, &session).await
        }
        (Next::SecondFactor, Some(_)) => {
            // Step-up: a second factor, not the password again (or set-up if there is none).
            let back = return_to::encode(&resume_path(request_id));
            Ok(Redirect::to(&format!("/sign-in/verify?return_to={back}")).into_response())
        }
        (Next::Fail(error), _) => {
            let issued = state.oidc.fail(request_id, request, &error).await?;
            deliver(&issued)
        }
        (_, session) => {
            let back = return_to::encode(&resume_path(request_id));
            let mut to = format!("/sign-in?return_to={back}");
            if session.is_some() {
                to.push_str("&reauth=1");
            } else if let Some(hint) = &request.login_hint {
                to.push_str("&login_hint=");
                to.push_str(&return_to::encode(hint));
            }
            Ok(Redirect::to(&to).into_response())
        }
    }
}
