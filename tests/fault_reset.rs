//! Fault test (issue 9): the process is killed at each step of completing a password reset
//! (`FAULT_POINT`, `src/fault.rs`), and restarted. Afterwards the account is
//! wholly before the reset (old password, sessions alive, the link still good for one use)
//! or wholly after it (new password, sessions ended, the link spent) — never between — and
//! the link works at most once. Runs the real binary, on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Child;

use crate::common;

use common::cli::{run, run_with_input, serve};
use common::smtp::SmtpSink;
use common::{Browser, Engine, FreshDb, csrf_in, location};

both_engines!(a_reset_killed_at_any_step_is_wholly_done_or_not_at_all);

const EMAIL: &str = "pat.okafor@school.example";
const OLD: &str = "harbour velvet pylon quiz";
const NEW: &str = "marble kettle orbit saxophone";

/// Starts the server in `dir`, aborting at `fault` if given; returns it and its URL.
fn start(dir: &Path, fault: Option<&str>) -> (Child, String) {
    let fault = fault.map(|point| (gatehouse::fault::VARIABLE, point));
    serve(dir, &["--config", "gatehouse.toml"], &[], fault.as_slice())
}

/// A browser with its own cookie jar.
fn cookie_jar() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn browser(base: &str, client: &reqwest::Client) -> Browser {
    Browser {
        client: client.clone(),
        base: base.to_owned(),
    }
}

async fn a_reset_killed_at_any_step_is_wholly_done_or_not_at_all(engine: Engine) {
    for (point, done) in [
        ("reset.link_consumed", false),
        ("reset.password_set", false),
        ("reset.sessions_ended", false),
        ("reset.before_commit", false),
        ("reset.committed", true),
    ] {
        killed_at(engine, point, done).await;
    }
}

async fn killed_at(engine: Engine, point: &str, committed: bool) {
    let db = FreshDb::new(engine).await;
    let sink = SmtpSink::start().await;
    let d = db.dir.path();
    std::fs::write(
        d.join("gatehouse.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = {:?}\ndata_dir = {:?}\nkeys_dir = {:?}\n{}",
            db.url,
            db.data_dir(),
            db.keys_dir(),
            sink.toml()
        ),
    )
    .unwrap();
    let config = ["--config", "gatehouse.toml"];
    assert!(
        run(d, &[&config[..], &["migrate"]].concat(), &[])
            .status
            .success()
    );
    let create = [
        &config[..],
        &[
            "user",
            "create",
            "--email",
            EMAIL,
            "--given-name",
            "Pat",
            "--family-name",
            "Okafor",
            "--password-stdin",
        ],
    ]
    .concat();
    assert!(
        run_with_input(d, &create, &[], &format!("{OLD}\n"))
            .status
            .success()
    );
    common::leaks::remember(OLD);
    common::leaks::remember(NEW);

    let (mut node, base) = start(d, Some(point));
    let jar = cookie_jar();
    // A session to see whether it survives, and the person's reset link.
    let signed_in = browser(&base, &jar);
    assert_eq!(signed_in.sign_in(EMAIL, OLD).await.status(), 303);
    let me = browser(
        &base,
        &reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    );
    assert_eq!(me.request_reset(EMAIL).await.status(), 200);
    let mail = &sink.wait_for(EMAIL, 1).await[0];
    let text = mail.text();
    let at = text.find("/reset-password/").unwrap();
    let path: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '-')
        .collect();
    common::leaks::remember(path.trim_start_matches("/reset-password/"));
    let opened = me.get(&path).await;
    assert_eq!(location(&opened), "/reset-password");
    let token = csrf_in(&me.get("/reset-password").await.text().await.unwrap());
    let form = [
        ("csrf_token", token.as_str()),
        ("new_password", NEW),
        ("confirm_password", NEW),
    ];
    // The process dies while saving: no answer comes back.
    let killed = me
        .client
        .post(format!("{base}/reset-password"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &base)
        .form(&form)
        .send()
        .await;
    assert!(
        killed.is_err(),
        "{point}: the process should have died mid-request"
    );
    let status = node.wait().unwrap();
    assert!(!status.success(), "{point}: aborted");

    // Restarted without the fault.
    let (mut node, base) = start(d, None);
    let fresh = || browser(&base, &cookie_jar());
    let old_works = fresh().sign_in(EMAIL, OLD).await.status() == 303;
    let new_works = fresh().sign_in(EMAIL, NEW).await.status() == 303;
    let session_alive = browser(&base, &jar).get("/account").await.status() == 200;
    assert_eq!(
        (old_works, new_works, session_alive),
        (!committed, committed, !committed),
        "{point}: (old password, new password, session) must be all before or all after"
    );
    let me = browser(&base, &me.client);
    let retried = me.post("/reset-password", &form).await;
    if committed {
        assert_eq!(retried.status(), 410, "{point}: the link was used");
    } else {
        assert_eq!(
            retried.status(),
            200,
            "{point}: the link is still good once"
        );
        assert_eq!(fresh().sign_in(EMAIL, NEW).await.status(), 303);
        assert_eq!(
            me.post("/reset-password", &form).await.status(),
            410,
            "{point}: once"
        );
    }
    let _ = node.kill();
    let _ = node.wait();
}
