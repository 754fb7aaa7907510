//! Staying signed in, and ending it: idle and absolute limits, changing the password, and
//! "Sign out of all other sessions".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::{Engine, TestApp, csrf_in, location};

const EMAIL: &str = "rhys.lewis01@school100000.example.org";
const PASSWORD: &str = "lantern pebble cactus harmonica";
const NEW_PASSWORD: &str = "violet tractor meadow spoon";

both_engines!(
    sessions_end_after_thirty_idle_minutes,
    sessions_end_twelve_hours_after_sign_in_however_busy,
    changing_the_password_signs_out_everywhere_else,
    password_changes_are_checked_like_new_passwords,
    staff_can_sign_out_of_all_other_sessions,
    expired_sessions_are_swept_away,
);

async fn sessions_end_after_thirty_idle_minutes(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.status(), 303);

    app.clock.advance(Duration::minutes(29));
    assert_eq!(
        browser.get("/account").await.status(),
        200,
        "29 minutes idle is fine"
    );
    app.clock.advance(Duration::minutes(29));
    assert_eq!(
        browser.get("/account").await.status(),
        200,
        "activity keeps it alive"
    );
    app.clock.advance(Duration::minutes(31));
    let expired = browser.get("/account").await;
    assert_eq!(expired.status(), 303, "31 idle minutes ends it");
    assert!(location(&expired).starts_with("/sign-in"));
}

async fn sessions_end_twelve_hours_after_sign_in_however_busy(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    browser.sign_in(EMAIL, PASSWORD).await;
    for _ in 0..(11 * 3 + 2) {
        app.clock.advance(Duration::minutes(20));
        assert_eq!(browser.get("/account").await.status(), 200);
    }
    app.clock.advance(Duration::minutes(20)); // 12 h 0 min after sign-in
    assert_eq!(browser.get("/account").await.status(), 303);
}

async fn changing_the_password_signs_out_everywhere_else(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let user = app.create_user(EMAIL, PASSWORD).await;
    let laptop = app.browser();
    let phone = app.browser();
    laptop.sign_in(EMAIL, PASSWORD).await;
    phone.sign_in(EMAIL, PASSWORD).await;

    let form = laptop.get("/account/password").await.text().await.unwrap();
    for label in [
        "Current password",
        "New password",
        "Confirm new password",
        "Save password",
    ] {
        assert!(form.contains(label), "{label}");
    }
    let token = csrf_in(&form);
    let changed = laptop
        .post(
            "/account/password",
            &[
                ("csrf_token", &token),
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(location(&changed), "/account?notice=password-changed");
    let account = laptop
        .get("/account?notice=password-changed")
        .await
        .text()
        .await
        .unwrap();
    assert!(account.contains("Your password has been changed"));
    assert_eq!(
        phone.get("/account").await.status(),
        303,
        "the other session ended"
    );

    assert_eq!(app.browser().sign_in(EMAIL, PASSWORD).await.status(), 401);
    assert_eq!(
        app.browser().sign_in(EMAIL, NEW_PASSWORD).await.status(),
        303
    );

    let trail = app.store.audit_for_user(&user, 20).await.unwrap();
    let change = trail
        .iter()
        .find(|e| e.action == "password.changed")
        .unwrap();
    assert_eq!(change.outcome, "success");
    assert!(
        change
            .details
            .as_deref()
            .unwrap()
            .contains("\"other_sessions_ended\":1")
    );
    let text = format!("{trail:?}");
    assert!(
        !text.contains(PASSWORD) && !text.contains(NEW_PASSWORD),
        "no passwords in the audit trail"
    );
}

async fn password_changes_are_checked_like_new_passwords(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_named_user(EMAIL, "Rhys", "Lewis", PASSWORD)
        .await;
    let browser = app.browser();
    browser.sign_in(EMAIL, PASSWORD).await;
    let token = browser.csrf("/account/password").await;
    let attempt = |current: &'static str, new: &'static str, confirm: &'static str| {
        let browser = browser.clone();
        let token = token.clone();
        async move {
            let response = browser
                .post(
                    "/account/password",
                    &[
                        ("csrf_token", token.as_str()),
                        ("current_password", current),
                        ("new_password", new),
                        ("confirm_password", confirm),
                    ],
                )
                .await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let cases = [
        (
            "wrong current password",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "Your current password is not right",
        ),
        (
            PASSWORD,
            "short one",
            "short one",
            "Password must be 15 characters or more",
        ),
        (
            PASSWORD,
            "passwordpassword123",
            "passwordpassword123",
            "Password is too easy to guess",
        ),
        (
            PASSWORD,
            "rhys lewis holiday snaps",
            "rhys lewis holiday snaps",
            "must not include your name",
        ),
        (
            PASSWORD,
            "my gatehouse secret phrase",
            "my gatehouse secret phrase",
            "must not include the name of this service",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            "something else entirely",
            "Enter the same password in both new password fields",
        ),
        ("", "", "", "Enter your current password"),
    ];
    for (current, new, confirm, message) in cases {
        let (status, html) = attempt(current, new, confirm).await;
        assert_eq!(status, 422, "{message}");
        assert!(html.contains(message), "expected {message:?}");
        assert!(html.contains("There is a problem"));
    }
    assert_eq!(
        app.browser().sign_in(EMAIL, PASSWORD).await.status(),
        303,
        "password unchanged"
    );
}

async fn staff_can_sign_out_of_all_other_sessions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let here = app.browser();
    let elsewhere = [app.browser(), app.browser()];
    here.sign_in(EMAIL, PASSWORD).await;
    for b in &elsewhere {
        b.sign_in(EMAIL, PASSWORD).await;
    }
    let html = here.get("/account").await.text().await.unwrap();
    assert_eq!(
        html.matches("Firefox on Linux").count(),
        3,
        "three sessions listed"
    );
    assert!(html.contains("Sign out of all other sessions"));
    let ended = here
        .post(
            "/account/sessions/sign-out-others",
            &[("csrf_token", &csrf_in(&html))],
        )
        .await;
    assert_eq!(location(&ended), "/account?notice=sessions-ended");
    for b in &elsewhere {
        assert_eq!(b.get("/account").await.status(), 303);
    }
    let html = here.get("/account").await.text().await.unwrap();
    assert_eq!(html.matches("Firefox on Linux").count(), 1);
    assert!(
        !html.contains("Sign out of all other sessions"),
        "nothing left to end"
    );
}

async fn expired_sessions_are_swept_away(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    app.browser().sign_in(EMAIL, PASSWORD).await;
    app.browser().sign_in(EMAIL, PASSWORD).await;
    let mut config = gatehouse::config::Config::load(&Default::default()).unwrap();
    config.keys_dir = app.db.keys_dir();
    let clock: gatehouse::clock::SharedClock = std::sync::Arc::new(app.clock.clone());
    let mailer = gatehouse::server::open_mailer(&config, app.store.clone(), clock.clone()).unwrap();
    let auth = gatehouse::auth::Auth::new(&config, app.store.clone(), clock, mailer).unwrap();
    assert_eq!(auth.sweep().await.unwrap(), 0, "live sessions stay");
    app.clock.advance(Duration::minutes(31));
    assert_eq!(auth.sweep().await.unwrap(), 2, "idle sessions are deleted");
}
