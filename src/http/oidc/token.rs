//! POST /token (RFC 6749 §3.2): authenticate the service, then run its grant.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::client_auth::{Params, credentials};
use super::responses::{json_no_store, oauth_error};
use crate::http::AppState;
use crate::oidc::{Client, ClientAuthError, OAuthError, OAuthErrorCode};

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let client = match authenticate(&state, &headers, &params, "/token").await {
        Ok(client) => client,
        Err(response) => return response,
    };
    if let Some(name) = params.first_repeated() {
        return oauth_error(OAuthError::invalid_request(format!(
            "{name} was sent more than once"
        )));
    }
    let get = |name: &str| params.get(name).ok().flatten();
    let grant_type = get("grant_type").unwrap_or_default();
    let result = match grant_type {
        "authorization_code" => {
            state
                .oidc
                .exchange_code(
                    &client,
                    get("code"),
                    get("redirect_uri"),
                    get("code_verifier"),
                )
                .await
        }
        "refresh_token" => {
            state
                .oidc
                .refresh(&client, get("refresh_token"), get("scope"))
                .await
        }
        "client_credentials" => state.oidc.client_credentials(&client, get("scope")),
        "" => Err(OAuthError::invalid_request("grant_type is required")),
        _ => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
    };
    match result {
        Ok(tokens) => {
            metrics::counter!("gatehouse_tokens_issued_total", "grant_type" => grant_type.to_owned())
                .increment(1);
            json_no_store(StatusCode::OK, tokens)
        }
        Err(error) => {
            metrics::counter!("gatehouse_token_errors_total", "error" => error.error.as_str())
                .increment(1);
            oauth_error(error)
        }
    }
}

/// Authenticates the calling service, or the 401 `invalid_client` (or 400) to send.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
) -> Result<Client, Response> {
    let creds = credentials(headers, params)
        .map_err(|why| oauth_error(OAuthError::new(OAuthErrorCode::InvalidClient, why)))?;
    let audience = state.config.issuer.join(endpoint);
    match state.oidc.authenticate_client(&creds, &audience).await {
        Ok(client) => Ok(client),
        Err(ClientAuthError::Failed(why)) => {
            tracing::info!(reason = why, "client authentication failed");
            Err(oauth_error(OAuthError::new(
                OAuthErrorCode::InvalidClient,
                why,
            )))
        }
        Err(ClientAuthError::Replayed) => {
            let why = "client_assertion has already been used";
            tracing::info!(reason = why, "client authentication failed");
            Err(oauth_error(OAuthError::new(
                OAuthErrorCode::InvalidClient,
                why,
            )))
        }
        Err(ClientAuthError::Store(e)) => Err(oauth_error(e.into())),
    }
}
