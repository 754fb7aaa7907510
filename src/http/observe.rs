//! Request ids, access logs and request metrics, in one middleware so they always agree.
//!
//! The id is ours, never the client's (a client-chosen id could forge log lines), goes back
//! in `X-Request-Id`, and is on every log line written while the request is handled.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

pub async fn observe(request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    // Only the path: query strings can carry codes and tokens. Emailed links carry their
    // secret in the path, so for a route with a `{secret}` the route is logged instead.
    let path = if route.contains("{secret}") {
        route.clone()
    } else {
        crate::audit::clean(request.uri().path(), 256)
    };
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span.clone()))
        .await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            path = %path,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "handled"
        );
    });
    super::metrics::record(&route, method.as_str(), status, elapsed);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
