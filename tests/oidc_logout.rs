//! Logout: RP-initiated logout with and without an `id_token_hint`, and back-channel logout
//! tokens received by a real listener — including one that was down when the person signed
//! out and is told once it is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oidc::{PASSWORD, REDIRECT, Registered, Spec, authorize, param};
use common::{Browser, Engine, TestApp, location};
use oauth2::PkceCodeChallenge;
use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use tokio::sync::mpsc;

both_engines!(
    end_session_with_a_hint_signs_out_and_returns_to_the_service,
    end_session_without_a_hint_asks_first,
    end_session_refuses_unregistered_return_addresses,
    back_channel_logout_reaches_the_service,
    a_service_that_was_down_is_told_when_it_is_back,
    a_helpdesk_deactivation_signs_the_person_out_of_services,
);

const EMAIL: &str = "sam.idowu@school.example";

/// Signs in through the service and returns the token response.
async fn sign_in_through(
    app: &TestApp,
    browser: &Browser,
    service: &Registered,
) -> serde_json::Value {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &service.id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let back = authorize(browser, url.as_str(), EMAIL, false).await;
    let response = app
        .client
        .post(app.url("/token"))
        .basic_auth(&service.id, service.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &param(&back, "code").unwrap()),
            ("code_verifier", verifier.secret()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

async fn signed_in(browser: &Browser) -> bool {
    browser.get("/account").await.status().as_u16() == 200
}

async fn end_session_with_a_hint_signs_out_and_returns_to_the_service(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let service = app.register(Spec::confidential("portal")).await;
    let browser = app.browser();
    let tokens = sign_in_through(&app, &browser, &service).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(&format!(
            "/end_session?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
            urlencode("http://127.0.0.1:9/signed-out")
        ))
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        location(&response),
        "http://127.0.0.1:9/signed-out?state=bye"
    );
    assert!(!signed_in(&browser).await);
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = app
        .client
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status().as_u16(),
        401,
        "the session's tokens end with it"
    );
}

async fn end_session_without_a_hint_asks_first(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    app.register(Spec::confidential("portal")).await;
    let browser = app.browser();
    browser.sign_in(EMAIL, PASSWORD).await;
    let page = browser
        .get(&format!(
            "/end_session?client_id=portal&post_logout_redirect_uri={}",
            urlencode("http://127.0.0.1:9/signed-out")
        ))
        .await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Do you want to sign out?"));
    assert!(
        signed_in(&browser).await,
        "a bare link does not sign anyone out"
    );
    let confirmed = browser
        .post(
            "/end_session",
            &[
                ("csrf_token", common::csrf_in(&html).as_str()),
                ("client_id", "portal"),
                ("post_logout_redirect_uri", "http://127.0.0.1:9/signed-out"),
            ],
        )
        .await;
    assert_eq!(confirmed.status().as_u16(), 303);
    assert_eq!(location(&confirmed), "http://127.0.0.1:9/signed-out");
    assert!(!signed_in(&browser).await);
}

async fn end_session_refuses_unregistered_return_addresses(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.register(Spec::confidential("portal")).await;
    for query in [
        format!(
            "client_id=portal&post_logout_redirect_uri={}",
            urlencode("https://evil.example/")
        ),
        format!(
            "post_logout_redirect_uri={}",
            urlencode("http://127.0.0.1:9/signed-out")
        ),
        "id_token_hint=not.a.token".to_owned(),
    ] {
        let response = app.get(&format!("/end_session?{query}")).await;
        assert_eq!(response.status().as_u16(), 400, "{query}");
        assert!(response.headers().get("location").is_none(), "{query}");
    }
}

