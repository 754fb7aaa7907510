//! "Forgotten your password?" as a member of staff would use it, with a real SMTP server:
//! the email, the link, the new password, and everything a reset must end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::{Engine, TestApp, location};

const EMAIL: &str = "ioana.roberts@school.example";
const OLD: &str = "correct horse battery staple";
const NEW: &str = "violet kettle marathon lighthouse";

both_engines!(
    reset_by_email_ends_every_session_and_says_so,
    the_request_page_never_tells_whether_an_account_exists,
    a_link_works_once_for_thirty_minutes_and_only_the_newest,
    parallel_submissions_of_one_link_succeed_once,
    a_flood_of_requests_sends_a_few_emails,
    a_weak_password_keeps_the_link_usable,
    links_are_built_on_the_issuer_whatever_the_request_says,
);

/// `Host` and `X-Forwarded-Host` never shape an emailed link (a poisoned link would hand
/// the reset secret to whoever runs the named host).
async fn links_are_built_on_the_issuer_whatever_the_request_says(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, OLD).await;
    let me = app.browser();
    let token = me.csrf("/forgot-password").await;
    let answer = me
        .client
        .post(app.url("/forgot-password"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf_token", token.as_str()), ("email", EMAIL)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let mail = &sink.wait_for(EMAIL, 1).await[0];
    assert!(!mail.text().contains("evil.example"));
    assert!(mail.link(&app.base, "/reset-password/").is_some());
}

async fn reset_by_email_ends_every_session_and_says_so(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, OLD).await;
    let elsewhere = app.browser();
    assert_eq!(elsewhere.sign_in(EMAIL, OLD).await.status(), 303);

    let me = app.browser();
    let started = std::time::Instant::now();
    let answer = me.request_reset(EMAIL).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["referrer-policy"], "no-referrer");
    assert!(answer.text().await.unwrap().contains("Check your email"));
    let mail = &sink.wait_for(EMAIL, 1).await[0];
    eprintln!(
        "reset request to message accepted by SMTP: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(mail.subject(), "Reset your Gatehouse password");
    assert_eq!(mail.to, vec![EMAIL.to_owned()]);
    assert!(mail.header("Message-ID").is_some_and(|id| id.contains('@')));
    let link = mail
        .link(&app.base, "/reset-password/")
        .expect("a reset link built on the issuer");

    let token = me.open_link(&link, "/reset-password").await;
    let saved = me.save_password("/reset-password", &token, NEW, NEW).await;
    assert_eq!(saved.status(), 200);
    assert!(
        saved
            .text()
            .await
            .unwrap()
            .contains("Your password has been saved")
    );

    let changed = sink.wait_for(EMAIL, 2).await;
    assert_eq!(
        changed[1].subject(),
        "Your Gatehouse password has been changed"
    );
    assert!(
        !changed[1].text().contains("/reset-password/"),
        "the notice carries no link secret"
    );
    let stale = elsewhere.get("/account").await;
    assert_eq!(stale.status(), 303, "the other session has ended");
    assert_eq!(
        app.browser().sign_in(EMAIL, OLD).await.status(),
        401,
        "the old password no longer works"
    );
    assert_eq!(app.browser().sign_in(EMAIL, NEW).await.status(), 303);
    let again = me.get(&TestApp::path_of(&link)).await;
    assert_eq!(again.status(), 410, "the link worked once");
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("This link has expired")
    );
}

/// The words, the status and the headers are the same for an active, an unknown, a
/// deactivated and an invited address; only the emails differ.
async fn the_request_page_never_tells_whether_an_account_exists(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, OLD).await;
    app.create_user("left@school.example", OLD).await;
    deactivate(&app, "left@school.example").await;
    invite(&app, "new.starter@school.example").await;
    sink.wait_for("new.starter@school.example", 1).await;

    let mut pages = Vec::new();
    for address in [
        EMAIL,
        "nobody@school.example",
        "left@school.example",
        "new.starter@school.example",
    ] {
        let answer = app.browser().request_reset(address).await;
        let status = answer.status();
        let mut headers: Vec<String> = answer
            .headers()
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "date" | "x-request-id" | "set-cookie" | "content-length"
                )
            })
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        headers.sort();
        let body = answer.text().await.unwrap().replace(address, "ADDRESS");
        pages.push((status, headers, body));
    }
    for page in &pages[1..] {
        assert_eq!(page, &pages[0], "every address gets the same answer");
    }
    assert_eq!(
        sink.wait_for(EMAIL, 1).await[0].subject(),
        "Reset your Gatehouse password"
    );
    let invitations = sink.wait_for("new.starter@school.example", 2).await;
    assert_eq!(
        invitations[1].subject(),
        "Create your Gatehouse account",
        "an invited person gets their invitation again"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(sink.messages_to("nobody@school.example").is_empty());
    assert!(sink.messages_to("left@school.example").is_empty());
}

