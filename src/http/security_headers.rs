//! Headers that make every response safer in a browser: no inline script, no framing
//! (clickjacking), no MIME sniffing, no referrer leaks of codes, and HSTS over https.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// No inline script or style anywhere; the only script will be our own WebAuthn module.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

const HSTS: &str = "max-age=31536000; includeSubDomains";

const ALWAYS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
    // Pages about accounts must never sit in a shared cache or the back-button cache;
    // static assets set their own long-lived value first.
    ("cache-control", "no-store"),
];

/// Whether browsers reach us over https (then HSTS is sent too).
#[derive(Debug, Clone, Copy)]
pub struct Https(pub bool);

/// Adds each header unless the handler already chose a value for it.
pub async fn apply(State(Https(https)): State<Https>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers: &mut HeaderMap = response.headers_mut();
    for (name, value) in ALWAYS {
        if !headers.contains_key(*name) {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}
