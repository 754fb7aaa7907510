//! Two Gatehouse nodes on one database behind a load balancer that sends each request
//! wherever it likes (issue 9): anything single-use spent on one node is refused on the
//! other — a code, a rotated refresh token, a TOTP step, a reset link, a client assertion's
//! `jti` — and signing out on one ends the session on both. Both nodes share the database, the
//! keys folder and the issuer, as a real deployment does; each has its own process state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::nodes::{on, pair};
use common::oidc::{PASSWORD, REDIRECT, Spec, authorize, param, token_request as token};
use common::{ClockExt, Engine, TestApp, location};
use gatehouse::crypto::{SigningAlg, SigningKey, sign_jwt};
use gatehouse::oidc::{AuthMethod, GrantType};
use oauth2::PkceCodeChallenge;

both_engines!(
    codes_and_refresh_tokens_are_spent_everywhere,
    a_code_step_and_a_reset_link_work_once_across_nodes,
    an_assertion_and_a_sign_out_count_on_every_node
);

const EMAIL: &str = "pat.okafor@school.example";

async fn codes_and_refresh_tokens_are_spent_everywhere(engine: Engine) {
    let p = pair(engine, "").await;
    p.a.create_user(EMAIL, PASSWORD).await;
    let service = p.a.register(Spec::confidential("portal")).await;
    let secret = service.secret.clone().unwrap();
    let me = p.a.browser();
    me.sign_in(EMAIL, PASSWORD).await;

    // A code issued by A, redeemed on B; replayed on A.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?client_id=portal&redirect_uri={}&response_type=code&scope=openid%20offline_access\
         &code_challenge={}&code_challenge_method=S256",
        p.a.url("/authorize"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let back = authorize(&me, &url, EMAIL, false).await;
    let code = param(&back, "code").unwrap();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.secret().as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, first) = token(&p.b, "portal", &secret, &redeem).await;
    assert_eq!(status, 200, "{first}");
    let (status, body) = token(&p.a, "portal", &secret, &redeem).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The replay revoked what the first use issued, on both nodes.
    for node in [&p.a, &p.b] {
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ];
        let (status, _) = token(node, "portal", &secret, &refresh).await;
        assert_eq!(status, 400, "revoked everywhere");
    }

    // A fresh grant: refreshed on A, its old token replayed on B.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = url.replace(
        &url[url.find("code_challenge=").unwrap()..],
        &format!(
            "code_challenge={}&code_challenge_method=S256",
            challenge.as_str()
        ),
    );
    let back = authorize(&me, &url, EMAIL, false).await;
    let code = param(&back, "code").unwrap();
    let (_, issued) = token(
        &p.b,
        "portal",
        &secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.secret().as_str()),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let old = issued["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = token(
        &p.a,
        "portal",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = token(
        &p.b,
        "portal",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
    )
    .await;
    assert_eq!(status, 400, "the rotated-out token is spent on B too");
    let (status, _) = token(
        &p.a,
        "portal",
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400, "and the replay ended the family for A");
}

async fn a_code_step_and_a_reset_link_work_once_across_nodes(engine: Engine) {
    let p = pair(engine, "").await;
    p.a.create_user(EMAIL, PASSWORD).await;
    let (_, device) = p.a.verified_browser_and_app(EMAIL, PASSWORD).await;

    // One TOTP step: accepted by A, refused by B.
    p.advance(chrono::Duration::seconds(30));
    let code = device.code_at(p.a.clock.now_for_tests());
    let on_a = p.a.browser();
    on_a.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let on_b = on(&p.b, &p.b.browser());
    on_b.sign_in_to_second_step(EMAIL, PASSWORD).await;
    assert_eq!(
        on_a.second_step("code", &[("code", &code)]).await.status(),
        303
    );
    assert_eq!(
        on_b.second_step("code", &[("code", &code)]).await.status(),
        401,
        "the step was spent on the other node"
    );

    // A reset link asked for on A, used on B, then refused on A.
    let asker = p.a.browser();
    let before = p.sink.messages_to(EMAIL).len();
    assert_eq!(asker.request_reset(EMAIL).await.status(), 200);
    let mail = &p.sink.wait_for(EMAIL, before + 1).await;
    let reset = mail
        .iter()
        .find_map(|m| m.link(&p.a.base, "/reset-password/"))
        .unwrap();
    let path = TestApp::path_of(&reset);
    let first = p.b.browser();
    let token = first
        .open_link(&format!("{}{path}", p.a.base), "/reset-password")
        .await;
    let saved = first
        .save_password(
            "/reset-password",
            &token,
            "harbour velvet pylon quiz",
            "harbour velvet pylon quiz",
        )
        .await;
    assert_eq!(saved.status(), 200, "saved on B");
    let again = p.a.browser().get(&path).await;
    assert_eq!(again.status(), 410, "the link was used on the other node");
}

async fn an_assertion_and_a_sign_out_count_on_every_node(engine: Engine) {
    let p = pair(engine, "").await;
    let (key, _) = SigningKey::generate("k1".into(), SigningAlg::Es256).unwrap();
    p.a.register(Spec {
        auth_method: AuthMethod::PrivateKeyJwt,
        grants: vec![GrantType::ClientCredentials],
        jwks: Some(serde_json::json!({ "keys": [key.public_jwk()] })),
        ..Spec::confidential("signed")
    })
    .await;
    let now = p.a.clock.now_for_tests().timestamp();
    let assertion = sign_jwt(
        "JWT",
        &serde_json::json!({
            "iss": "signed", "sub": "signed", "aud": p.a.url("/token"),
            "iat": now, "exp": now + 60, "jti": "once-only",
        }),
        &key,
    )
    .unwrap();
    let use_on = |node: &TestApp| {
        node.client
            .post(node.url("/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    assert_eq!(use_on(&p.a).await.unwrap().status(), 200);
    assert_eq!(
        use_on(&p.b).await.unwrap().status(),
        401,
        "its jti was seen on the other node"
    );

    // Signed in through A; B knows the session; signing out on A ends it on B.
    p.a.create_user(EMAIL, PASSWORD).await;
    let me = p.a.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let me_on_b = on(&p.b, &me);
    assert_eq!(me_on_b.get("/account").await.status(), 200);
    let token = me.csrf("/account").await;
    let out = me.post("/sign-out", &[("csrf_token", &token)]).await;
    assert_eq!(location(&out), "/signed-out");
    assert_eq!(
        me_on_b.get("/account").await.status(),
        303,
        "signed out on B too"
    );
}
