//! One error type for handlers. People see a plain page with the request id, never
//! internals; the internals go to the log under that same id.

use std::any::Any;

use askama::Template;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::observe::current_request_id;
use super::pages::ErrorPage;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("page not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => error_page(StatusCode::NOT_FOUND, false),
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
