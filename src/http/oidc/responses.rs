//! How protocol outcomes look on the wire: JSON errors (RFC 6749 §5.2) that are never
//! cached, `WWW-Authenticate` challenges (RFC 6750 §3), redirects back to a service with
//! its code or error, and the form_post page (Form Post Response Mode §2).

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::http::Error;
use crate::http::pages::Layout;
use crate::oidc::{IssuedCode, OAuthError, OAuthErrorCode, ResponseMode};

/// Token responses and errors must not be stored by anyone (RFC 6749 §5.1).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON body with `Cache-Control: no-store`.
pub fn json_no_store<T: serde::Serialize>(status: StatusCode, body: T) -> Response {
    no_store((status, Json(body)).into_response())
}

/// An RFC 6749 §5.2 error; `invalid_client` is a 401 with a Basic challenge.
pub fn oauth_error(error: OAuthError) -> Response {
    let status = match error.error {
        OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = json_no_store(status, &error);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gatehouse\""),
        );
    }
    response
}

/// An RFC 6750 §3 error for a protected resource.
pub fn bearer_error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut response = json_no_store(
        status,
        serde_json::json!({ "error": code, "error_description": description }),
    );
    let challenge = format!(
        "Bearer realm=\"gatehouse\", error=\"{code}\", error_description=\"{description}\""
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "oidc/form_post.html")]
struct FormPostPage<'a> {
    layout: Layout,
    action: &'a str,
    params: &'a [(String, String)],
}

#[derive(Template)]
#[template(path = "oidc/problem.html")]
pub struct ProblemPage {
    pub layout: Layout,
    pub heading: &'static str,
    pub message: String,
}

/// Sends the browser back to the service with a code or an error.
pub fn deliver(issued: &IssuedCode) -> Result<Response, Error> {
    match issued.response_mode {
        ResponseMode::Query => Ok(Redirect::to(&issued.query_url()).into_response()),
        ResponseMode::FormPost => {
            let page = FormPostPage {
                layout: Layout::default(),
                action: &issued.redirect_uri,
                params: &issued.params,
            };
            let mut response = Html(page.render()?).into_response();
            // The form goes to the service: allow exactly that target.
            let csp = format!(
                "{}; form-action {}",
                super::super::security_headers::CONTENT_SECURITY_POLICY,
                crate::domain::RedirectUri::from_stored(issued.redirect_uri.clone()).origin()
            );
            if let Ok(value) = HeaderValue::from_str(&csp) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, value);
            }
            Ok(response)
        }
    }
}

/// A problem with a request that must not be sent back to the service (unknown client or
/// redirect URI): the person sees what went wrong and goes nowhere.
pub fn problem(status: StatusCode, heading: &'static str, message: String) -> Response {
    let page = ProblemPage {
        layout: Layout::default(),
        heading,
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => Error::from(e).into_response(),
    }
}
