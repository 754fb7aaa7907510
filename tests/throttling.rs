//! Guessing passwords gets slower and then stops: per-account counting (with no lost
//! updates under parallel attempts), the lock at 100, unlocking, and the per-IP limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::{Engine, TestApp};
use gatehouse::domain::Email;

const EMAIL: &str = "dafydd.khan02@school100000.example.org";
const PASSWORD: &str = "copper lagoon whistle biscuit";

both_engines!(
    fifty_parallel_wrong_passwords_count_exactly_fifty,
    the_hundredth_failure_locks_until_unlocked,
    one_address_gets_429_after_its_burst_then_recovers,
);

async fn failures(app: &TestApp) -> i64 {
    app.store
        .user_by_email(&Email::parse(EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap()
        .failed_sign_ins
}

async fn fifty_parallel_wrong_passwords_count_exactly_fifty(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    let token = browser.csrf("/sign-in").await;
    let attempts: Vec<_> = (0..50)
        .map(|i| {
            let browser = browser.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let guess = format!("wrong guess number {i}");
                browser
                    .post(
                        "/sign-in",
                        &[
                            ("csrf_token", token.as_str()),
                            ("email", EMAIL),
                            ("password", &guess),
                        ],
                    )
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for attempt in attempts {
        assert_eq!(attempt.await.unwrap(), 401);
    }
    assert_eq!(failures(&app).await, 50, "no lost updates");

    // After the delay has passed, the right password works and the count starts again.
    app.clock.advance(Duration::minutes(16));
    assert_eq!(app.browser().sign_in(EMAIL, PASSWORD).await.status(), 303);
    assert_eq!(failures(&app).await, 0);
}

async fn the_hundredth_failure_locks_until_unlocked(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    for _ in 0..99 {
        assert_eq!(
            browser
                .sign_in(EMAIL, "not my password at all")
                .await
                .status(),
            401
        );
    }
    assert_eq!(failures(&app).await, 99);
    let row = app.store.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.status, "active", "99 failures do not lock");
    assert_eq!(
        browser
            .sign_in(EMAIL, "not my password at all")
            .await
            .status(),
        401
    );
    let row = app.store.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.status, "locked", "the 100th does");
    assert_eq!(
        row.status_reason.as_deref(),
        Some("Too many failed sign-in attempts")
    );

    app.clock.advance(Duration::hours(1));
    assert_eq!(
        browser.sign_in(EMAIL, PASSWORD).await.status(),
        401,
        "locked even with the right password"
    );

    let trail = app.store.audit_for_user(&id, 400).await.unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == "account.locked")
            .count(),
        1
    );
    assert_eq!(
        trail[0].reason.as_deref(),
        Some("locked"),
        "the last refusal says why, in the trail only"
    );

    // A helpdesk or operator unlock brings the person back.
    let accounts = gatehouse::account::Accounts::new(
        app.store.clone(),
        gatehouse::auth::password::PasswordHasher::new(
            Default::default(),
            1,
            4,
            std::time::Duration::from_secs(5),
        )
        .unwrap(),
        std::sync::Arc::new(app.clock.clone()),
    );
    accounts
        .change_status(
            &Email::parse(EMAIL).unwrap(),
            gatehouse::account::StatusChange::Unlock,
            "Confirmed identity by phone",
            gatehouse::audit::Actor::Cli,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(failures(&app).await, 0);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.status(), 303);
}

async fn one_address_gets_429_after_its_burst_then_recovers(engine: Engine) {
    let app = TestApp::spawn_with(engine, "sign_in_ip_burst = 3\nsign_in_ip_per_minute = 6").await;
    app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    for _ in 0..3 {
        assert_eq!(
            browser
                .sign_in("someone@example.org", "a wrong password here")
                .await
                .status(),
            401
        );
    }
    let limited = browser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "20");
    let html = limited.text().await.unwrap();
    assert!(html.contains("Too many attempts"));
    assert!(html.contains("Wait 20 seconds, then try again."));

    app.clock.advance(Duration::seconds(19));
    assert_eq!(
        browser.sign_in(EMAIL, PASSWORD).await.status(),
        429,
        "not yet"
    );
    // That refusal cost a token too: a flood waits longer, never shorter.
    app.clock.advance(Duration::seconds(21));
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.status(), 303);
}
