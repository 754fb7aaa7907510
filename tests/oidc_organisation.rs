//! The `organisation` scope as a relying service sees it (the `openidconnect` crate): the
//! organisation a person acts for and their roles there, in the verified ID token and at
//! /userinfo; a choice when they have several (and a switch without a password); a page
//! naming their approvers, and no token, when they have none; and refreshes refused once
//! access ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use base64::Engine as _;
use common::oidc::{PASSWORD, REDIRECT, Rp, http, param, value_of};
use common::{Browser, ClockExt, Engine, TestApp, csrf_in, location};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::{Directory, Level};
use openidconnect::core::{CoreAuthenticationFlow, CoreTokenResponse};
use openidconnect::{
    AccessToken, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RefreshToken, Scope, TokenResponse,
};

both_engines!(
    tokens_say_which_organisation_and_which_roles,
    people_with_no_access_are_told_who_can_give_it,
);

const ANA: &str = "ana.lopez@school.example";
const BEN: &str = "ben.osei@school.example";
const CARA: &str = "cara.lund@school.example";

struct Started {
    url: url::Url,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

fn start(rp: &Rp, prompt_none: bool) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("organisation".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge);
    if prompt_none {
        request = request.add_prompt(openidconnect::core::CoreAuthPrompt::None);
    }
    let (url, _, nonce) = request.url();
    Started {
        url,
        nonce,
        verifier,
    }
}

/// Follows redirects until the service's redirect URI, or a page (its path, status, HTML).
async fn follow(browser: &Browser, from: &str) -> Result<url::Url, (String, u16, String)> {
    let mut next = from.to_owned();
    for _ in 0..10 {
        let url = if next.starts_with('/') {
            format!("{}{next}", browser.base)
        } else {
            next.clone()
        };
        let response = browser.client.get(&url).send().await.unwrap();
        let status = response.status().as_u16();
        if status != 303 {
            return Err((next, status, response.text().await.unwrap()));
        }
        next = location(&response);
        if next.starts_with(REDIRECT) {
            return Ok(url::Url::parse(&next).unwrap());
        }
    }
    panic!("too many redirects from {from}");
}

/// Signs in on the sign-in page `html` shows and follows on.
async fn sign_in(
    browser: &Browser,
    html: &str,
    email: &str,
) -> Result<url::Url, (String, u16, String)> {
    let answer = browser
        .post(
            "/sign-in",
            &[
                ("csrf_token", &csrf_in(html)),
                ("email", email),
                ("password", PASSWORD),
                ("return_to", &value_of(html, "return_to")),
            ],
        )
        .await;
    follow(browser, &location(&answer)).await
}

