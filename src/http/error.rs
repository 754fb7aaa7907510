//! One error type for handlers. People see a plain page with the request id, never
//! internals; the internals go to the log under that same id.

use std::any::Any;

use askama::Template;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::observe::current_request_id;
use super::pages::ErrorPage;
use crate::auth::AuthError;
use crate::auth::session::RandomError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("page not found")]
    NotFound,
    /// Signed in, but not allowed here (not an approver of that organisation, not staff).
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Directory(crate::directory::DirectoryError),
    /// Something on the server failed that no input could fix (the keys folder, the OS
    /// random source): logged, answered with the 500 page.
    #[error("{0}")]
    Internal(String),
}

impl From<crate::directory::DirectoryError> for Error {
    fn from(e: crate::directory::DirectoryError) -> Self {
        use crate::directory::DirectoryError as D;
        match e {
            D::NotApprover => Self::Forbidden,
            D::NotFound | D::NoSuchPerson | D::NoSuchRequest => Self::NotFound,
            D::Store(e) => Self::Store(e),
            other => Self::Directory(other),
        }
    }
}

/// How long to suggest waiting when password hashing is saturated.
const BUSY_RETRY_SECONDS: u64 = 5;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => error_page(StatusCode::NOT_FOUND, false),
            Self::Forbidden => error_page(StatusCode::FORBIDDEN, false),
            Self::Store(e) | Self::Auth(AuthError::Store(e)) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable; asked the person to retry");
                page_with_detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Gatehouse cannot reach its records for a moment. Wait a few seconds, then \
                     try again."
                        .to_owned(),
                    BUSY_RETRY_SECONDS,
                )
            }
            Self::Auth(e) if e.is_busy() => {
                tracing::warn!("password hashing is saturated; asked the person to retry");
                page_with_detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "A lot of people are signing in at once. Wait a few seconds, then try again."
                        .to_owned(),
                    BUSY_RETRY_SECONDS,
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                error_page(StatusCode::INTERNAL_SERVER_ERROR, false)
            }
        }
    }
}

/// Whether the client asked for JSON rather than a page.
pub fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept.contains("application/json") && !accept.contains("text/html")
}

/// The page (or JSON body) for an error status, carrying the request id.
pub fn error_page(status: StatusCode, json: bool) -> Response {
    let request_id = current_request_id().unwrap_or_default();
    let page = ErrorPage::for_status(status, request_id.clone());
    if json {
        let body = serde_json::json!({
            "error": page.code,
            "message": page.heading,
            "request_id": request_id,
        });
        return (status, Json(body)).into_response();
    }
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page did not render");
            (
                status,
                format!("{} (request id {request_id})", page.heading),
            )
                .into_response()
        }
    }
}

/// The 403 page with a sentence saying what would let the person in.
pub fn forbidden_because(detail: &str) -> Response {
    let request_id = current_request_id().unwrap_or_default();
    let mut page = ErrorPage::for_status(StatusCode::FORBIDDEN, request_id);
    page.detail = Some(detail.to_owned());
    match page.render() {
        Ok(html) => (StatusCode::FORBIDDEN, Html(html)).into_response(),
        Err(_) => (StatusCode::FORBIDDEN, page.heading).into_response(),
    }
}

/// The 403 page for a form that failed the CSRF check.
pub fn forbidden() -> Response {
    tracing::warn!("form refused: CSRF check failed");
    error_page(StatusCode::FORBIDDEN, false)
}

/// The 429 page, saying when to try again.
pub fn too_many_attempts(retry_after_seconds: u64) -> Response {
    let wait = if retry_after_seconds <= 90 {
        format!("Wait {retry_after_seconds} seconds, then try again.")
    } else {
        format!(
            "Wait {} minutes, then try again.",
            retry_after_seconds.div_ceil(60)
        )
    };
    page_with_detail(StatusCode::TOO_MANY_REQUESTS, wait, retry_after_seconds)
}

/// An error page with a sentence for the occasion and a `Retry-After` header.
fn page_with_detail(status: StatusCode, detail: String, retry_after_seconds: u64) -> Response {
    let request_id = current_request_id().unwrap_or_default();
    let mut page = ErrorPage::for_status(status, request_id);
    page.detail = Some(detail);
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, page.heading).into_response(),
    };
    set_retry_after(&mut response, retry_after_seconds);
    response
}

fn set_retry_after(response: &mut Response, seconds: u64) {
    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// Turns a panic in a handler into the 500 page (the panic message stays in the log).
pub fn panic_response(_payload: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    error_page(StatusCode::INTERNAL_SERVER_ERROR, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_show_no_internals() {
        let error = Error::Store(StoreError::Corrupt("secret table detail".to_owned()));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("secret table detail"));
        assert!(body.contains("Sorry, there is a problem with the service"));
    }
}
