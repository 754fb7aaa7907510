//! Who is on the other end of a request, for the audit trail and the throttles.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::observe::current_request_id;
use crate::audit::RequestContext;

/// The peer address, user agent and request id of this request.
#[derive(Debug, Clone)]
pub struct Client(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The TCP peer. Behind a load balancer this is the balancer; trusting a forwarded
        // header needs a configured list of proxies, which comes with deployment work.
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        Ok(Self(RequestContext::new(
            ip.as_deref(),
            user_agent,
            current_request_id().as_deref(),
        )))
    }
}
