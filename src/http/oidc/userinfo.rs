//! GET and POST /userinfo (OIDC Core §5.3): the bearer token comes in the Authorization
//! header or a form body (RFC 6750 §2.1–§2.2), never the query string (§2.3 is refused).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::client_auth::Params;
use super::responses::{bearer_error, json_no_store, oauth_error};
use crate::http::AppState;
use crate::oidc::{OAuthError, add_organisation_claims, user_claims};

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if query_has_token(query.as_deref()) {
        return query_token_refused();
    }
    respond(&state, header_token(&headers).as_deref()).await
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if query_has_token(query.as_deref()) {
        return query_token_refused();
    }
    let from_header = header_token(&headers);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body = if is_form {
        Params::parse(&body)
            .get("access_token")
            .ok()
            .flatten()
            .map(str::to_owned)
    } else {
        None
    };
    if from_header.is_some() && from_body.is_some() {
        return bearer_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the token one way only",
        );
    }
    respond(&state, from_header.or(from_body).as_deref()).await
}

fn header_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn query_has_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
    })
}

fn query_token_refused() -> Response {
    bearer_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "send the access token in the Authorization header, not the URL",
    )
}

async fn respond(state: &AppState, token: Option<&str>) -> Response {
    let Some(token) = token else {
        // RFC 6750 §3.1: no credentials at all gets a bare challenge.
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "an access token is required",
        );
    };
    match state.oidc.active_access_token(token).await {
        Ok(Some((info, Some(user)))) => {
            let scopes = info.scopes();
            if !scopes.contains("openid") {
                return bearer_error(
                    StatusCode::FORBIDDEN,
                    "insufficient_scope",
                    "the token was not issued with the openid scope",
                );
            }
            let mut claims = user_claims(&user, &scopes);
            if scopes.contains("organisation")
                && let Some(gid) = &info.gid
            {
                match state.oidc.userinfo_organisation(gid).await {
                    Ok(Some(org)) => add_organisation_claims(&mut claims, org),
                    Ok(None) => {}
                    Err(e) => return oauth_error(OAuthError::from(e)),
                }
            }
            json_no_store(StatusCode::OK, claims)
        }
        Ok(Some((_, None))) => bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "a service's own token does not describe a person",
        ),
        Ok(None) => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is not valid",
        ),
        Err(e) => oauth_error(OAuthError::from(e)),
    }
}
