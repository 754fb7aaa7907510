//! Attacks on the OAuth endpoints, black-box over HTTP on both engines (issue 9), beyond those
//! `oidc_negative.rs` already covers: redirect URIs disguised by encoding, host case and
//! loopback aliases; PKCE left out at redemption; a rotated refresh token replayed (the whole
//! family dies); one service using or revoking another's refresh token; and a flood of
//! /authorize requests, whose stored state stays bounded per address.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::{Flow, REDIRECT, Registered, Spec, authorize, param};
use common::{Browser, Engine, TestApp, location};
use oauth2::PkceCodeChallenge;

both_engines!(
    disguised_redirect_uris_get_an_error_page_and_no_redirect,
    a_code_needs_its_verifier,
    a_replayed_refresh_token_ends_its_whole_family,
    one_service_cannot_use_or_revoke_anothers_refresh_token,
    a_flood_of_authorization_requests_stays_bounded,
    forged_id_token_hints_never_sign_anyone_out
);

const EMAIL: &str = "pat.okafor@school.example";

async fn flow(engine: Engine) -> Flow {
    Flow::signed_in(engine, EMAIL).await
}

/// An /authorize URL for `client_id` with `redirect_uri` (raw: the test chooses its
/// encoding) and a fresh PKCE pair; returns it with the verifier.
fn authorize_url(app: &TestApp, client_id: &str, redirect_uri: &str) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={redirect_uri}&response_type=code\
         &scope=openid%20email%20offline_access&state=s-1&code_challenge={}\
         &code_challenge_method=S256",
        app.url("/authorize"),
        challenge.as_str()
    );
    (url, verifier.secret().clone())
}

fn encoded(uri: &str) -> String {
    url::form_urlencoded::byte_serialize(uri.as_bytes()).collect()
}

