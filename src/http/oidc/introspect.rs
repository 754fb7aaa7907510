//! POST /introspect (RFC 7662) and POST /revoke (RFC 7009), both client-authenticated.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::Params;
use super::responses::{json_no_store, no_store, oauth_error};
use super::token::authenticate;
use crate::http::AppState;
use crate::oidc::{OAuthError, OAuthErrorCode};

/// RFC 7662 §2.2: anything not active for this caller is exactly `{"active":false}`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    let client = match authenticate(&state, &headers, &params, "/introspect").await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let token = match params.get("token") {
        Ok(Some(token)) => token,
        Ok(None) => return oauth_error(OAuthError::invalid_request("token is required")),
        Err(why) => return oauth_error(OAuthError::invalid_request(why)),
    };
    match state.oidc.introspect(&client, token).await {
        Ok(result) => json_no_store(
            StatusCode::OK,
            result
                .0
                .unwrap_or_else(|| serde_json::json!({ "active": false })),
        ),
        Err(e) => oauth_error(e.into()),
    }
}

/// RFC 7009 §2.2: 200 whether or not the token was known.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let client = match authenticate(&state, &headers, &params, "/revoke").await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let token = match params.get("token") {
        Ok(Some(token)) => token,
        Ok(None) => return oauth_error(OAuthError::invalid_request("token is required")),
        Err(why) => return oauth_error(OAuthError::invalid_request(why)),
    };
    match params.get("token_type_hint") {
        Ok(None | Some("access_token" | "refresh_token")) => {}
        _ => {
            return oauth_error(OAuthError::new(
                OAuthErrorCode::UnsupportedTokenType,
                "token_type_hint must be access_token or refresh_token",
            ));
        }
    }
    match state.oidc.revoke(&client, token).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(e.into()),
    }
}