async fn a_link_works_once_for_thirty_minutes_and_only_the_newest(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, OLD).await;
    let me = app.browser();
    me.request_reset(EMAIL).await;
    let first = sink.wait_for(EMAIL, 1).await[0]
        .link(&app.base, "/reset-password/")
        .unwrap();
    me.request_reset(EMAIL).await;
    let second = sink.wait_for(EMAIL, 2).await[1]
        .link(&app.base, "/reset-password/")
        .unwrap();
    assert_ne!(first, second);
    let superseded = me.get(&TestApp::path_of(&first)).await;
    assert_eq!(
        superseded.status(),
        410,
        "a newer request replaces the link"
    );

    let truncated = &TestApp::path_of(&second)[..40];
    assert_eq!(me.get(truncated).await.status(), 410);

    app.clock.advance(Duration::minutes(31));
    let late = me.get(&TestApp::path_of(&second)).await;
    assert_eq!(late.status(), 410, "links last 30 minutes");
    let page = late.text().await.unwrap();
    assert!(
        page.contains("href=\"/forgot-password\""),
        "a way to ask again"
    );

    // Opened in time but submitted too late is just as expired.
    me.request_reset(EMAIL).await;
    let third = sink.wait_for(EMAIL, 3).await[2]
        .link(&app.base, "/reset-password/")
        .unwrap();
    let token = me.open_link(&third, "/reset-password").await;
    app.clock.advance(Duration::minutes(31));
    let saved = me.save_password("/reset-password", &token, NEW, NEW).await;
    assert_eq!(saved.status(), 410);
    assert_eq!(
        app.browser().sign_in(EMAIL, OLD).await.status(),
        303,
        "nothing changed"
    );
}

async fn parallel_submissions_of_one_link_succeed_once(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, OLD).await;
    let me = app.browser();
    me.request_reset(EMAIL).await;
    let link = sink.wait_for(EMAIL, 1).await[0]
        .link(&app.base, "/reset-password/")
        .unwrap();
    let token = me.open_link(&link, "/reset-password").await;
    let passwords: [&'static str; 5] = [
        "violet kettle marathon one",
        "violet kettle marathon two",
        "violet kettle marathon three",
        "violet kettle marathon four",
        "violet kettle marathon five",
    ];
    let attempts: Vec<_> = passwords
        .into_iter()
        .map(|p| {
            let me = me.clone();
            let token = token.clone();
            tokio::spawn(async move {
                me.save_password("/reset-password", &token, p, p)
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 410).count(),
        4,
        "{statuses:?}"
    );
    let mut working = 0;
    for p in passwords {
        if app.browser().sign_in(EMAIL, p).await.status() == 303 {
            working += 1;
        }
    }
    assert_eq!(working, 1, "exactly one of the new passwords was saved");
    sink.wait_for(EMAIL, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages_to(EMAIL).len(), 2, "one reset, one notice");
}

async fn a_flood_of_requests_sends_a_few_emails(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, OLD).await;
    let me = app.browser();
    for _ in 0..100 {
        let answer = me.request_reset(EMAIL).await;
        assert_eq!(
            answer.status(),
            200,
            "throttled silently, with the same page"
        );
    }
    sink.wait_for(EMAIL, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let sent = sink.messages_to(EMAIL).len();
    assert!(sent <= 4, "the inbox is not flooded: {sent} messages");
}

async fn a_weak_password_keeps_the_link_usable(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, OLD).await;
    let me = app.browser();
    me.request_reset(EMAIL).await;
    let link = sink.wait_for(EMAIL, 1).await[0]
        .link(&app.base, "/reset-password/")
        .unwrap();
    let token = me.open_link(&link, "/reset-password").await;
    let short = me
        .save_password("/reset-password", &token, "short", "short")
        .await;
    assert_eq!(short.status(), 422);
    let html = short.text().await.unwrap();
    assert!(html.contains("id=\"new_password-error\""), "{html}");
    let mismatch = me
        .save_password("/reset-password", &token, NEW, "something else entirely")
        .await;
    assert_eq!(mismatch.status(), 422);
    assert!(
        mismatch
            .text()
            .await
            .unwrap()
            .contains("id=\"confirm_password-error\"")
    );
    let saved = me.save_password("/reset-password", &token, NEW, NEW).await;
    assert_eq!(saved.status(), 200);
    let no_csrf = me
        .post(
            "/reset-password",
            &[("new_password", NEW), ("confirm_password", NEW)],
        )
        .await;
    assert_eq!(no_csrf.status(), 403);
    assert_eq!(
        location(&app.browser().sign_in(EMAIL, NEW).await),
        "/account"
    );
}

async fn deactivate(app: &TestApp, email: &str) {
    let accounts = gatehouse::account::Accounts::new(
        app.store.clone(),
        gatehouse::auth::password::PasswordHasher::new(
            Default::default(),
            1,
            4,
            std::time::Duration::from_secs(30),
        )
        .unwrap(),
        std::sync::Arc::new(app.clock.clone()),
    );
    accounts
        .change_status(
            &gatehouse::domain::Email::parse(email).unwrap(),
            gatehouse::account::StatusChange::Deactivate,
            "Left the school",
            gatehouse::audit::Actor::Cli,
            &Default::default(),
        )
        .await
        .unwrap();
}

async fn invite(app: &TestApp, email: &str) {
    let out = common::cli::run(
        app.db.dir.path(),
        &[
            "--config",
            "gatehouse.toml",
            "user",
            "invite",
            "--email",
            email,
            "--given-name",
            "Sam",
            "--family-name",
            "Okafor",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
