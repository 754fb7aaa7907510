//! The web layer: the only code that knows axum. This file only merges one router per area
//! and wraps them in the layers every response needs.

mod account;
mod account_email;
mod account_factors;
mod account_security;
mod activate;
mod assets;
mod client;
mod cookies;
mod csrf;
mod current_user;
mod error;
mod forms;
mod health;
mod links;
mod manage;
mod metrics;
mod observe;
mod oidc;
mod organisation;
mod pages;
mod passkey_sign_in;
mod request_access;
mod request_limits;
mod reset;
mod return_to;
mod second_step;
mod security_headers;
mod sign_in;
mod state;

pub use error::Error;
pub use observe::current_request_id;
pub(crate) use oidc::parse_token_request;
pub use state::AppState;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// The whole application: every route, the fallback page and the shared layers.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let layers = ServiceBuilder::new()
        // Outermost: every response, even a 413 or a timeout, gets an id, a log line and a
        // metric.
        .layer(axum::middleware::from_fn(observe::observe))
        .layer(axum::middleware::from_fn_with_state(
            security_headers::Https(config.issuer.is_https()),
            security_headers::apply,
        ))
        .layer(axum::middleware::from_fn(request_limits::limit))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(config.request_timeout_seconds),
        ))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(DefaultBodyLimit::max(config.body_limit));
    Router::new()
        .merge(health::router())
        .merge(pages::router())
        .merge(assets::router())
        .merge(sign_in::router())
        .merge(second_step::router())
        .merge(passkey_sign_in::router())
        .merge(account::router())
        .merge(account_email::router())
        .merge(account_security::router())
        .merge(account_factors::router())
        .merge(reset::router())
        .merge(activate::router())
        .merge(organisation::router())
        .merge(request_access::router())
        .merge(manage::router())
        .merge(oidc::router())
        .merge(oidc::withdraw_router())
        .fallback(pages::not_found)
        .layer(layers)
        .with_state(state)
}
