//! What the provider refuses, and how: tampered redirect URIs never redirect, PKCE is
//! mandatory, codes and refresh tokens are single use (a replay revokes what they issued),
//! client authentication failures are 401, and forged tokens are rejected everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oidc::{Flow, REDIRECT, Registered, Spec, authorize, param};
use common::{Engine, TestApp, location};
use oauth2::PkceCodeChallenge;

both_engines!(
    altered_redirect_uris_get_an_error_page_and_no_redirect,
    pkce_and_response_type_errors_go_back_to_the_service,
    bad_code_redemptions_are_invalid_grant,
    a_replayed_code_revokes_what_the_first_use_issued,
    client_authentication_failures_are_401_invalid_client,
    forged_tokens_are_rejected_everywhere,
    parallel_redemptions_of_one_code_let_exactly_one_succeed,
    parallel_refreshes_of_one_token_let_exactly_one_succeed,
    introspection_only_describes_the_callers_own_live_tokens,
    userinfo_refuses_tokens_in_the_url_and_without_openid,
);

const EMAIL: &str = "pat.okafor@school.example";

async fn flow(engine: Engine) -> Flow {
    Flow::signed_in(engine, EMAIL).await
}

/// An /authorize URL with a fresh PKCE pair; returns it with the verifier.
fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email offline_access")
        .append_pair("state", "s-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let mut url = url.to_string();
    for (k, v) in extra {
        url.push_str(&format!("&{k}={}", urlencode(v)));
    }
    (url, verifier.secret().clone())
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// A code for the signed-in browser, and its verifier.
async fn code(f: &Flow, client_id: &str) -> (String, String) {
    let (url, verifier) = authorize_url(&f.app, client_id, &[]);
    let back = authorize(&f.browser, &url, EMAIL, false).await;
    (param(&back, "code").unwrap(), verifier)
}

async fn redeem(
    app: &TestApp,
    service: &Registered,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> (u16, serde_json::Value) {
    token(
        app,
        service,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect_uri),
        ],
    )
    .await
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
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "token responses are never cached"
    );
    (status, response.json().await.unwrap())
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    app.client
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn altered_redirect_uris_get_an_error_page_and_no_redirect(engine: Engine) {
    let f = flow(engine).await;
    let (good, _) = authorize_url(&f.app, "portal", &[]);
    for altered in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/Callback",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/x/../callback",
        "http://127.0.0.1:9@evil.example/callback",
        "http://127.0.0.1:10/callback",
        "http://127.0.0.1:9/callback#top",
        "https://127.0.0.1:9/callback",
    ] {
        let url = good.replace(&urlencode(REDIRECT), &urlencode(altered));
        let response = f.browser.client.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{altered}");
        assert!(
            response.headers().get("location").is_none(),
            "{altered} redirected"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("not one it registered"), "{altered}: {html}");
    }
    for (what, url) in [
        (
            "no redirect_uri",
            good.replace(&format!("redirect_uri={}", urlencode(REDIRECT)), "x=1"),
        ),
        (
            "unknown client",
            good.replace("client_id=portal", "client_id=intruder"),
        ),
        ("no client", good.replace("client_id=portal", "x=1")),
        (
            "two redirect URIs",
            format!("{good}&redirect_uri={}", urlencode(REDIRECT)),
        ),
    ] {
        let response = f.browser.client.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{what}");
        assert!(
            response.headers().get("location").is_none(),
            "{what} redirected"
        );
    }
}

async fn pkce_and_response_type_errors_go_back_to_the_service(engine: Engine) {
    let f = flow(engine).await;
    let (good, _) = authorize_url(&f.app, "portal", &[]);
    let challenge = good
        .split("code_challenge=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    for (what, url, error) in [
        (
            "missing challenge",
            good.replace(&format!("code_challenge={challenge}"), "x=1"),
            "invalid_request",
        ),
        (
            "plain",
            good.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            "no method",
            good.replace("code_challenge_method=S256", "x=1"),
            "invalid_request",
        ),
        (
            "malformed",
            good.replace(&challenge, "short"),
            "invalid_request",
        ),
        (
            "token",
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            "no response_type",
            good.replace("response_type=code", "x=1"),
            "invalid_request",
        ),
        (
            "state twice",
            format!("{good}&state=again"),
            "invalid_request",
        ),
        (
            "request object",
            format!("{good}&request=eyJ"),
            "request_not_supported",
        ),
        (
            "unknown prompt",
            format!("{good}&prompt=later"),
            "invalid_request",
        ),
        (
            "no openid",
            good.replace("scope=openid+", "scope="),
            "invalid_scope",
        ),
    ] {
        let response = f.browser.client.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 303, "{what}");
        let back = url::Url::parse(&location(&response)).unwrap();
        assert!(back.as_str().starts_with(REDIRECT), "{what}");
        assert_eq!(param(&back, "error").as_deref(), Some(error), "{what}");
        assert_eq!(
            param(&back, "iss").as_deref(),
            Some(f.app.base.as_str()),
            "{what}"
        );
        if what != "state twice" {
            assert_eq!(param(&back, "state").as_deref(), Some("s-123"), "{what}");
        }
    }
}

