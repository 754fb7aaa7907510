//! Several nodes on one database behind a balancer that takes turns (issue 10): a person's
//! whole journey with every request on the other node from the last, the sign-in limit per
//! address counted across nodes, and a key rotated on one node signing on both. Single-use
//! things are in `fault_two_nodes.rs`, the outbox's two workers in `mail_outbox.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common;

use common::nodes::{on, pair};
use common::oidc::{
    PASSWORD, REDIRECT, Spec, authorize, param, published_kids as published, token_request,
};
use common::{ClockExt, Engine, TestApp, csrf_in, location};
use gatehouse::audit::Actor;
use gatehouse::crypto::SigningAlg;
use gatehouse::oidc::GrantType;
use oauth2::PkceCodeChallenge;
use secrecy::ExposeSecret;

both_engines!(
    a_journey_on_alternating_nodes_works_as_on_one,
    the_sign_in_limit_counts_on_every_node,
    a_key_rotated_on_one_node_signs_on_both,
    a_service_changed_elsewhere_is_seen_by_every_node_within_a_second
);

const EMAIL: &str = "niamh.adeyemi@school.example";

async fn a_journey_on_alternating_nodes_works_as_on_one(engine: Engine) {
    let p = pair(engine, "").await;
    p.a.create_user(EMAIL, PASSWORD).await;
    let service = p.a.register(Spec::confidential("portal")).await;
    let secret = service.secret.clone().unwrap();

    // The form from A, the password to B, the account page from A.
    let me = p.a.browser();
    let page = me.get("/sign-in").await.text().await.unwrap();
    let signed_in = on(&p.b, &me)
        .post(
            "/sign-in",
            &[
                ("csrf_token", csrf_in(&page).as_str()),
                ("email", EMAIL),
                ("password", PASSWORD),
                ("return_to", "/account"),
            ],
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(me.get("/account").await.status(), 200);

    // The code from B, redeemed on A; userinfo on B; refreshed on A; revoked on B.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?client_id=portal&redirect_uri={}&response_type=code&scope=openid%20email%20offline_access\
         &code_challenge={}&code_challenge_method=S256",
        p.b.url("/authorize"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let back = authorize(&on(&p.b, &me), &url, EMAIL, false).await;
    let code = param(&back, "code").unwrap();
    let (status, tokens) = token_request(
        &p.a,
        "portal",
        &secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier.secret()),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let info: serde_json::Value =
        p.b.client
            .get(p.b.url("/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(info["email"], EMAIL);
    let (status, refreshed) = token_request(
        &p.a,
        "portal",
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let latest = refreshed["refresh_token"].as_str().unwrap();
    let revoked =
        p.b.client
            .post(p.b.url("/revoke"))
            .basic_auth("portal", Some(&secret))
            .form(&[("token", latest)])
            .send()
            .await
            .unwrap();
    assert_eq!(revoked.status(), 200);
    let (status, _) = token_request(
        &p.a,
        "portal",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", latest)],
    )
    .await;
    assert_eq!(status, 400, "revoked on B, refused on A");

    // Signed out on B: signed out on A.
    let account = me.get("/account").await.text().await.unwrap();
    let out = on(&p.b, &me)
        .post("/sign-out", &[("csrf_token", csrf_in(&account).as_str())])
        .await;
    assert_eq!(out.status(), 303);
    let after = me.get("/account").await;
    assert_eq!(after.status(), 303);
    assert!(location(&after).starts_with("/sign-in"));
}

async fn the_sign_in_limit_counts_on_every_node(engine: Engine) {
    let p = pair(engine, "sign_in_ip_burst = 4\nsign_in_ip_per_minute = 6").await;
    p.a.create_user(EMAIL, PASSWORD).await;
    for i in 0..4 {
        let node = p.turn(i);
        let answer = node
            .browser()
            .sign_in(EMAIL, "not the password at all")
            .await;
        assert_eq!(answer.status(), 401, "attempt {i} on {}", node.base);
    }
    for node in [&p.a, &p.b] {
        let answer = node.browser().sign_in(EMAIL, PASSWORD).await;
        assert_eq!(
            answer.status(),
            429,
            "the burst was spent across both nodes"
        );
    }
    let user =
        p.a.store
            .user_by_email(&gatehouse::domain::Email::parse(EMAIL).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(user.failed_sign_ins, 4, "each node's failures count once");
}

async fn machine_kid(node: &TestApp, secret: &str) -> (String, String) {
    let (_, answer) = token_request(
        node,
        "machine",
        secret,
        &[("grant_type", "client_credentials")],
    )
    .await;
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let header = gatehouse::crypto::decode_unverified_header(&token).unwrap();
    (header.kid.unwrap_or_default(), token)
}

async fn a_key_rotated_on_one_node_signs_on_both(engine: Engine) {
    let p = pair(engine, "").await;
    let machine =
        p.a.register(Spec {
            grants: vec![GrantType::ClientCredentials],
            ..Spec::confidential("machine")
        })
        .await;
    let secret = machine.secret.clone().unwrap();
    let (old_a, _) = machine_kid(&p.a, &secret).await;
    let (old_b, _) = machine_kid(&p.b, &secret).await;
    assert_eq!(old_a, old_b, "both sign with the same key");

    let now = p.a.clock.now_for_tests();
    let next =
        p.a.oidc()
            .keys()
            .folder()
            .create(SigningAlg::Rs256, now, now + chrono::Duration::minutes(1))
            .unwrap();
    // Nodes notice a changed keys folder within a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for node in [&p.a, &p.b] {
        assert!(
            published(node).await.contains(&next.kid),
            "published on both"
        );
        assert_eq!(machine_kid(node, &secret).await.0, old_a, "not signing yet");
    }
    p.advance(chrono::Duration::minutes(2));
    let (kid_a, from_a) = machine_kid(&p.a, &secret).await;
    let (kid_b, from_b) = machine_kid(&p.b, &secret).await;
    assert_eq!(
        (kid_a.as_str(), kid_b.as_str()),
        (next.kid.as_str(), next.kid.as_str())
    );
    for (node, token) in [(&p.b, &from_a), (&p.a, &from_b)] {
        let body: serde_json::Value = node
            .client
            .post(node.url("/introspect"))
            .basic_auth("machine", Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["active"], true,
            "a token from one node is good on the other"
        );
    }
}

/// The status of a `client_credentials` request as `id` with `secret`.
async fn machine_token(node: &TestApp, id: &str, secret: &str) -> u16 {
    let (status, _) =
        token_request(node, id, secret, &[("grant_type", "client_credentials")]).await;
    status
}

/// Nodes keep services in memory for client authentication (decision 0022); a change made
/// by another writer (here the operator's tooling, on neither node) must still reach both.
async fn a_service_changed_elsewhere_is_seen_by_every_node_within_a_second(engine: Engine) {
    let p = pair(engine, "").await;
    let spec = || Spec {
        grants: vec![GrantType::ClientCredentials],
        ..Spec::confidential("machine")
    };
    let machine = p.a.register(spec()).await;
    let old = machine.secret.clone().unwrap();
    for node in [&p.a, &p.b] {
        assert_eq!(machine_token(node, "machine", &old).await, 200);
    }

    // A new secret, the old one kept for a day: the new one works on both nodes at once.
    let tooling = p.a.oidc();
    let ctx = gatehouse::audit::RequestContext::default();
    let new = tooling
        .rotate_client_secret("machine", chrono::Duration::days(1), Actor::Cli, &ctx)
        .await
        .unwrap();
    let new = new.expose_secret().to_owned();
    common::leaks::remember(&new);
    for node in [&p.a, &p.b] {
        assert_eq!(
            machine_token(node, "machine", &new).await,
            200,
            "new secret"
        );
        assert_eq!(machine_token(node, "machine", &old).await, 200, "grace");
    }

    // The service is removed: within a second neither node issues it anything.
    tooling
        .delete_client("machine", Actor::Cli, &ctx)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for node in [&p.a, &p.b] {
        assert_eq!(machine_token(node, "machine", &new).await, 401, "deleted");
    }
    // Registered again under the same id, with a fresh secret: the old ones are gone.
    let again = p.a.register(spec()).await.secret.unwrap();
    for node in [&p.a, &p.b] {
        assert_eq!(machine_token(node, "machine", &again).await, 200);
        assert_eq!(machine_token(node, "machine", &new).await, 401);
    }
}
