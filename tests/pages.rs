//! What a person's browser gets: the start page in the shared layout, cacheable styles,
//! helpful error pages with a reference, and the security headers on every response.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Engine, TestApp};

both_engines!(
    start_page_explains_the_service_in_the_shared_layout,
    stylesheet_is_content_addressed_and_cached_for_a_year,
    unknown_paths_get_a_404_page_with_the_request_id,
    unknown_paths_get_json_when_json_is_asked_for,
    every_response_carries_security_headers,
    hsts_is_sent_only_when_the_issuer_is_https,
    oversized_bodies_are_refused_with_413,
);

async fn start_page_explains_the_service_in_the_shared_layout(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en-GB\">"));
    assert!(
        html.contains("<h1 class=\"heading-xl\">Sign in to Department for Education services</h1>")
    );
    assert!(html.contains("href=\"#main-content\" class=\"skip-link\">Skip to main content</a>"));
    assert!(html.contains("<main class=\"main\" id=\"main-content\""));
    assert!(html.contains("href=\"/accessibility\""));
    assert!(html.contains("href=\"/privacy\""));
    assert!(!html.contains("<script"), "no script on ordinary pages");
    assert!(
        !html.contains("style=\""),
        "no inline styles (the CSP forbids them)"
    );

    for (path, heading) in [
        ("/accessibility", "Accessibility statement"),
        ("/privacy", "Privacy notice"),
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status(), 200, "{path}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("<h1 class=\"heading-xl\">{heading}</h1>")),
            "{path}"
        );
    }
}

async fn stylesheet_is_content_addressed_and_cached_for_a_year(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let html = app.get("/").await.text().await.unwrap();
    let start = html.find("href=\"/static/app.").expect("stylesheet link") + "href=\"".len();
    let end = start + html[start..].find('"').unwrap();
    let href = &html[start..end];
    assert!(href.ends_with(".css"), "{href}");
    let css = app.get(href).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let body = css.text().await.unwrap();
    assert!(body.contains(".skip-link"));
    // A stale or guessed name is not served.
    assert_eq!(app.get("/static/app.000000000000.css").await.status(), 404);
}

async fn unknown_paths_get_a_404_page_with_the_request_id(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(request_id.len(), 32);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1 class=\"heading-xl\">Page not found</h1>"));
    assert!(
        html.contains(&request_id),
        "the page shows the reference for the helpdesk"
    );
}

async fn unknown_paths_get_json_when_json_is_asked_for(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let response = app
        .client
        .get(app.url("/api/nothing"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert_eq!(body["request_id"], request_id.as_str());
}

async fn every_response_carries_security_headers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for path in ["/", "/healthz", "/no-such-page"] {
        let response = app.get(path).await;
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(h.get("x-request-id").is_some(), "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain http"
        );
    }
    // A request id chosen by the client is not trusted.
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "forged-by-client")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "forged-by-client");
}

async fn hsts_is_sent_only_when_the_issuer_is_https(engine: Engine) {
    let app = TestApp::spawn_with(engine, "issuer = \"https://sso.example.gov.uk\"").await;
    let response = app.get("/").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

async fn oversized_bodies_are_refused_with_413(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let big = vec![b'a'; 64 * 1024 + 1];
    let response = app
        .client
        .post(app.url("/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.headers().get("x-request-id").is_some());

    let small_limit = TestApp::spawn_with(engine, "body_limit = 2048").await;
    let response = small_limit
        .client
        .post(small_limit.url("/"))
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        413,
        "body_limit from the configuration file is used"
    );
}