async fn bad_code_redemptions_are_invalid_grant(engine: Engine) {
    let f = flow(engine).await;
    let other = f.app.register(Spec::confidential("other-service")).await;
    let (code1, verifier1) = code(&f, "portal").await;
    let (status, body) = redeem(&f.app, &f.service, &code1, &"x".repeat(43), REDIRECT).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    let (status, _) = redeem(&f.app, &f.service, &code1, &verifier1, REDIRECT).await;
    assert_eq!(status, 400, "a code that failed once is spent");

    let (code2, verifier2) = code(&f, "portal").await;
    let (status, body) = redeem(&f.app, &other, &code2, &verifier2, REDIRECT).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "another service's code"
    );
    let (status, _) = redeem(&f.app, &f.service, &code2, &verifier2, REDIRECT).await;
    assert_eq!(status, 200, "another service cannot burn a code");

    let (code3, verifier3) = code(&f, "portal").await;
    let (status, body) = redeem(
        &f.app,
        &f.service,
        &code3,
        &verifier3,
        "http://127.0.0.1:9/other",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "redirect_uri"
    );

    let (code4, verifier4) = code(&f, "portal").await;
    f.app.clock.advance(chrono::Duration::seconds(61));
    let (status, body) = redeem(&f.app, &f.service, &code4, &verifier4, REDIRECT).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "expired"
    );

    let (status, body) = redeem(&f.app, &f.service, &"ab".repeat(32), &verifier4, REDIRECT).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "unknown code"
    );

    let (status, body) = token(&f.app, &f.service, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = token(&f.app, &f.service, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

async fn a_replayed_code_revokes_what_the_first_use_issued(engine: Engine) {
    let f = flow(engine).await;
    let (code, verifier) = code(&f, "portal").await;
    let (status, first) = redeem(&f.app, &f.service, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&f.app, access).await, 200);

    let (status, body) = redeem(&f.app, &f.service, &code, &verifier, REDIRECT).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo_status(&f.app, access).await,
        401,
        "first access token revoked"
    );
    let (status, body) = token(
        &f.app,
        &f.service,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "refresh revoked"
    );
}

async fn client_authentication_failures_are_401_invalid_client(engine: Engine) {
    let f = flow(engine).await;
    let (code, verifier) = code(&f, "portal").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let attempts = [
        (
            "wrong secret",
            f.app
                .client
                .post(f.app.url("/token"))
                .basic_auth("portal", Some("0".repeat(64))),
        ),
        ("no authentication", f.app.client.post(f.app.url("/token"))),
        (
            "unknown client",
            f.app
                .client
                .post(f.app.url("/token"))
                .basic_auth("nobody", Some("x")),
        ),
        (
            "secret in the body for a Basic service",
            f.app.client.post(f.app.url("/token")),
        ),
    ];
    for (what, request) in attempts {
        let mut form = form.to_vec();
        let secret = f.service.secret.clone().unwrap();
        if what.starts_with("secret in the body") {
            form.push(("client_id", "portal"));
            form.push(("client_secret", &secret));
            let response = request.form(&form).send().await.unwrap();
            check_invalid_client(response, what).await;
            continue;
        }
        let response = request.form(&form).send().await.unwrap();
        check_invalid_client(response, what).await;
    }
    // The code was never spent by those attempts.
    let (status, _) = redeem(&f.app, &f.service, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200);
}

async fn check_invalid_client(response: reqwest::Response, what: &str) {
    assert_eq!(response.status().as_u16(), 401, "{what}");
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"),
        "{what}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{what}");
}

