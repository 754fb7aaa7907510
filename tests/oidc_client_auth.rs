//! Services that prove who they are with a signed JWT (`private_key_jwt`, RFC 7523 §2.2)
//! instead of a secret: accepted only when signed by a key the service registered, for us,
//! in date, and only once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::Spec;
use common::{ClockExt, Engine, TestApp};
use gatehouse::crypto::{SigningAlg, SigningKey, sign_jwt};
use gatehouse::oidc::{AuthMethod, GrantType};

both_engines!(private_key_jwt_needs_the_registered_key_our_audience_and_a_live_expiry);

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
