//! Services that prove who they are with a signed JWT (`private_key_jwt`, RFC 7523 §2.2)
//! instead of a secret: accepted only when signed by a key the service registered, for us,
//! in date, and only once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::Spec;
use common::{ClockExt, Engine, TestApp};
use gatehouse::crypto::{SigningAlg, SigningKey, sign_jwt};
use gatehouse::oidc::{AuthMethod, GrantType};

both_engines!(
    private_key_jwt_needs_the_registered_key_our_audience_and_a_live_expiry,
    replayed_and_forged_assertions_are_refused
);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn assertion(app: &TestApp, key: &SigningKey, aud: &str, exp_in: i64, sub: &str) -> String {
    let now = app.clock.now_for_tests().timestamp();
    let claims = serde_json::json!({
        "iss": sub, "sub": sub, "aud": aud, "iat": now, "exp": now + exp_in,
        "jti": format!("{now}-{exp_in}-{aud}"),
    });
    sign_jwt("JWT", &claims, key).unwrap()
}

async fn token_status(app: &TestApp, assertion: &str) -> (u16, serde_json::Value) {
    let response = app
        .client
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn private_key_jwt_needs_the_registered_key_our_audience_and_a_live_expiry(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (registered, _) = SigningKey::generate("service-key-1".into(), SigningAlg::Es256).unwrap();
    let (stranger, _) = SigningKey::generate("service-key-1".into(), SigningAlg::Es256).unwrap();
    let jwks = serde_json::json!({ "keys": [registered.public_jwk()] });
    let service = app
        .register(Spec {
            auth_method: AuthMethod::PrivateKeyJwt,
            grants: vec![GrantType::ClientCredentials],
            jwks: Some(jwks),
            ..Spec::confidential("signed-service")
        })
        .await;
    assert!(
        service.secret.is_none(),
        "key-based services have no secret"
    );
    let token_url = app.url("/token");

    let (status, body) = token_status(
        &app,
        &assertion(&app, &registered, &token_url, 60, "signed-service"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    let (status, _) = token_status(
        &app,
        &assertion(&app, &registered, &app.base, 60, "signed-service"),
    )
    .await;
    assert_eq!(status, 200, "the issuer is an accepted audience too");

    for (what, jwt) in [
        (
            "another key",
            assertion(&app, &stranger, &token_url, 60, "signed-service"),
        ),
        (
            "another audience",
            assertion(
                &app,
                &registered,
                "https://elsewhere.example/token",
                60,
                "signed-service",
            ),
        ),
        (
            "expired",
            assertion(&app, &registered, &token_url, -5, "signed-service"),
        ),
        (
            "too far ahead",
            assertion(&app, &registered, &token_url, 3600, "signed-service"),
        ),
        (
            "another subject",
            assertion(&app, &registered, &token_url, 60, "someone-else"),
        ),
        ("not a JWT", "garbage".to_owned()),
    ] {
        let (status, body) = token_status(&app, &jwt).await;
        assert_eq!(status, 401, "{what}");
        assert_eq!(body["error"], "invalid_client", "{what}");
    }
}

/// An assertion is single use (its `jti` is remembered until it expires), and one not signed
/// by the registered key — `alg: none`, HS256 keyed with the public key, another key under an
/// unknown `kid` — never authenticates the service.
async fn replayed_and_forged_assertions_are_refused(engine: Engine) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let app = TestApp::spawn(engine).await;
    let (registered, _) = SigningKey::generate("service-key-1".into(), SigningAlg::Es256).unwrap();
    let (stranger, _) = SigningKey::generate("unknown-kid".into(), SigningAlg::Es256).unwrap();
    let public = registered.public_jwk();
    app.register(Spec {
        auth_method: AuthMethod::PrivateKeyJwt,
        grants: vec![GrantType::ClientCredentials],
        jwks: Some(serde_json::json!({ "keys": [public.clone()] })),
        ..Spec::confidential("signed-service")
    })
    .await;
    let token_url = app.url("/token");

    let once = assertion(&app, &registered, &token_url, 60, "signed-service");
    assert_eq!(token_status(&app, &once).await.0, 200);
    let (status, body) = token_status(&app, &once).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "replayed"
    );

    let fresh = assertion(&app, &registered, &token_url, 120, "signed-service");
    let claims = fresh.split('.').nth(1).unwrap().to_owned();
    let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let none = format!("{}.{claims}.", enc(serde_json::json!({ "alg": "none" })));
    let hs_input = format!(
        "{}.{claims}",
        enc(serde_json::json!({ "alg": "HS256", "kid": "service-key-1" }))
    );
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        &serde_json::to_vec(&public).unwrap(),
    );
    let mac = aws_lc_rs::hmac::sign(&key, hs_input.as_bytes());
    let hs256 = format!("{hs_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    let unknown_kid = assertion(&app, &stranger, &token_url, 90, "signed-service");
    for (what, forged) in [
        ("alg none", none),
        ("HS256 with the public key", hs256),
        ("unknown kid", unknown_kid),
    ] {
        let (status, body) = token_status(&app, &forged).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{what}"
        );
    }
    // The fresh assertion was never used, so it still works: the forgeries spent nothing.
    assert_eq!(token_status(&app, &fresh).await.0, 200);
}