async fn forged_tokens_are_rejected_everywhere(engine: Engine) {
    let f = flow(engine).await;
    let (code, verifier) = code(&f, "portal").await;
    let (_, tokens) = redeem(&f.app, &f.service, &code, &verifier, REDIRECT).await;
    let real = tokens["access_token"].as_str().unwrap();
    let parts: Vec<&str> = real.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let enc = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());

    let none = format!(
        "{}.{}.",
        enc(&serde_json::json!({"alg": "none", "typ": "at+jwt"})),
        parts[1]
    );
    // HS256 keyed with the public JWK, the classic algorithm-confusion forgery.
    let jwks: serde_json::Value = f.app.get("/jwks").await.json().await.unwrap();
    let public = serde_json::to_vec(&jwks["keys"][0]).unwrap();
    let hs_header =
        enc(&serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}));
    let signing_input = format!("{hs_header}.{}", parts[1]);
    let mac = hmac_sha256(&public, signing_input.as_bytes());
    let hs256 = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac));
    let unknown_kid = format!(
        "{}.{}.{}",
        enc(
            &serde_json::json!({"alg": header["alg"], "typ": "at+jwt", "kid": "rs256-19990101-00000000"})
        ),
        parts[1],
        parts[2]
    );
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = "someone-else".into();
    let altered = format!("{}.{}.{}", parts[0], enc(&claims), parts[2]);

    for (what, forged) in [
        ("alg none", none),
        ("HS256", hs256),
        ("unknown kid", unknown_kid),
        ("altered claims", altered),
    ] {
        assert_eq!(
            userinfo_status(&f.app, &forged).await,
            401,
            "{what} at /userinfo"
        );
        let described: serde_json::Value = f
            .app
            .client
            .post(f.app.url("/introspect"))
            .basic_auth("portal", f.service.secret.as_deref())
            .form(&[("token", forged.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            described,
            serde_json::json!({"active": false}),
            "{what} at /introspect"
        );
        let hint = f
            .browser
            .client
            .get(format!(
                "{}&id_token_hint={forged}",
                authorize_url(&f.app, "portal", &[]).0
            ))
            .send()
            .await
            .unwrap();
        let back = url::Url::parse(&location(&hint)).unwrap();
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{what} as id_token_hint"
        );
    }
    assert_eq!(
        userinfo_status(&f.app, real).await,
        200,
        "the real token still works"
    );
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
}

async fn parallel_redemptions_of_one_code_let_exactly_one_succeed(engine: Engine) {
    let f = flow(engine).await;
    let (code, verifier) = code(&f, "portal").await;
    let app = std::sync::Arc::new(f.app);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, service, code, verifier) = (
            app.clone(),
            f.service.clone(),
            code.clone(),
            verifier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            redeem(&app, &service, &code, &verifier, REDIRECT).await.0
        }));
    }
    assert_exactly_one_success(tasks).await;
}

/// Exactly one 200 among the racing requests; every other one a 400 (`invalid_grant`).
async fn assert_exactly_one_success(tasks: Vec<tokio::task::JoinHandle<u16>>) {
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
}

async fn parallel_refreshes_of_one_token_let_exactly_one_succeed(engine: Engine) {
    let f = flow(engine).await;
    let (code, verifier) = code(&f, "portal").await;
    let (_, tokens) = redeem(&f.app, &f.service, &code, &verifier, REDIRECT).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let app = std::sync::Arc::new(f.app);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, service, refresh) = (app.clone(), f.service.clone(), refresh.clone());
        tasks.push(tokio::spawn(async move {
            token(
                &app,
                &service,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await
            .0
        }));
    }
    assert_exactly_one_success(tasks).await;
}

async fn introspection_only_describes_the_callers_own_live_tokens(engine: Engine) {
    let f = flow(engine).await;
    let other = f.app.register(Spec::confidential("other-service")).await;
    let (code, verifier) = code(&f, "portal").await;
    let (_, tokens) = redeem(&f.app, &f.service, &code, &verifier, REDIRECT).await;
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = |service: &Registered, token: &str| {
        f.app
            .client
            .post(f.app.url("/introspect"))
            .basic_auth(service.id.clone(), service.secret.clone())
            .form(&[("token", token.to_owned())])
            .send()
    };
    let own: serde_json::Value = introspect(&f.service, access)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["active"], true);
    assert_eq!(own["client_id"], "portal");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let own_refresh: serde_json::Value = introspect(&f.service, refresh)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own_refresh["active"], true);
    for (what, service, token) in [
        ("another service's token", &other, access),
        ("another service's refresh token", &other, refresh),
        ("unknown", &f.service, "not-a-token"),
    ] {
        let body: serde_json::Value = introspect(service, token)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body, serde_json::json!({"active": false}), "{what}");
    }
    f.app.clock.advance(chrono::Duration::minutes(11));
    let expired: serde_json::Value = introspect(&f.service, access)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(expired, serde_json::json!({"active": false}), "expired");
    let unauthenticated = f
        .app
        .client
        .post(f.app.url("/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
}

async fn userinfo_refuses_tokens_in_the_url_and_without_openid(engine: Engine) {
    let f = flow(engine).await;
    let machine = f
        .app
        .register(Spec {
            grants: vec![gatehouse::oidc::GrantType::ClientCredentials],
            ..Spec::confidential("machine")
        })
        .await;
    let (status, tokens) = token(&f.app, &machine, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200);
    let access = tokens["access_token"].as_str().unwrap();
    let response = f
        .app
        .client
        .get(f.app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    let (code, verifier) = code(&f, "portal").await;
    let (_, tokens) = redeem(&f.app, &f.service, &code, &verifier, REDIRECT).await;
    let access = tokens["access_token"].as_str().unwrap();
    let in_url = f.app.get(&format!("/userinfo?access_token={access}")).await;
    assert_eq!(in_url.status().as_u16(), 400);
    let in_body = f
        .app
        .client
        .post(f.app.url("/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status().as_u16(), 200, "form body is allowed");
    let none = f.app.get("/userinfo").await;
    assert_eq!(none.status().as_u16(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}
