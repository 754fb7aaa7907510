//! The OpenID Connect endpoints. Handlers parse the request, call `crate::oidc`, and
//! render; the protocol decisions live there.

mod authorize;
mod client_auth;
pub(crate) use client_auth::parse_token_request;
mod consent;
mod discovery;
mod end_session;
mod introspect;
mod organisation;
pub(crate) mod responses;
mod token;
mod userinfo;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

pub use consent::{describe_scopes, withdraw_router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/authorize/resume", get(authorize::resume))
        .route("/authorize/consent", post(consent::decide))
        .merge(organisation::router())
        .route("/token", post(token::token))
        .route("/userinfo", get(userinfo::get).post(userinfo::post))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(introspect::revoke))
        .route(
            "/end_session",
            get(end_session::get).post(end_session::post),
        )
}
