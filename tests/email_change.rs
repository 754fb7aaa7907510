//! Changing one's email address from `/account`: password, a code to the new address, a
//! notice to the old one, a pending change that can be cancelled.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Browser, Engine, TestApp, csrf_in, location};

const OLD: &str = "ioana.roberts@school.example";
const NEW: &str = "i.roberts@trust.example";
const PASSWORD: &str = "correct horse battery staple";

both_engines!(
    change_email_with_a_code,
    five_wrong_codes_end_the_change_and_cancel_works,
);

async fn ask(me: &Browser, new_email: &str, password: &str) -> reqwest::Response {
    let token = me.csrf("/account/email").await;
    me.post(
        "/account/email",
        &[
            ("csrf_token", &token),
            ("new_email", new_email),
            ("password", password),
        ],
    )
    .await
}

async fn enter(me: &Browser, code: &str) -> reqwest::Response {
    let page = me.get("/account/email/confirm").await.text().await.unwrap();
    me.post(
        "/account/email/confirm",
        &[("csrf_token", &csrf_in(&page)), ("code", code)],
    )
    .await
}

fn code_in(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|w| {
            w.len() == 8
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
        .expect("an 8-character code")
        .to_owned()
}

async fn change_email_with_a_code(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(OLD, PASSWORD).await;
    app.create_user("taken@school.example", PASSWORD).await;
    let me = app.browser();
    me.sign_in(OLD, PASSWORD).await;

    let wrong = ask(&me, NEW, "not my password at all").await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("id=\"password-error\"")
    );
    let taken = ask(&me, "taken@school.example", PASSWORD).await;
    assert_eq!(taken.status(), 422);
    let injected = ask(&me, "x@school.example\r\nBcc: victim@example.com", PASSWORD).await;
    assert_eq!(injected.status(), 422, "CR/LF is refused");
    assert!(sink.messages().is_empty());

    let asked = ask(&me, NEW, PASSWORD).await;
    assert_eq!(location(&asked), "/account/email/confirm");
    let code_mail = &sink.wait_for(NEW, 1).await[0];
    assert_eq!(code_mail.subject(), "Your Gatehouse confirmation code");
    let notice = &sink.wait_for(OLD, 1).await[0];
    assert_eq!(
        notice.subject(),
        "Your Gatehouse email address is being changed"
    );
    assert!(notice.text().contains(NEW));
    let code = code_in(&code_mail.text());
    assert!(
        !notice.text().contains(&code),
        "the old address never sees the code"
    );

    let overview = me.get("/account").await.text().await.unwrap();
    assert!(
        overview.contains("Waiting to change to"),
        "the pending change shows"
    );
    let bad = enter(&me, "AAAAAAAA").await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("4 more"));
    let good = enter(&me, &code.to_lowercase()).await;
    assert_eq!(location(&good), "/account?notice=email-changed");

    assert_eq!(app.browser().sign_in(OLD, PASSWORD).await.status(), 401);
    assert_eq!(app.browser().sign_in(NEW, PASSWORD).await.status(), 303);
    let overview = me.get("/account").await.text().await.unwrap();
    assert!(overview.contains(NEW) && !overview.contains("Waiting to change to"));
}

async fn five_wrong_codes_end_the_change_and_cancel_works(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(OLD, PASSWORD).await;
    let me = app.browser();
    me.sign_in(OLD, PASSWORD).await;
    ask(&me, NEW, PASSWORD).await;
    let code = code_in(&sink.wait_for(NEW, 1).await[0].text());
    for _ in 0..5 {
        let token = me.csrf("/account").await;
        let bad = me
            .post(
                "/account/email/confirm",
                &[("csrf_token", &token), ("code", "AAAAAAAA")],
            )
            .await;
        assert_eq!(bad.status(), 422);
    }
    let token = me.csrf("/account").await;
    let late = me
        .post(
            "/account/email/confirm",
            &[("csrf_token", &token), ("code", &code)],
        )
        .await;
    assert_eq!(late.status(), 422, "five wrong tries use the code up");
    assert_eq!(app.browser().sign_in(NEW, PASSWORD).await.status(), 401);

    ask(&me, NEW, PASSWORD).await;
    sink.wait_for(NEW, 2).await;
    let token = me.csrf("/account").await;
    let cancelled = me
        .post("/account/email/cancel", &[("csrf_token", &token)])
        .await;
    assert_eq!(
        location(&cancelled),
        "/account?notice=email-change-cancelled"
    );
    let overview = me.get("/account").await.text().await.unwrap();
    assert!(!overview.contains("Waiting to change to"));
    assert_eq!(
        location(&me.get("/account/email/confirm").await),
        "/account/email",
        "nothing left to confirm"
    );
}