async fn exchange(
    rp: &Rp,
    back: &url::Url,
    started: Started,
    app: &TestApp,
) -> (serde_json::Value, CoreTokenResponse) {
    let tokens: CoreTokenResponse = rp
        .exchange_code(AuthorizationCode::new(param(back, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(started.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let clock = app.clock.clone();
    let verifier = rp
        .id_token_verifier()
        .set_time_fn(move || clock.now_for_tests());
    let id_token = tokens.id_token().unwrap();
    id_token.claims(&verifier, &started.nonce).unwrap();
    let payload = id_token.to_string().split('.').nth(1).unwrap().to_owned();
    let claims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    (claims, tokens)
}

async fn setup(app: &TestApp) -> (Directory, Rp) {
    let directory = app.directory_with_schools().await;
    let service = app
        .organisation_service(
            &directory,
            "census",
            "openid profile email offline_access organisation",
            &[("submitter", "Submits returns")],
        )
        .await;
    (directory, app.rp(&service).await)
}

async fn user(app: &TestApp, email: &str) -> gatehouse::store::UserRow {
    let id = app.create_user(email, PASSWORD).await;
    app.store.user_by_id(&id).await.unwrap().unwrap()
}

async fn tokens_say_which_organisation_and_which_roles(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (directory, rp) = setup(&app).await;
    let ctx = RequestContext::default();
    let ana = user(&app, ANA).await;
    for urn in ["100000", "100011"] {
        directory
            .add_member(&ana, urn, Level::Member, Actor::Cli, &ctx)
            .await
            .unwrap();
    }
    directory
        .grant_access(
            &ana,
            "100000",
            "census",
            &["submitter".into()],
            Actor::Cli,
            &ctx,
        )
        .await
        .unwrap();

    // One organisation with access: chosen without asking.
    let me = app.browser();
    let started = start(&rp, false);
    let (_, _, page) = follow(&me, started.url.as_str()).await.unwrap_err();
    let back = sign_in(&me, &page, ANA).await.unwrap();
    let (claims, tokens) = exchange(&rp, &back, started, &app).await;
    assert_eq!(claims["organisation"]["urn"], "100000");
    assert_eq!(claims["organisation"]["la_code"], "801");
    assert_eq!(claims["organisation"]["category"], "school");
    assert_eq!(claims["organisation"]["status"], "open");
    assert_eq!(
        claims["organisation"]["name"],
        "St Th\u{e9}r\u{e8}se\u{2019}s High School, Thornbury"
    );
    assert_eq!(claims["roles"], serde_json::json!(["submitter"]));
    let info: serde_json::Value = app
        .client
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["organisation"]["urn"], "100000");
    assert_eq!(info["roles"], serde_json::json!(["submitter"]));

    // Access at a second school: now Ana chooses, and can switch without her password.
    directory
        .grant_access(&ana, "100011", "census", &[], Actor::Cli, &ctx)
        .await
        .unwrap();
    let silent = start(&rp, true);
    let back = follow(&me, silent.url.as_str()).await.unwrap();
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("interaction_required")
    );
    for (urn, roles) in [
        ("100011", serde_json::json!([])),
        ("100000", serde_json::json!(["submitter"])),
    ] {
        let pick = directory.find(urn).await.unwrap().unwrap().id;
        let started = start(&rp, false);
        let (at, status, page) = follow(&me, started.url.as_str()).await.unwrap_err();
        assert_eq!(status, 200, "{at}");
        assert!(
            page.contains("Which organisation are you signing in for?"),
            "{page}"
        );
        assert!(!page.contains("name=\"password\""));
        let request = value_of(&page, "request");
        let none = me
            .post(
                "/authorize/organisation",
                &[("csrf_token", &csrf_in(&page)), ("request", &request)],
            )
            .await;
        assert_eq!(none.status(), 422, "choosing nothing is a field error");
        let ids: Vec<String> = page
            .split("name=\"organisation\" type=\"radio\" value=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&pick));
        let chosen = me
            .post(
                "/authorize/organisation",
                &[
                    ("csrf_token", &csrf_in(&page)),
                    ("request", &request),
                    ("organisation", &pick),
                ],
            )
            .await;
        assert_eq!(chosen.status(), 303);
        let back = follow(&me, &location(&chosen)).await.unwrap();
        let (claims, _) = exchange(&rp, &back, started, &app).await;
        assert_eq!(claims["organisation"]["id"], pick.as_str());
        assert_eq!(claims["organisation"]["urn"], urn);
        assert_eq!(claims["roles"], roles);
    }

    // An organisation Ana cannot act for is refused, whatever the form says.
    let started = start(&rp, false);
    let (_, _, page) = follow(&me, started.url.as_str()).await.unwrap_err();
    let outsider = directory.find("100019").await.unwrap().unwrap();
    let forged = me
        .post(
            "/authorize/organisation",
            &[
                ("csrf_token", &csrf_in(&page)),
                ("request", &value_of(&page, "request")),
                ("organisation", &outsider.id),
            ],
        )
        .await;
    assert_eq!(forged.status(), 422);

    // Once her access ends, the service's refresh token stops working.
    let refresh = tokens.refresh_token().unwrap().clone();
    directory
        .remove_member(&ana, "100000", Actor::Cli, &ctx)
        .await
        .unwrap();
    let refused = rp
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .unwrap()
        .request_async(&http)
        .await;
    assert!(refused.is_err(), "refresh after access ended");
    let _ = AccessToken::new(String::new());
}

async fn people_with_no_access_are_told_who_can_give_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (directory, rp) = setup(&app).await;
    let ctx = RequestContext::default();
    let ben = user(&app, BEN).await;
    let cara = user(&app, CARA).await;
    directory
        .add_member(&ben, "100000", Level::Approver, Actor::Cli, &ctx)
        .await
        .unwrap();
    directory
        .add_member(&cara, "100000", Level::Member, Actor::Cli, &ctx)
        .await
        .unwrap();

    let me = app.browser();
    let started = start(&rp, false);
    let (_, _, page) = follow(&me, started.url.as_str()).await.unwrap_err();
    let (at, status, page) = sign_in(&me, &page, CARA).await.unwrap_err();
    assert_eq!(status, 403, "{at}");
    assert!(page.contains("You cannot use Service census yet"), "{page}");
    assert!(page.contains(&format!("Ioana Roberts ({BEN})")), "{page}");

    let silent = start(&rp, true);
    let back = follow(&me, silent.url.as_str()).await.unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));

    // Her account page says where she belongs.
    let account = me.get("/account").await.text().await.unwrap();
    assert!(account.contains("Organisations"), "{account}");
    assert!(account.contains("Thornbury</li>"), "{account}");
}