async fn token(
    app: &TestApp,
    service: &Registered,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = app
        .client
        .post(app.url("/token"))
        .basic_auth(&service.id, service.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or_default();
    common::leaks::remember_tokens(&body);
    (status, body)
}

/// Tokens for the signed-in browser through `service`.
async fn tokens(f: &Flow, service: &Registered) -> serde_json::Value {
    let (url, verifier) = authorize_url(&f.app, &service.id, &encoded(REDIRECT));
    let back = authorize(&f.browser, &url, EMAIL, false).await;
    let code = param(&back, "code").unwrap();
    let (status, body) = token(
        &f.app,
        service,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh(f: &Flow, service: &Registered, refresh_token: &str) -> (u16, serde_json::Value) {
    token(
        &f.app,
        service,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn disguised_redirect_uris_get_an_error_page_and_no_redirect(engine: Engine) {
    let f = flow(engine).await;
    // The registered URI is http://127.0.0.1:9/callback.
    for disguised in [
        // Slashes and dots encoded so a lax decoder would see the registered path.
        "http%3A%2F%2F127.0.0.1%3A9%252Fcallback".to_owned(),
        encoded("http://127.0.0.1:9/%63allback"),
        encoded("http://127.0.0.1:9/x%2F..%2Fcallback"),
        encoded("http://127.0.0.1:9//callback"),
        // The same host spelled otherwise.
        encoded("http://LOCALHOST:9/callback"),
        encoded("http://localhost:9/callback"),
        encoded("http://[::1]:9/callback"),
        encoded("http://127.1:9/callback"),
        encoded("http://0x7f000001:9/callback"),
        encoded("http://127.0.0.1:9/callback/"),
        encoded("http://127.0.0.1:09/callback"),
        encoded("http://127.0.0.1:9/callback?"),
        encoded("http://127.0.0.1:9/callback#"),
        encoded("http://127.0.0.1:9@evil.example/callback"),
        encoded("http://evil.example\\@127.0.0.1:9/callback"),
        encoded(" http://127.0.0.1:9/callback"),
        encoded("http://127.0.0.1:9/callback\u{0}"),
    ] {
        let (url, _) = authorize_url(&f.app, "portal", &disguised);
        let answer = f.browser.client.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{disguised}");
        assert!(answer.headers().get("location").is_none(), "{disguised}");
        let page = answer.text().await.unwrap();
        assert!(
            page.contains("not one it registered"),
            "{disguised}: {page}"
        );
    }
    // The exact URI still works.
    let (url, _) = authorize_url(&f.app, "portal", &encoded(REDIRECT));
    let back = f.browser.client.get(&url).send().await.unwrap();
    assert_eq!(back.status(), 303);
    assert!(location(&back).starts_with(REDIRECT));
}

async fn a_code_needs_its_verifier(engine: Engine) {
    let f = flow(engine).await;
    for verifier in [None, Some("")] {
        let (url, _) = authorize_url(&f.app, "portal", &encoded(REDIRECT));
        let back = authorize(&f.browser, &url, EMAIL, false).await;
        let code = param(&back, "code").unwrap();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let (status, body) = token(&f.app, &f.service, &form).await;
        assert_eq!(status, 400, "{verifier:?}: {body}");
        assert!(
            matches!(
                body["error"].as_str(),
                Some("invalid_grant" | "invalid_request")
            ),
            "{body}"
        );
        assert!(body.get("access_token").is_none());
    }
}

async fn a_replayed_refresh_token_ends_its_whole_family(engine: Engine) {
    let f = flow(engine).await;
    let first = tokens(&f, &f.service).await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh(&f, &f.service, &old).await;
    assert_eq!(status, 200);
    let newer = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(newer, old, "refresh tokens rotate");

    // A thief replays the rotated-out token: refused, and the family is revoked, so the
    // legitimate holder's newer tokens stop working too.
    let (status, body) = refresh(&f, &f.service, &old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = refresh(&f, &f.service, &newer).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the newer token died with its family"
    );
    let userinfo = f
        .app
        .client
        .get(f.app.url("/userinfo"))
        .bearer_auth(second["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401, "so did its access token");
    let trail = f.app.store.audit_since(0, 0, 10_000).await.unwrap();
    assert!(trail.iter().any(|e| e.action == "token.reuse_detected"
        && e.reason.as_deref() == Some("refresh_token_reused")));
}

async fn one_service_cannot_use_or_revoke_anothers_refresh_token(engine: Engine) {
    let f = flow(engine).await;
    let other = f.app.register(Spec::confidential("other")).await;
    let issued = tokens(&f, &f.service).await;
    let refresh_token = issued["refresh_token"].as_str().unwrap();

    let (status, body) = refresh(&f, &other, refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Revocation by another service is answered 200 (RFC 7009 §2.2) but does nothing.
    let revoked = f
        .app
        .client
        .post(f.app.url("/revoke"))
        .basic_auth("other", other.secret.as_deref())
        .form(&[("token", refresh_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let (status, body) = refresh(&f, &f.service, refresh_token).await;
    assert_eq!(status, 200, "still the owner's to use: {body}");
}

async fn a_flood_of_authorization_requests_stays_bounded(engine: Engine) {
    let f = flow(engine).await;
    let limit = gatehouse::oidc::PENDING_PER_IP;
    let fresh = Browser {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        ..f.browser.clone()
    };
    let mut refused = 0;
    for _ in 0..(limit.burst + 20) {
        let (url, _) = authorize_url(&f.app, "portal", &encoded(REDIRECT));
        let answer = fresh.client.get(&url).send().await.unwrap();
        match answer.status().as_u16() {
            303 => {}
            429 => {
                assert!(answer.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused >= 20, "the flood was cut off ({refused} refused)");
    let stored = f.app.store.count_authorization_requests().await.unwrap();
    assert!(
        stored <= i64::from(limit.burst) + 1,
        "{stored} pending requests stored"
    );
    // The address gets room again as time passes.
    f.app.clock.advance(chrono::Duration::minutes(1));
    let (url, _) = authorize_url(&f.app, "portal", &encoded(REDIRECT));
    assert_eq!(fresh.client.get(&url).send().await.unwrap().status(), 303);
}

/// A forged `id_token_hint` at /end_session — `alg: none`, HS256 keyed with the public key,
/// an unknown `kid`, another person's `sub` — is no hint at all: nobody is signed out without
/// confirming (forced logout).
async fn forged_id_token_hints_never_sign_anyone_out(engine: Engine) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let f = flow(engine).await;
    let issued = tokens(&f, &f.service).await;
    let real = issued["id_token"].as_str().unwrap();
    let parts: Vec<&str> = real.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let enc = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let jwks: serde_json::Value = f.app.get("/jwks").await.json().await.unwrap();
    let hs_input = format!(
        "{}.{}",
        enc(&serde_json::json!({ "alg": "HS256", "kid": header["kid"] })),
        parts[1]
    );
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        &serde_json::to_vec(&jwks["keys"][0]).unwrap(),
    );
    let mac = aws_lc_rs::hmac::sign(&key, hs_input.as_bytes());
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = "someone-else".into();
    for (what, forged) in [
        (
            "alg none",
            format!(
                "{}.{}.",
                enc(&serde_json::json!({ "alg": "none" })),
                parts[1]
            ),
        ),
        (
            "HS256 with the public key",
            format!("{hs_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref())),
        ),
        (
            "unknown kid",
            format!(
                "{}.{}.{}",
                enc(&serde_json::json!({ "alg": header["alg"], "kid": "rs256-19990101-00000000" })),
                parts[1],
                parts[2]
            ),
        ),
        (
            "altered claims",
            format!("{}.{}.{}", parts[0], enc(&claims), parts[2]),
        ),
    ] {
        let answer = f
            .browser
            .get(&format!(
                "/end_session?id_token_hint={forged}&post_logout_redirect_uri={}",
                encoded("http://127.0.0.1:9/signed-out")
            ))
            .await;
        assert_ne!(
            answer.status(),
            303,
            "{what}: no sign-out without confirming"
        );
        assert_eq!(
            f.browser.get("/account").await.status(),
            200,
            "{what}: still signed in"
        );
    }
}
