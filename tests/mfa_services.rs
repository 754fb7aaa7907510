//! Services that need 2-step verification, seen from the relying party (the `openidconnect`
//! crate): a service marked `mfa_required` takes someone without MFA through set-up before
//! any token; `acr_values` makes a signed-in person step up with a second factor, not their
//! password; and the ID token says what was achieved.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::oidc::{PASSWORD, REDIRECT, Rp, Spec, http, param, value_of};
use common::{Browser, ClockExt, Engine, TestApp, csrf_in, location, set_cookie};
use openidconnect::core::{CoreAuthenticationFlow, CoreIdTokenClaims, CoreTokenResponse};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, TokenResponse,
};

both_engines!(
    a_service_that_needs_mfa_takes_people_through_set_up_first,
    acr_values_make_a_signed_in_person_step_up_with_a_second_factor,
    approvers_must_use_two_step_verification,
);

const EMAIL: &str = "ioana.roberts@school.example";
const MFA: &str = "urn:gatehouse:acr:mfa";

struct Started {
    url: url::Url,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

fn start(rp: &Rp, acr: Option<&str>, prompt_none: bool) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    if let Some(acr) = acr {
        request = request.add_auth_context_value(AuthenticationContextClass::new(acr.to_owned()));
    }
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

/// Follows redirects from `from` until the service's redirect URI or a page; returns which.
async fn follow(browser: &Browser, from: &str) -> Result<url::Url, (String, String)> {
    let mut next = from.to_owned();
    for _ in 0..10 {
        let url = if next.starts_with('/') {
            format!("{}{next}", browser.base)
        } else {
            next.clone()
        };
        let response = browser.client.get(&url).send().await.unwrap();
        if response.status() != 303 {
            assert_eq!(response.status(), 200, "at {url}");
            return Err((next, response.text().await.unwrap()));
        }
        next = location(&response);
        if next.starts_with(REDIRECT) {
            return Ok(url::Url::parse(&next).unwrap());
        }
    }
    panic!("too many redirects from {from}");
}

async fn tokens(app: &TestApp, rp: &Rp, back: &url::Url, started: Started) -> CoreIdTokenClaims {
    let response: CoreTokenResponse = rp
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
    response
        .id_token()
        .unwrap()
        .claims(&verifier, &started.nonce)
        .unwrap()
        .clone()
}

fn amr(claims: &CoreIdTokenClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect()
}

async fn a_service_that_needs_mfa_takes_people_through_set_up_first(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let service = app
        .register(Spec {
            mfa_required: true,
            ..Spec::confidential("school-census")
        })
        .await;
    let rp = app.rp(&service).await;
    let started = start(&rp, None, false);
    let me = app.browser();

    let (at, page) = follow(&me, started.url.as_str()).await.unwrap_err();
    assert!(at.starts_with("/sign-in?"));
    let signed_in = me
        .post(
            "/sign-in",
            &[
                ("csrf_token", &csrf_in(&page)),
                ("email", EMAIL),
                ("password", PASSWORD),
                ("return_to", &value_of(&page, "return_to")),
            ],
        )
        .await;
    let resume = location(&signed_in);
    assert!(resume.starts_with("/authorize/resume"));
    // No token yet: the person must set up 2-step verification first.
    let (at, page) = follow(&me, &resume).await.unwrap_err();
    assert!(at.starts_with("/account/security/required"), "{at}");
    assert!(page.contains("Set up 2-step verification"));
    let setup = me
        .get(&format!(
            "/account/security/app?return_to={}",
            url::form_urlencoded::byte_serialize(resume.as_bytes()).collect::<String>()
        ))
        .await
        .text()
        .await
        .unwrap();
    let device = common::mfa::App {
        secret: common::mfa::secret_on(&setup),
    };
    let added = me
        .post(
            "/account/security/app",
            &[
                ("csrf_token", &csrf_in(&setup)),
                ("setup_id", &value_of(&setup, "setup_id")),
                ("return_to", &value_of(&setup, "return_to")),
                ("name", "Work phone"),
                ("code", &device.code_now(&app)),
            ],
        )
        .await;
    assert_eq!(added.status(), 200);
    assert!(
        set_cookie(&added, "gatehouse_session").is_some(),
        "a new session id"
    );
    let codes_page = added.text().await.unwrap();
    assert_eq!(common::mfa::recovery_codes_on(&codes_page).len(), 10);
    assert!(codes_page.contains(&format!("href=\"{}\"", resume.replace('&', "&#38;"))));

    let back = follow(&me, &resume).await.unwrap();
    let claims = tokens(&app, &rp, &back, started).await;
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), MFA);
    let methods = amr(&claims);
    assert!(
        methods.contains(&"otp".to_owned()) && methods.contains(&"mfa".to_owned()),
        "{methods:?}"
    );

    // Next time, the second step comes straight after the password.
    app.clock.advance(Duration::seconds(30));
    let later = app.browser();
    let started = start(&rp, None, false);
    let (_, page) = follow(&later, started.url.as_str()).await.unwrap_err();
    let signed_in = later
        .post(
            "/sign-in",
            &[
                ("csrf_token", &csrf_in(&page)),
                ("email", EMAIL),
                ("password", PASSWORD),
                ("return_to", &value_of(&page, "return_to")),
            ],
        )
        .await;
    assert!(location(&signed_in).starts_with("/sign-in/verify"));
    let answer = later
        .post(
            "/sign-in/verify",
            &[
                ("csrf_token", &csrf_in(&page)),
                ("method", "code"),
                ("code", &device.code_now(&app)),
                ("return_to", &value_of(&page, "return_to")),
            ],
        )
        .await;
    assert_eq!(answer.status(), 303);
    let back = follow(&later, &location(&answer)).await.unwrap();
    let claims = tokens(&app, &rp, &back, started).await;
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), MFA);
}

