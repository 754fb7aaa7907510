//! Signing keys in use: a rotation publishes the next key before it signs, tokens signed
//! by the old key keep working while it is published, and every handle on the keys folder
//! picks the same signing key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oidc::{Registered, Spec, published_kids as published};
use common::{ClockExt, Engine, FreshDb, TestApp};
use gatehouse::crypto::SigningAlg;
use gatehouse::oidc::GrantType;

both_engines!(
    rotation_keeps_tokens_valid_and_switches_signing_on_time,
    keys_readable_by_others_stop_the_server,
    a_service_refreshing_through_a_rotation_never_meets_an_unknown_kid
);

async fn machine_token(app: &TestApp, service: &Registered) -> String {
    let response: serde_json::Value = app
        .client
        .post(app.url("/token"))
        .basic_auth(&service.id, service.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}

fn kid_of(token: &str) -> String {
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn active(app: &TestApp, service: &Registered, token: &str) -> bool {
    let body: serde_json::Value = app
        .client
        .post(app.url("/introspect"))
        .basic_auth(&service.id, service.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["active"] == true
}

/// Nodes notice a changed keys folder within a second.
async fn let_nodes_notice() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

async fn rotation_keeps_tokens_valid_and_switches_signing_on_time(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let service = app
        .register(Spec {
            grants: vec![GrantType::ClientCredentials],
            ..Spec::confidential("machine")
        })
        .await;
    let first = machine_token(&app, &service).await;
    let old_kid = kid_of(&first);
    let keys = app.oidc().keys().clone();
    assert_eq!(
        keys.signing_key(SigningAlg::Rs256).unwrap().kid(),
        old_kid,
        "every handle on the folder signs with the same key"
    );

    let now = app.clock.now_for_tests();
    let next = keys
        .folder()
        .create(SigningAlg::Rs256, now, now + chrono::Duration::minutes(1))
        .unwrap();
    let_nodes_notice().await;
    assert!(
        published(&app).await.contains(&next.kid),
        "published before it signs"
    );
    assert_eq!(
        kid_of(&machine_token(&app, &service).await),
        old_kid,
        "not signing yet"
    );

    app.clock.advance(chrono::Duration::minutes(2));
    let second = machine_token(&app, &service).await;
    assert_eq!(kid_of(&second), next.kid, "signs once its time comes");
    assert!(
        active(&app, &service, &first).await,
        "tokens of the old key still valid"
    );
    assert!(active(&app, &service, &second).await);

    let mut retired = keys
        .states()
        .into_iter()
        .find(|(m, _)| m.kid == old_kid)
        .unwrap()
        .0;
    retired.retired_at = Some(app.clock.now_for_tests());
    keys.folder().save(&retired).unwrap();
    let_nodes_notice().await;
    assert!(
        published(&app).await.contains(&old_kid),
        "retired keys stay published"
    );
    assert!(active(&app, &service, &first).await);

    app.clock.advance(chrono::Duration::hours(25));
    assert!(
        !published(&app).await.contains(&old_kid),
        "gone once its tokens have expired"
    );
    assert!(published(&app).await.contains(&next.kid));
}

async fn keys_readable_by_others_stop_the_server(engine: Engine) {
    use std::os::unix::fs::PermissionsExt;
    let db = FreshDb::new(engine).await;
    let keys_dir = db.keys_dir();
    {
        let app = TestApp::spawn_on(db, "").await;
        let key = std::fs::read_dir(&keys_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "pem"))
            .unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let config_path = app.db.dir.path().join("gatehouse.toml");
        let config = gatehouse::config::Config::load(&gatehouse::config::Sources {
            file: gatehouse::config::ConfigFile::Named(config_path),
            environment: false,
            overrides: Default::default(),
        })
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = gatehouse::server::Server::build_on(
            config,
            std::sync::Arc::new(app.clock.clone()),
            listener,
        )
        .await
        .unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("can be read by other users"), "{message}");
        assert!(message.contains("chmod 600"), "{message}");
        assert_eq!(refused.exit_code(), 2);
    }
}

/// A relying service that caches the JWKS for ten minutes and refreshes its tokens every ten
/// minutes, through a rotation (the next key published an hour before it signs) and the
/// old key's retirement: every ID and access token it receives is signed by a key already in
/// its cache, so it never has to refetch the key set mid-flight (issue 9).
async fn a_service_refreshing_through_a_rotation_never_meets_an_unknown_kid(engine: Engine) {
    use common::oidc::{PASSWORD, REDIRECT, authorize, param};
    use oauth2::PkceCodeChallenge;

    let app = TestApp::spawn(engine).await;
    let email = "pat.okafor@school.example";
    app.create_user(email, PASSWORD).await;
    let service = app.register(Spec::confidential("portal")).await;
    let me = app.browser();
    me.sign_in(email, PASSWORD).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?client_id=portal&redirect_uri={}&response_type=code&scope=openid%20offline_access\
         &code_challenge={}&code_challenge_method=S256",
        app.url("/authorize"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let back = authorize(&me, &url, email, false).await;
    let code = param(&back, "code").unwrap();
    let token = |form: Vec<(&'static str, String)>| {
        let app = &app;
        let service = &service;
        async move {
            let body: serde_json::Value = app
                .client
                .post(app.url("/token"))
                .basic_auth(&service.id, service.secret.as_deref())
                .form(&form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            common::leaks::remember_tokens(&body);
            body
        }
    };
    let mut tokens = token(vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("code_verifier", verifier.secret().clone()),
        ("redirect_uri", REDIRECT.to_owned()),
    ])
    .await;
    let keys = app.oidc().keys().clone();
    let old_kid = kid_of(tokens["id_token"].as_str().unwrap());
    let mut new_kid = None;
    let mut seen = std::collections::BTreeSet::new();
    for step in 0..14 {
        if step == 1 {
            let now = app.clock.now_for_tests();
            let next = keys
                .folder()
                .create(SigningAlg::Rs256, now, now + chrono::Duration::hours(1))
                .unwrap();
            new_kid = Some(next.kid);
            let_nodes_notice().await;
        }
        if step == 10 {
            let mut retired = keys
                .states()
                .into_iter()
                .find(|(m, _)| m.kid == old_kid)
                .unwrap()
                .0;
            retired.retired_at = Some(app.clock.now_for_tests());
            keys.folder().save(&retired).unwrap();
            let_nodes_notice().await;
        }
        // The service fetched the key set, then validates for ten minutes from its cache.
        let cache = published(&app).await;
        app.clock.advance(chrono::Duration::minutes(10));
        tokens = token(vec![
            ("grant_type", "refresh_token".to_owned()),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().unwrap().to_owned(),
            ),
        ])
        .await;
        for kind in ["id_token", "access_token"] {
            let kid = kid_of(tokens[kind].as_str().unwrap_or_else(|| panic!("{tokens}")));
            assert!(
                cache.contains(&kid),
                "step {step}: {kind} signed by {kid}, not in {cache:?}"
            );
            seen.insert(kid);
        }
    }
    let new_kid = new_kid.unwrap();
    assert!(
        seen.contains(&old_kid) && seen.contains(&new_kid),
        "the run crossed the switch: {seen:?}"
    );
}
