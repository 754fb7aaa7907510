//! The outbox under trouble: an SMTP outage, a restart with mail still queued, two nodes
//! sharing one database, dead letters, and the development default of `.eml` files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::cli::{assert_one_line_failure, run, stdout};
use common::smtp::SmtpSink;
use common::{Engine, TestApp};

const EMAIL: &str = "ioana.roberts@school.example";
const PASSWORD: &str = "correct horse battery staple";

both_engines!(
    an_smtp_outage_delays_mail_but_loses_and_repeats_none,
    mail_queued_before_a_restart_is_sent_after_it,
    two_nodes_send_each_message_once,
    a_message_that_never_gets_through_becomes_a_dead_letter,
    without_smtp_mail_is_written_to_files,
);

async fn an_smtp_outage_delays_mail_but_loses_and_repeats_none(engine: Engine) {
    let down = SmtpSink::down();
    let app = TestApp::spawn_with(engine, &SmtpSink::toml_for(down.addr)).await;
    app.create_user(EMAIL, PASSWORD).await;
    let started = Instant::now();
    let answer = app.browser().request_reset(EMAIL).await;
    let answered = started.elapsed();
    assert_eq!(answer.status(), 200, "the request still gets its page");
    eprintln!(
        "reset request answered during the SMTP outage in {} ms",
        answered.as_millis()
    );

    wait_until(|| async { app.store.outbox_stats().await.unwrap().pending == 1 }).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let queued = app
        .store
        .due_outbox(common::test_epoch() + chrono::Duration::hours(2), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "the message waits in the outbox");
    assert!(queued[0].attempts >= 1, "a send was tried and failed");
    let sealed = queued[0].payload.clone().unwrap();

    let sink = down.start();
    app.clock.advance(chrono::Duration::minutes(5));
    let mail = &sink.wait_for(EMAIL, 1).await[0];
    let link = mail.link(&app.base, "/reset-password/").unwrap();
    let secret = link.rsplit('/').next().unwrap();
    assert!(
        !sealed.contains(secret),
        "the queued link was sealed, not stored in clear"
    );

    for _ in 0..3 {
        app.clock.advance(chrono::Duration::minutes(5));
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_eq!(sink.messages_to(EMAIL).len(), 1, "delivered exactly once");
    assert_eq!(app.store.outbox_stats().await.unwrap().pending, 0);
    let me = app.browser();
    me.open_link(&link, "/reset-password").await;
}

async fn mail_queued_before_a_restart_is_sent_after_it(engine: Engine) {
    let down = SmtpSink::down();
    let mut first = TestApp::spawn_with(engine, &SmtpSink::toml_for(down.addr)).await;
    first.create_user(EMAIL, PASSWORD).await;
    first.browser().request_reset(EMAIL).await;
    wait_until(|| async { first.store.outbox_stats().await.unwrap().pending == 1 }).await;
    first.stop().await;

    let sink = down.start();
    let second = TestApp::spawn_on(first.db.clone(), &sink.toml()).await;
    second.clock.advance(chrono::Duration::minutes(5));
    let mail = &sink.wait_for(EMAIL, 1).await[0];
    let link = mail.link(&first.base, "/reset-password/").unwrap();
    second.browser().open_link(&link, "/reset-password").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages_to(EMAIL).len(), 1);
}

async fn two_nodes_send_each_message_once(engine: Engine) {
    let sink = SmtpSink::start().await;
    let a = TestApp::spawn_with(engine, &sink.toml()).await;
    let b = TestApp::spawn_on(a.db.clone(), &sink.toml()).await;
    let people: Vec<String> = (0..12)
        .map(|i| format!("person{i}@school.example"))
        .collect();
    for person in &people {
        a.create_user(person, PASSWORD).await;
    }
    for (i, person) in people.iter().enumerate() {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(node.browser().request_reset(person).await.status(), 200);
    }
    for person in &people {
        sink.wait_for(person, 1).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = sink.messages();
    let mut ids: Vec<String> = all
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(all.len(), 12, "one message per request, none twice");
    assert_eq!(ids.len(), 12);
}

async fn a_message_that_never_gets_through_becomes_a_dead_letter(engine: Engine) {
    let down = SmtpSink::down();
    let toml = format!("{}mail_max_attempts = 2\n", SmtpSink::toml_for(down.addr));
    let app = TestApp::spawn_with(engine, &toml).await;
    app.create_user(EMAIL, PASSWORD).await;
    app.browser().request_reset(EMAIL).await;
    wait_until(|| async {
        app.clock.advance(chrono::Duration::minutes(1));
        app.store.outbox_stats().await.unwrap().dead == 1
    })
    .await;
    let stats = app.store.outbox_stats().await.unwrap();
    assert_eq!(stats.pending, 0);
    // The gauge is published after the worker's pass, so a scrape sees it within a second.
    let dead_gauge = |metrics: &str| {
        metrics
            .lines()
            .any(|l| l.starts_with("mail_outbox_dead") && l.ends_with(" 1"))
    };
    wait_until(|| async { dead_gauge(&app.get("/metrics").await.text().await.unwrap()) }).await;
}

async fn without_smtp_mail_is_written_to_files(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    app.browser().request_reset(EMAIL).await;
    let dir = app.db.data_dir().join("mail");
    wait_until(|| async { std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) }).await;
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(file.extension().unwrap(), "eml");
    let text = std::fs::read_to_string(&file).unwrap().replace("=\r\n", "");
    assert!(text.contains("Subject: Reset your Gatehouse password"));
    assert!(text.contains(&format!("{}/reset-password/", app.base)));

    let config = app.db.dir.path().join("gatehouse.toml");
    let config = config.to_str().unwrap();
    let out = run(
        app.db.dir.path(),
        &["--config", config, "mail", "test", "--to", EMAIL],
        &[],
    );
    assert!(out.status.success());
    assert!(stdout(&out).contains(".eml"), "{}", stdout(&out));
    let bad = run(
        app.db.dir.path(),
        &["--config", config, "mail", "test", "--to", "not an address"],
        &[],
    );
    assert_one_line_failure(&bad, 2, "--to");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_reaches_a_relay_or_says_why_not() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(Engine::Sqlite, &sink.toml()).await;
    let out = run(
        app.db.dir.path(),
        &["--config", "gatehouse.toml", "mail", "test", "--to", EMAIL],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("accepted"));
    assert_eq!(
        sink.wait_for(EMAIL, 1).await[0].subject(),
        "Gatehouse test message"
    );
    let addr = sink.stop();
    drop(app);
    let app = TestApp::spawn_with(Engine::Sqlite, &SmtpSink::toml_for(addr)).await;
    let out = run(
        app.db.dir.path(),
        &["--config", "gatehouse.toml", "mail", "test", "--to", EMAIL],
        &[],
    );
    assert_one_line_failure(&out, 1, "not sent");
}

/// Polls `check` every 50 ms for up to 10 s.
async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
