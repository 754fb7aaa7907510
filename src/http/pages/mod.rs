//! Plain information pages (start, accessibility, privacy) and the error pages.

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Response};
use axum::routing::get;

use super::AppState;
use super::assets;
use super::error::{Error, error_page, wants_json};

/// What the shared layout needs on every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub css: &'static str,
    /// Included only by pages that run a WebAuthn ceremony.
    pub webauthn_js: &'static str,
    pub service_name: &'static str,
}

/// The name in the header and in every page title.
pub const SERVICE_NAME: &str = "Gatehouse";

impl Default for Layout {
    fn default() -> Self {
        Self {
            css: assets::css_href(),
            webauthn_js: assets::webauthn_js_href(),
            service_name: SERVICE_NAME,
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(start))
        .route("/accessibility", get(accessibility))
        .route("/privacy", get(privacy))
}

#[derive(Template)]
#[template(path = "pages/start.html")]
struct StartPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "pages/accessibility.html")]
struct AccessibilityPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "pages/privacy.html")]
struct PrivacyPage {
    layout: Layout,
}

async fn start() -> Result<Html<String>, Error> {
    Ok(Html(
        StartPage {
            layout: Layout::default(),
        }
        .render()?,
    ))
}

async fn accessibility() -> Result<Html<String>, Error> {
    Ok(Html(
        AccessibilityPage {
            layout: Layout::default(),
        }
        .render()?,
    ))
}

async fn privacy() -> Result<Html<String>, Error> {
    Ok(Html(
        PrivacyPage {
            layout: Layout::default(),
        }
        .render()?,
    ))
}

/// Every path no router claims: a page for people, JSON for API clients.
pub async fn not_found(headers: HeaderMap) -> Response {
    error_page(StatusCode::NOT_FOUND, wants_json(&headers))
}

/// The page shown for 404, 500, 503 and friends.
#[derive(Debug, Template)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub code: &'static str,
    pub heading: &'static str,
    pub advice: &'static str,
    /// A sentence for this occasion, such as how long to wait.
    pub detail: Option<String>,
    pub request_id: String,
}

/// A simple page: a heading, a few paragraphs and one link onwards.
#[derive(Debug, Template)]
#[template(path = "pages/message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: &'static str,
    pub paragraphs: Vec<&'static str>,
    pub link_href: &'static str,
    pub link_text: &'static str,
}

impl ErrorPage {
    pub fn for_status(status: StatusCode, request_id: String) -> Self {
        let (code, heading, advice) = match status {
            StatusCode::NOT_FOUND => (
                "not_found",
                "Page not found",
                "If you typed the web address, check it is correct. If you pasted the web \
                 address, check you copied the entire address.",
            ),
            StatusCode::SERVICE_UNAVAILABLE => (
                "unavailable",
                "Sorry, the service is unavailable",
                "Try again in a few minutes.",
            ),
            StatusCode::FORBIDDEN => (
                "forbidden",
                "Sorry, we could not accept that form",
                "This can happen if the page was open for a long time or was sent from another \
                 website. Go back, reload the page and try again.",
            ),
            StatusCode::TOO_MANY_REQUESTS => (
                "too_many_requests",
                "Too many attempts",
                "There have been too many attempts to sign in from your network.",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "What you sent is too large",
                "Go back and try again with less information.",
            ),
            StatusCode::URI_TOO_LONG | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
                "request_too_large",
                "That web address or request is too long",
                "If you followed a link, it may be broken. Go back and try again.",
            ),
            _ => (
                "server_error",
                "Sorry, there is a problem with the service",
                "Try again later. Nothing you entered has been saved.",
            ),
        };
        Self {
            layout: Layout::default(),
            code,
            heading,
            advice,
            detail: None,
            request_id,
        }
    }
}
