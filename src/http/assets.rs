//! Our own static files, built into the binary and served under a content-hashed name, so
//! browsers may cache them for a year and still see every change at once.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::AppState;

struct Asset {
    /// e.g. `app.3f2a9c1b0d4e.css`
    name: String,
    href: String,
    body: &'static [u8],
    content_type: &'static str,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        asset(
            "app",
            "css",
            include_bytes!("../../static/app.css"),
            "text/css; charset=utf-8",
        ),
        asset(
            "webauthn",
            "js",
            include_bytes!("../../static/webauthn.js"),
            "text/javascript; charset=utf-8",
        ),
    ]
});

fn asset(stem: &str, ext: &str, body: &'static [u8], content_type: &'static str) -> Asset {
    let digest = hex::encode(Sha256::digest(body));
    let name = format!("{stem}.{}.{ext}", &digest[..12]);
    Asset {
        href: format!("/static/{name}"),
        name,
        body,
        content_type,
    }
}

/// The URL of the stylesheet, for the layout.
pub fn css_href() -> &'static str {
    href_of("app.", "/static/missing.css")
}

/// The URL of the WebAuthn module, the only script on the site.
pub fn webauthn_js_href() -> &'static str {
    href_of("webauthn.", "/static/missing.js")
}

fn href_of(prefix: &str, missing: &'static str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.name.starts_with(prefix))
        .map_or(missing, |a| a.href.as_str())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{name}", get(serve))
}

async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => super::error::error_page(StatusCode::NOT_FOUND, false),
    }
}
