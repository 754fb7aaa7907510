//! 2-step verification with an authenticator app and recovery codes, as staff would use it:
//! set up from the QR code's secret, sign in with a code computed from the test clock, fall
//! back to a recovery code — and every way of getting round it refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::mfa::recovery_codes_on;
use common::{ClockExt, Engine, TestApp, location, set_cookie};

const EMAIL: &str = "ioana.roberts@school.example";
const PASSWORD: &str = "correct horse battery staple";

both_engines!(
    an_app_set_up_from_its_secret_is_asked_for_at_every_sign_in,
    codes_work_once_for_the_current_and_previous_step_only,
    parallel_submissions_of_one_code_succeed_once,
    a_recovery_code_signs_in_once_and_is_emailed,
    a_pending_sign_in_reaches_nothing,
    changing_methods_needs_a_recent_password_and_a_csrf_token,
    a_hundred_wrong_codes_turn_the_app_off,
    a_password_reset_keeps_the_second_step,
);

/// Signs in, sets up an app, and signs out: returns the app and the recovery codes.
async fn enrolled(app: &TestApp) -> (common::mfa::App, Vec<String>) {
    let me = app.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let (device, answer) = me.add_app(app, "Work phone").await;
    assert_eq!(answer.status(), 200);
    let codes = recovery_codes_on(&answer.text().await.unwrap());
    // The step used to confirm it is spent: move on to the next one.
    app.clock.advance(Duration::seconds(30));
    (device, codes)
}

