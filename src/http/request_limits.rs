//! Requests too big to be honest are refused before any handler reads them: a web address
//! over 8 KiB gets 414 and headers over 16 KiB in all get 431 (bodies have their own 413
//! limit). Browsers and services never come near; a flood of padded requests costs us
//! nothing past the connection's read buffer.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::error::{error_page, wants_json};

/// The longest path and query accepted, in bytes.
pub const MAX_URI: usize = 8 * 1024;
/// The most header bytes (names and values) accepted.
pub const MAX_HEADERS: usize = 16 * 1024;

pub async fn limit(request: Request, next: Next) -> Response {
    let uri = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let refused = if uri > MAX_URI {
        Some(StatusCode::URI_TOO_LONG)
    } else if headers > MAX_HEADERS {
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    } else {
        None
    };
    match refused {
        Some(status) => {
            tracing::warn!(
                uri_bytes = uri,
                header_bytes = headers,
                "oversized request refused"
            );
            error_page(status, wants_json(request.headers()))
        }
        None => next.run(request).await,
    }
}