/// A service's back-channel logout endpoint: every `logout_token` it receives.
async fn listener_on(listener: tokio::net::TcpListener) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/backchannel",
        post(
            move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
                let tx = tx.clone();
                async move {
                    tx.send(form.get("logout_token").cloned().unwrap_or_default())
                        .unwrap();
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    rx
}

async fn next_token(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("no logout token arrived")
        .unwrap()
}

/// Checks a logout token's signature against the served JWKS and returns its claims.
async fn verify_logout_token(app: &TestApp, token: &str) -> serde_json::Value {
    let parts: Vec<&str> = token.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["typ"], "logout+jwt");
    let jwks: serde_json::Value = app.get("/jwks").await.json().await.unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("signed with a published key");
    let key: CoreJsonWebKey = serde_json::from_value(key.clone()).unwrap();
    key.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
    .expect("valid signature");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

async fn back_channel_logout_reaches_the_service(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let user = app.create_user(EMAIL, PASSWORD).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut received = listener_on(listener).await;
    let service = app
        .register(Spec {
            backchannel: Some(format!("http://127.0.0.1:{port}/backchannel")),
            ..Spec::confidential("portal")
        })
        .await;
    let browser = app.browser();
    let tokens = sign_in_through(&app, &browser, &service).await;
    let id_claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                tokens["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();

    let token = browser.csrf("/account").await;
    browser.post("/sign-out", &[("csrf_token", &token)]).await;
    let claims = verify_logout_token(&app, &next_token(&mut received).await).await;
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], "portal");
    assert_eq!(claims["sub"], user.as_str());
    assert_eq!(claims["sid"], id_claims["sid"], "the sid of the ID token");
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["jti"].is_string() && claims["iat"].is_i64() && claims["exp"].is_i64());
    assert!(claims.get("nonce").is_none());
}

async fn a_service_that_was_down_is_told_when_it_is_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    // Find a free port, then leave it closed: the service is down.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let service = app
        .register(Spec {
            backchannel: Some(format!("http://127.0.0.1:{port}/backchannel")),
            ..Spec::confidential("portal")
        })
        .await;
    let browser = app.browser();
    sign_in_through(&app, &browser, &service).await;
    let token = browser.csrf("/account").await;
    browser.post("/sign-out", &[("csrf_token", &token)]).await;

    // Wait until the first attempt has failed.
    let store = app.db.store().await;
    let mut attempted = false;
    for _ in 0..60 {
        if attempts(&store).await > 0 {
            attempted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(attempted, "the first delivery was never tried");

    // The service comes back; after its back-off the notice is delivered.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let mut received = listener_on(listener).await;
    app.clock.advance(chrono::Duration::minutes(10));
    let claims = verify_logout_token(&app, &next_token(&mut received).await).await;
    assert_eq!(claims["aud"], "portal");
}

async fn attempts(store: &gatehouse::store::Store) -> i64 {
    store.logout_notice_attempts().await.unwrap()
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Deactivating an account from the helpdesk console ends its sessions at once: the service
/// receives a back-channel logout and introspection calls its access token inactive.
async fn a_helpdesk_deactivation_signs_the_person_out_of_services(engine: Engine) {
    use gatehouse::audit::{Actor, RequestContext};
    use gatehouse::staff::{Staff, StaffRole};
    let app = TestApp::spawn(engine).await;
    let user = app.create_user(EMAIL, PASSWORD).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut received = listener_on(listener).await;
    let service = app
        .register(Spec {
            backchannel: Some(format!("http://127.0.0.1:{port}/backchannel")),
            ..Spec::confidential("portal")
        })
        .await;
    let browser = app.browser();
    let tokens = sign_in_through(&app, &browser, &service).await;
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();

    let helpdesk = "hana.ito@helpdesk.example";
    let hana = app.create_user(helpdesk, PASSWORD).await;
    let console = app.verified_browser(helpdesk, PASSWORD).await;
    let row = app.store.user_by_id(&hana).await.unwrap().unwrap();
    Staff::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()))
        .grant(
            &row,
            StaffRole::Helpdesk,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    let path = format!("/manage/accounts/{}/deactivate", user.as_str());
    let token = console.csrf(&path).await;
    let done = console
        .post(
            &path,
            &[
                ("csrf_token", &token),
                ("reason", "security_concern"),
                ("note", "Reported as used by someone else"),
            ],
        )
        .await;
    assert_eq!(done.status().as_u16(), 303);

    let claims = verify_logout_token(&app, &next_token(&mut received).await).await;
    assert_eq!(claims["aud"], "portal");
    assert_eq!(claims["sub"], user.as_str());
    assert!(!signed_in(&browser).await);
    let introspected: serde_json::Value = app
        .client
        .post(app.url("/introspect"))
        .basic_auth(&service.id, service.secret.as_deref())
        .form(&[("token", access_token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected, serde_json::json!({ "active": false }));
}