async fn an_app_set_up_from_its_secret_is_asked_for_at_every_sign_in(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let me = app.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);

    // A wrong first code leaves nothing half set up.
    let page = me.get("/account/security/app").await.text().await.unwrap();
    assert!(page.contains("Enter this key in your app instead"));
    let secret = common::mfa::secret_on(&page);
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let wrong = me
        .post(
            "/account/security/app",
            &[
                ("csrf_token", &common::csrf_in(&page)),
                ("setup_id", &common::oidc::value_of(&page, "setup_id")),
                ("name", "Work phone"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("The security code is not right"));
    assert_eq!(
        common::mfa::secret_on(&html),
        secret,
        "the same secret is shown again until it is confirmed"
    );
    let security = me.get("/account/security").await.text().await.unwrap();
    assert!(security.contains("You have not set up 2-step verification"));

    let (device, answer) = me.add_app(&app, "Work phone").await;
    assert_eq!(device.secret, secret);
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let codes = recovery_codes_on(&answer.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    let security = me.get("/account/security").await.text().await.unwrap();
    assert!(security.contains("Work phone") && security.contains("10 recovery codes left"));
    assert!(
        !security.contains(&secret),
        "the secret is never shown again"
    );
    let mail = &sink.wait_for(EMAIL, 1).await[0];
    assert_eq!(
        mail.subject(),
        "Your Gatehouse sign-in methods have changed"
    );
    assert!(mail.text().contains("An authenticator app called"));

    // Signing in again asks for the code, and only the code finishes it.
    app.clock.advance(Duration::seconds(30));
    let other = app.browser();
    let signed_in = other.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert!(location(&signed_in).starts_with("/sign-in/verify"));
    assert!(set_cookie(&signed_in, "gatehouse_session").is_none());
    assert!(set_cookie(&signed_in, "gatehouse_pending").is_some());
    let page = other.get("/sign-in/verify").await.text().await.unwrap();
    assert!(page.contains("Security code") && page.contains("Use a recovery code"));
    let done = other
        .second_step("code", &[("code", &device.code_now(&app))])
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/account");
    assert!(set_cookie(&done, "gatehouse_session").is_some());
    assert_eq!(other.get("/account").await.status(), 200);

    let rows = app.audit_of(&id).await;
    // Newest first: the sign-in that used the code.
    let last = rows
        .iter()
        .find(|r| r.action == "sign_in.succeeded")
        .unwrap();
    let details = last.details.as_deref().unwrap();
    assert!(
        details.contains("\"otp\"") && details.contains("\"mfa\""),
        "{details}"
    );
}

async fn codes_work_once_for_the_current_and_previous_step_only(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let (device, _) = enrolled(&app).await;
    // The step before this one was not used at set-up.
    app.clock.advance(Duration::seconds(30));

    let me = app.browser();
    me.sign_in_to_second_step(EMAIL, PASSWORD).await;
    for (code, message) in [
        ("12345", "The security code must be 6 digits"),
        ("12a456", "The security code must be 6 digits"),
        ("", "Enter the 6-digit security code"),
    ] {
        let answer = me.second_step("code", &[("code", code)]).await;
        assert_eq!(answer.status(), 422, "{code:?}");
        assert!(answer.text().await.unwrap().contains(message), "{code:?}");
    }
    // Two steps old is too old.
    let stale = device.code_at(app.clock.now_for_tests() - Duration::seconds(60));
    let answer = me.second_step("code", &[("code", &stale)]).await;
    assert_eq!(answer.status(), 401);
    // The previous step is still accepted (a code typed as it changed).
    let previous = device.code_at(app.clock.now_for_tests() - Duration::seconds(30));
    let answer = me.second_step("code", &[("code", &previous)]).await;
    assert_eq!(answer.status(), 303, "previous step accepted");

    // …once: the same code, or any from that step or before, is refused from then on.
    let again = app.browser();
    again.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let replay = again.second_step("code", &[("code", &previous)]).await;
    assert_eq!(replay.status(), 401);
    assert!(
        replay
            .text()
            .await
            .unwrap()
            .contains("That security code has already been used")
    );
    let current = device.code_now(&app);
    assert_eq!(
        again
            .second_step("code", &[("code", &current)])
            .await
            .status(),
        303
    );
    let third = app.browser();
    third.sign_in_to_second_step(EMAIL, PASSWORD).await;
    assert_eq!(
        third
            .second_step("code", &[("code", &current)])
            .await
            .status(),
        401,
        "the current step was used too"
    );
    let rows = app.audit_of(&id).await;
    assert!(
        rows.iter()
            .any(|r| r.action == "mfa.failed" && r.reason.as_deref() == Some("code_reused"))
    );
}

async fn parallel_submissions_of_one_code_succeed_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let (device, _) = enrolled(&app).await;
    let mut browsers = Vec::new();
    for _ in 0..4 {
        let b = app.browser();
        b.sign_in_to_second_step(EMAIL, PASSWORD).await;
        let page = b
            .get("/sign-in/verify?method=code")
            .await
            .text()
            .await
            .unwrap();
        browsers.push((b, common::csrf_in(&page)));
    }
    let code = device.code_now(&app);
    let attempts = browsers.into_iter().map(|(b, token)| {
        let code = code.clone();
        async move {
            b.post(
                "/sign-in/verify",
                &[
                    ("csrf_token", token.as_str()),
                    ("method", "code"),
                    ("code", &code),
                    ("return_to", "/account"),
                ],
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures_join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
}

/// Runs futures together (the test crate has no `futures` dependency).
async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn a_recovery_code_signs_in_once_and_is_emailed(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let (_, codes) = enrolled(&app).await;
    sink.wait_for(EMAIL, 1).await;

    let me = app.browser();
    me.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let wrong = me
        .second_step("recovery", &[("recovery_code", "abc")])
        .await;
    assert_eq!(wrong.status(), 422);
    // Typed in capitals with spaces, as people do.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let done = me
        .second_step("recovery", &[("recovery_code", &typed)])
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(me.get("/account").await.status(), 200);
    let mails = sink.wait_for(EMAIL, 2).await;
    assert!(mails[1].text().contains("A recovery code was used"));
    assert!(mails[1].text().contains("9 recovery codes left"));

    let again = app.browser();
    again.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let reused = again
        .second_step("recovery", &[("recovery_code", &codes[0])])
        .await;
    assert_eq!(reused.status(), 401);
    assert!(
        reused
            .text()
            .await
            .unwrap()
            .contains("not right or has already been used")
    );
    let rows = app.audit_of(&id).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "mfa.recovery_code_used")
            .count(),
        1
    );
}

async fn a_pending_sign_in_reaches_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let (device, _) = enrolled(&app).await;
    let service = app
        .register(common::oidc::Spec::confidential("census"))
        .await;
    let me = app.browser();
    me.sign_in_to_second_step(EMAIL, PASSWORD).await;
    for path in ["/account", "/account/security", "/account/security/app"] {
        let answer = me.get(path).await;
        assert_eq!(answer.status(), 303, "{path}");
        assert!(location(&answer).starts_with("/sign-in"), "{path}");
    }
    let authorize = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&nonce=n\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        service.id,
        url::form_urlencoded::byte_serialize(common::oidc::REDIRECT.as_bytes()).collect::<String>()
    );
    let answer = me.get(&authorize).await;
    assert_eq!(answer.status(), 303);
    assert!(
        location(&answer).starts_with("/sign-in?"),
        "no code for a pending sign-in: {}",
        location(&answer)
    );
    // Ten wrong codes end the pending sign-in: the password is needed again.
    for _ in 0..10 {
        let answer = me.second_step("code", &[("code", "000000")]).await;
        assert!(matches!(answer.status().as_u16(), 401 | 429));
        // Past each growing wait (1 s, 2 s … 16 s), well inside the ten minutes.
        app.clock.advance(Duration::seconds(20));
    }
    let answer = me
        .second_step("code", &[("code", &device.code_now(&app))])
        .await;
    assert_eq!(answer.status(), 401);
    assert!(answer.text().await.unwrap().contains("Sign in again"));
}

async fn changing_methods_needs_a_recent_password_and_a_csrf_token(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let me = app.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    me.add_app(&app, "Work phone").await;
    app.clock.advance(Duration::minutes(6));

    let answer = me.get("/account/security/app").await;
    assert_eq!(answer.status(), 303);
    assert!(location(&answer).starts_with("/account/security/confirm"));
    let page = me.get("/account/security").await.text().await.unwrap();
    let factor = common::oidc::value_of(&page, "id");
    let token = common::csrf_in(&page);
    let remove = [
        ("csrf_token", token.as_str()),
        ("kind", "authenticator_app"),
        ("id", factor.as_str()),
    ];
    let answer = me.post("/account/security/remove", &remove).await;
    assert_eq!(answer.status(), 303);
    assert!(location(&answer).starts_with("/account/security/confirm"));
    let forged = me
        .post(
            "/account/security/remove",
            &[("kind", "authenticator_app"), ("id", factor.as_str())],
        )
        .await;
    assert_eq!(forged.status(), 403);

    let confirm = me
        .get("/account/security/confirm")
        .await
        .text()
        .await
        .unwrap();
    let wrong = me
        .post(
            "/account/security/confirm",
            &[
                ("csrf_token", &common::csrf_in(&confirm)),
                ("password", "not my password at all"),
                ("return_to", "/account/security"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let right = me
        .post(
            "/account/security/confirm",
            &[
                ("csrf_token", &common::csrf_in(&confirm)),
                ("password", PASSWORD),
                ("return_to", "/account/security"),
            ],
        )
        .await;
    assert_eq!(right.status(), 303);
    let answer = me.post("/account/security/remove", &remove).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account/security?notice=removed");
    let mails = sink.wait_for(EMAIL, 2).await;
    assert!(mails[1].text().contains("was removed from your account"));
    // With no method left, signing in needs only the password again.
    let later = app.browser();
    let answer = later.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(location(&answer), "/account");
    let rows = app.audit_of(&id).await;
    assert!(rows.iter().any(|r| r.action == "mfa.removed"));
    assert!(rows.iter().any(|r| r.action == "session.reauthenticated"));
}

async fn a_hundred_wrong_codes_turn_the_app_off(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let (device, codes) = enrolled(&app).await;
    // 99 failures already counted (each sign-in allows only ten, so this stands in for ten
    // sign-ins' worth), then the hundredth.
    app.sql("UPDATE totp_factors SET failures = 99").await;
    let me = app.browser();
    me.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let answer = me.second_step("code", &[("code", "000000")]).await;
    assert_eq!(answer.status(), 401);
    let mails = sink.wait_for(EMAIL, 2).await;
    assert!(
        mails[1]
            .text()
            .contains("turned off after 100 wrong security codes")
    );

    let page = me.get("/sign-in/verify").await.text().await.unwrap();
    assert!(
        !page.contains("name=\"code\""),
        "a turned-off app is no longer offered"
    );
    let answer = me
        .second_step("recovery", &[("recovery_code", &codes[1])])
        .await;
    assert_eq!(answer.status(), 303, "a recovery code still works");
    let security = me.get("/account/security").await.text().await.unwrap();
    assert!(security.contains("Turned off after too many wrong codes"));
    let _ = device;
}

async fn a_password_reset_keeps_the_second_step(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let (device, _) = enrolled(&app).await;
    sink.wait_for(EMAIL, 1).await;
    let me = app.browser();
    me.request_reset(EMAIL).await;
    let mails = sink.wait_for(EMAIL, 2).await;
    let link = mails[1].link(&app.base, "/reset-password/").unwrap();
    let token = me.open_link(&link, "/reset-password").await;
    // With MFA, 8 characters are enough (PRODUCT.md "Policies").
    let new = "vQ7#mk2!Lp9z";
    let saved = me.save_password("/reset-password", &token, new, new).await;
    assert_eq!(saved.status(), 200);
    let to = me.sign_in_to_second_step(EMAIL, new).await;
    assert!(to.starts_with("/sign-in/verify"));
    assert_eq!(me.get("/account").await.status(), 303);
    let done = me
        .second_step("code", &[("code", &device.code_now(&app))])
        .await;
    assert_eq!(done.status(), 303);
    let security = me.get("/account/security").await.text().await.unwrap();
    assert!(security.contains("Work phone"), "the reset removed nothing");
}