async fn acr_values_make_a_signed_in_person_step_up_with_a_second_factor(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let service = app.register(Spec::confidential("pupil-records")).await;
    let rp = app.rp(&service).await;

    // Signed in on the office computer with a password only; then 2-step verification is
    // set up from a phone.
    let office = app.browser();
    assert_eq!(office.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let phone = app.browser();
    assert_eq!(phone.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let (device, _) = phone.add_app(&app, "Phone").await;
    app.clock.advance(Duration::seconds(30));

    // Without acr_values the password session is enough.
    let plain = start(&rp, None, false);
    let back = follow(&office, plain.url.as_str()).await.unwrap();
    let claims = tokens(&app, &rp, &back, plain).await;
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:gatehouse:acr:password"
    );

    // prompt=none cannot step up.
    let silent = start(&rp, Some(MFA), true);
    let back = follow(&office, silent.url.as_str()).await.unwrap();
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("interaction_required")
    );

    // Asking for MFA brings the second step, not the password.
    let started = start(&rp, Some(MFA), false);
    let (at, page) = follow(&office, started.url.as_str()).await.unwrap_err();
    assert!(at.starts_with("/sign-in/verify"), "{at}");
    assert!(!page.contains("name=\"password\""));
    assert!(page.contains("Security code"));
    let answer = office
        .post(
            "/sign-in/verify",
            &[
                ("csrf_token", &csrf_in(&page)),
                ("method", "code"),
                ("code", &device.code_now(&app)),
                ("return_to", &value_of(&page, "return_to")),
            ],
        )
        .await;
    assert_eq!(answer.status(), 303);
    assert!(
        set_cookie(&answer, "gatehouse_session").is_some(),
        "step-up renews the session id"
    );
    let back = follow(&office, &location(&answer)).await.unwrap();
    let claims = tokens(&app, &rp, &back, started).await;
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), MFA);
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);

    let discovery: serde_json::Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["acr_values_supported"],
        serde_json::json!(["urn:gatehouse:acr:password", MFA])
    );
}

async fn approvers_must_use_two_step_verification(engine: Engine) {
    use gatehouse::audit::{Actor, RequestContext};
    use gatehouse::directory::{Directory, Level, NewOrganisation, OrgKind, OrgStatus};
    let app = TestApp::spawn(engine).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let user = app.store.user_by_id(&id).await.unwrap().unwrap();
    let directory = Directory::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    let ctx = RequestContext::default();
    let school = directory
        .create_organisation(
            NewOrganisation {
                kind: OrgKind::School,
                name: "Oakhurst Primary School".into(),
                urn: Some("123456".into()),
                ukprn: None,
                la_code: Some("801".into()),
                status: OrgStatus::Open,
                town: None,
                postcode: None,
            },
            Actor::Cli,
            &ctx,
        )
        .await
        .unwrap();
    directory
        .add_member(&user, &school.id, Level::Approver, Actor::Cli, &ctx)
        .await
        .unwrap();
    let service = app.register(Spec::confidential("pupil-records")).await;
    let rp = app.rp(&service).await;

    // Straight from the password to set-up.
    let me = app.browser();
    let answer = me.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(
        location(&answer),
        "/account/security/required?return_to=%2Faccount"
    );
    // No token for any service until then.
    let started = start(&rp, None, false);
    let (at, _) = follow(&me, started.url.as_str()).await.unwrap_err();
    assert!(at.starts_with("/account/security/required"), "{at}");

    let (device, added) = me.add_app(&app, "Phone").await;
    assert_eq!(added.status(), 200);
    let back = follow(&me, started.url.as_str()).await.unwrap();
    let claims = tokens(&app, &rp, &back, started).await;
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), MFA);

    // The last method cannot be removed while they are an approver.
    let page = me.get("/account/security").await.text().await.unwrap();
    let removed = me
        .post(
            "/account/security/remove",
            &[
                ("csrf_token", &csrf_in(&page)),
                ("kind", "authenticator_app"),
                ("id", &value_of(&page, "id")),
            ],
        )
        .await;
    assert_eq!(removed.status(), 422);
    assert!(
        removed
            .text()
            .await
            .unwrap()
            .contains("You cannot remove your last sign-in method")
    );
    let _ = device;
}
