//! Attacks on the pages, black-box over HTTP on both engines (issue 9), beyond what the
//! feature tests already cover: framing of every HTML page a person can reach (signed out,
//! signed in, as staff, and error pages); forged consent and sign-out posts; the session
//! after the second step being new and the pending sign-in spent; emailed links built on the
//! issuer whatever Host the request claimed; sign-in answers that do not tell who has an
//! account, down to the work done; a recovery code raced from many tabs; and oversized
//! headers and query strings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::common;

use common::mfa::recovery_codes_on;
use common::oidc::{PASSWORD, REDIRECT, Spec};
use common::{Browser, Engine, TestApp, csrf_in, location, set_cookie};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::staff::{Staff, StaffRole};

both_engines!(
    no_html_page_can_be_framed,
    forged_consent_and_sign_out_posts_change_nothing,
    the_second_step_starts_a_new_session_and_spends_the_pending_one,
    emailed_links_ignore_the_host_the_request_claims,
    sign_in_answers_and_work_do_not_tell_who_has_an_account,
    a_recovery_code_raced_from_many_tabs_works_once,
    oversized_headers_and_query_strings_get_clear_refusals,
    the_second_step_cannot_be_skipped_by_changing_its_parameters,
    passkey_ceremonies_asked_for_in_a_flood_stay_bounded,
    search_terms_are_only_ever_text,
    requests_cannot_forge_log_lines
);

const EMAIL: &str = "pat.okafor@school.example";

fn assert_unframeable(response: &reqwest::Response, what: &str) {
    let h = response.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
}

async fn html_get(browser: &Browser, path: &str) -> reqwest::Response {
    let response = browser.get(path).await;
    let html = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
    assert!(html, "{path} answered {} without HTML", response.status());
    response
}

async fn no_html_page_can_be_framed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.register(Spec::confidential("portal")).await;
    let visitor = app.browser();
    for path in [
        "/",
        "/accessibility",
        "/privacy",
        "/sign-in",
        "/signed-out",
        "/forgot-password",
        "/reset-password",
        "/activate",
        "/reset-password/not-a-real-link",
        "/no-such-page",
        "/authorize?client_id=nobody",
        "/authorize/resume?request=stale",
    ] {
        let response = html_get(&visitor, path).await;
        assert_unframeable(&response, path);
    }

    // Signed in, and as an administrator (2-step verification in the session).
    app.create_user(EMAIL, PASSWORD).await;
    let staff = app.verified_browser(EMAIL, PASSWORD).await;
    let id = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse(EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    Staff::new(app.store.clone(), Arc::new(app.clock.clone()))
        .grant(
            &id,
            StaffRole::Helpdesk,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    for path in [
        "/account",
        "/account/security",
        "/account/email",
        "/account/request-access",
        "/manage",
        "/manage/accounts",
        "/manage/requests",
        "/manage/migration",
        &format!("/manage/accounts/{}", id.id),
        &format!("/manage/accounts/{}/unlock", id.id),
    ] {
        let response = html_get(&staff, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_unframeable(&response, path);
    }
    // A page refused (403) is unframeable too.
    let refused = html_get(&staff, "/manage/keys").await;
    assert_eq!(refused.status(), 403);
    assert_unframeable(&refused, "a 403 page");
}

async fn forged_consent_and_sign_out_posts_change_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    // Not first-party, so the person is asked to agree.
    app.register(Spec {
        first_party: false,
        ..Spec::confidential("portal")
    })
    .await;
    let me = app.browser();
    me.sign_in(EMAIL, PASSWORD).await;
    let (challenge, _) = oauth2::PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "/authorize?client_id=portal&redirect_uri={}&response_type=code&scope=openid\
         &code_challenge={}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let page = me.get(&url).await.text().await.unwrap();
    let request = common::oidc::value_of(&page, "request");
    let attacker = app.browser();
    let their_token = attacker.csrf("/sign-in").await;
    for (what, token) in [
        ("no token", ""),
        ("another browser's token", their_token.as_str()),
    ] {
        let forged = me
            .post(
                "/authorize/consent",
                &[
                    ("csrf_token", token),
                    ("request", &request),
                    ("decision", "allow"),
                ],
            )
            .await;
        assert_eq!(forged.status(), 403, "consent with {what}");
    }
    // The real form still works: the request was not spent by the forgeries.
    let token = csrf_in(&page);
    let agreed = me
        .post(
            "/authorize/consent",
            &[
                ("csrf_token", &token),
                ("request", &request),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(agreed.status(), 303);
    assert!(location(&agreed).starts_with(REDIRECT));

    // A cross-site sign-out (forced logout) is refused and the session lives on.
    for (what, token) in [
        ("no token", ""),
        ("another browser's token", their_token.as_str()),
    ] {
        let forged = me.post("/sign-out", &[("csrf_token", token)]).await;
        assert_eq!(forged.status(), 403, "sign-out with {what}");
    }
    assert_eq!(me.get("/account").await.status(), 200, "still signed in");
}

async fn the_second_step_starts_a_new_session_and_spends_the_pending_one(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let (_, device) = app.verified_browser_and_app(EMAIL, PASSWORD).await;
    let me = app.browser();
    // The password step: only a pending cookie, no session.
    let token = me.csrf("/sign-in").await;
    let step_one = me
        .post(
            "/sign-in",
            &[
                ("csrf_token", &token),
                ("email", EMAIL),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(step_one.status(), 303);
    let pending = set_cookie(&step_one, "gatehouse_pending").expect("a pending sign-in");
    assert!(set_cookie(&step_one, "gatehouse_session").is_none());
    app.clock.advance(chrono::Duration::seconds(31));
    let step_two = me
        .second_step("code", &[("code", &device.code_now(&app))])
        .await;
    assert_eq!(step_two.status(), 303, "second step");
    let session = set_cookie(&step_two, "gatehouse_session").expect("a new session");
    assert_ne!(session, pending);

    // The pending handle is spent: planted in another browser, it reaches nothing.
    let planted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = planted
        .get(app.url("/sign-in/verify"))
        .header("cookie", format!("gatehouse_pending={pending}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        303,
        "no second step without a live pending sign-in"
    );
    assert!(location(&page).starts_with("/sign-in"));
    let account = planted
        .get(app.url("/account"))
        .header("cookie", format!("gatehouse_pending={pending}"))
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), 303);
}

async fn emailed_links_ignore_the_host_the_request_claims(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let me = app.browser();
    me.sign_in(EMAIL, PASSWORD).await;
    // A change of email, asked for with a poisoned Host and X-Forwarded-Host.
    let token = me.csrf("/account/email").await;
    let answer = me
        .client
        .post(app.url("/account/email"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", token.as_str()),
            ("new_email", "pat.new@school.example"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_redirection() || answer.status().is_success());
    for to in ["pat.new@school.example", EMAIL] {
        for mail in sink.wait_for(to, 1).await {
            assert!(!mail.text().contains("evil.example"), "to {to}: every part");
        }
    }
    let notice = &sink.wait_for(EMAIL, 1).await[0];
    assert!(
        notice.text().contains(&app.base),
        "the notice's link is on the issuer"
    );
}

/// The `password_verifications_total` counter from a server's /metrics.
async fn verifications(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("password_verifications_total"))
        .and_then(|l| l.split_whitespace().last())
        .map_or(0, |n| n.parse::<f64>().unwrap() as u64)
}

/// A browser for a server at `base`.
fn browser_at(base: &str) -> Browser {
    Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: base.to_owned(),
    }
}

/// Runs on its own `gatehouse` process, so the work counted on its /metrics is only this
/// test's.
async fn sign_in_answers_and_work_do_not_tell_who_has_an_account(engine: Engine) {
    use common::FreshDb;
    use common::cli::{run, run_with_input, serve};

    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [
        ("GATEHOUSE_DATABASE_URL", db.url.as_str()),
        ("GATEHOUSE_LISTEN", "127.0.0.1:0"),
    ];
    assert!(run(d, &["migrate"], &env).status.success());
    let deactivated = "gone@school.example";
    for email in [EMAIL, deactivated] {
        let create = [
            "user",
            "create",
            "--email",
            email,
            "--given-name",
            "Pat",
            "--family-name",
            "Okafor",
            "--password-stdin",
        ];
        assert!(
            run_with_input(d, &create, &env, &format!("{PASSWORD}\n"))
                .status
                .success()
        );
    }
    let off = ["user", "deactivate", deactivated, "--reason", "left"];
    assert!(run(d, &off, &env).status.success());
    let (mut child, base) = serve(d, &[], &env, &[]);

    let mut answers = Vec::new();
    for (what, email) in [
        ("a wrong password", EMAIL),
        ("no such account", "nobody@school.example"),
        ("a deactivated account", deactivated),
    ] {
        let browser = browser_at(&base);
        let before = verifications(&base).await;
        let answer = browser.sign_in(email, "not the password at all").await;
        let after = verifications(&base).await;
        assert_eq!(
            after - before,
            1,
            "{what}: one Argon2 verification, like any other"
        );
        let status = answer.status();
        let mut names: Vec<String> = answer
            .headers()
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| !matches!(k.as_str(), "date" | "x-request-id" | "content-length"))
            .collect();
        names.sort();
        // The page keeps what was typed in the email field; everything else must match.
        let body = answer.text().await.unwrap().replace(email, "EMAIL");
        let body = body
            .lines()
            .filter(|l| !l.contains("csrf_token") && !l.contains("Reference"))
            .collect::<Vec<_>>()
            .join("\n");
        answers.push((what, status, names, body));
    }
    let _ = child.kill();
    let _ = child.wait();
    for pair in answers.windows(2) {
        assert_eq!(
            pair[0].1, pair[1].1,
            "{} vs {}: status",
            pair[0].0, pair[1].0
        );
        assert_eq!(
            pair[0].2, pair[1].2,
            "{} vs {}: headers",
            pair[0].0, pair[1].0
        );
        assert_eq!(pair[0].3, pair[1].3, "{} vs {}: page", pair[0].0, pair[1].0);
    }
}

async fn a_recovery_code_raced_from_many_tabs_works_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let me = app.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let (_, answer) = me.add_app(&app, "Phone").await;
    let code = recovery_codes_on(&answer.text().await.unwrap()).remove(0);

    let mut tabs = Vec::new();
    for _ in 0..6 {
        let tab = app.browser();
        tab.sign_in_to_second_step(EMAIL, PASSWORD).await;
        tabs.push(tab);
    }
    let mut racers = Vec::new();
    for tab in tabs {
        let code = code.clone();
        racers.push(tokio::spawn(async move {
            tab.second_step("recovery", &[("recovery_code", &code)])
                .await
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "exactly one tab got in: {statuses:?}"
    );
}

async fn oversized_headers_and_query_strings_get_clear_refusals(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let long = "a".repeat(200_000);
    let query = app
        .client
        .get(app.url(&format!("/authorize?client_id={long}")))
        .send()
        .await;
    if let Ok(answer) = query {
        let status = answer.status().as_u16();
        assert!(
            matches!(status, 400 | 413 | 414 | 431),
            "a 200 kB query string got {status}"
        );
    }
    let header = app
        .client
        .get(app.url("/sign-in"))
        .header("x-padding", &long)
        .send()
        .await;
    if let Ok(answer) = header {
        let status = answer.status().as_u16();
        assert!(
            matches!(status, 400 | 413 | 431),
            "a 200 kB header got {status}"
        );
    }
    // The server is still answering.
    assert_eq!(app.get("/sign-in").await.status(), 200);
    let cookies = app
        .client
        .get(app.url("/account"))
        .header("cookie", format!("gatehouse_session={}", "x".repeat(8_000)))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(cookies.status().as_u16(), 303 | 400 | 431),
        "an absurd session cookie got {}",
        cookies.status()
    );
}

async fn the_second_step_cannot_be_skipped_by_changing_its_parameters(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    app.verified_browser_and_app(EMAIL, PASSWORD).await;
    let me = app.browser();
    me.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let page = me
        .get("/sign-in/verify?method=code")
        .await
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page);
    for fields in [
        vec![("method", "password"), ("code", PASSWORD)],
        vec![("method", "none")],
        vec![("method", "")],
        vec![("method", "key"), ("credential", "{}")],
        vec![("method", "code"), ("code", "")],
        vec![
            ("method", "code"),
            ("code", "000000"),
            ("user_id", "someone"),
        ],
        vec![("method", "recovery"), ("recovery_code", "")],
        vec![
            ("method", "code"),
            ("code", "123456"),
            ("return_to", "https://evil.example/"),
        ],
    ] {
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend(fields.iter().copied());
        let answer = me.post("/sign-in/verify", &form).await;
        assert!(
            set_cookie(&answer, "gatehouse_session").is_none(),
            "{fields:?}: no session"
        );
        assert_ne!(
            me.get("/account").await.status(),
            200,
            "{fields:?}: not signed in"
        );
    }
}

async fn passkey_ceremonies_asked_for_in_a_flood_stay_bounded(engine: Engine) {
    use common::ClockExt;

    // The per-address allowance (shared with password attempts), small for the test.
    let app = TestApp::spawn_with(
        engine,
        &format!("{}\nsign_in_ip_burst = 30", common::keys::ISSUER),
    )
    .await;
    let me = Browser {
        base: format!("http://localhost:{}", app.addr.port()),
        ..app.browser()
    };
    let token = me.csrf("/sign-in").await;
    let mut refused = 0;
    for _ in 0..80 {
        let answer = me
            .post("/sign-in/passkey/options", &[("csrf_token", &token)])
            .await;
        match answer.status().as_u16() {
            200 => {}
            429 => refused += 1,
            other => panic!("passkey options answered {other}"),
        }
    }
    assert!(refused > 0, "the flood was cut off");
    let live = app
        .store
        .live_challenges(app.clock.now_for_tests())
        .await
        .unwrap();
    assert!(
        live <= 80 - refused,
        "{live} ceremonies kept for {refused} refusals"
    );
    assert!(live < 80, "{live} ceremonies are waiting");
}

async fn search_terms_are_only_ever_text(engine: Engine) {
    let app = TestApp::spawn_with(engine, common::keys::ISSUER).await;
    app.create_named_user(EMAIL, "Pat", "O'Kafor", PASSWORD)
        .await;
    app.directory_with_schools().await;
    let staff = common::keys::admin_browser(&app, "ada.admin@dfe.example", PASSWORD).await;
    for term in [
        "' OR '1'='1",
        "'; DROP TABLE users; --",
        "\" OR 1=1 --",
        "%",
        "_",
        "\\",
        "pat%",
        "o'kafor",
    ] {
        let q: String = url::form_urlencoded::byte_serialize(term.as_bytes()).collect();
        let found = staff.get(&format!("/manage/accounts?q={q}")).await;
        let status = found.status();
        let html = found.text().await.unwrap();
        assert_eq!(status, 200, "{term}");
        assert!(
            !html.contains("syntax") && !html.contains("SQL"),
            "{term}: no error text"
        );
        let lists_pat = html.contains(EMAIL);
        assert_eq!(
            lists_pat,
            term == "o'kafor",
            "{term}: only a real match lists Pat"
        );
        let orgs = staff.get(&format!("/manage/organisations?q={q}")).await;
        assert_eq!(orgs.status(), 200, "{term}: organisations");
    }
    let still = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse(EMAIL).unwrap())
        .await
        .unwrap();
    assert!(still.is_some(), "the users table is still there");
}

/// Log injection: line breaks and terminal escapes sent in a path (percent-encoded, the only
/// way HTTP lets them through) or in form fields never reach the log as control characters,
/// so no request can forge a log line or repaint an operator's terminal.
async fn requests_cannot_forge_log_lines(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    for path in [
        format!("/probe-{marker}%0d%0aFAKE-{marker}%20level%3DERROR"),
        format!("/probe-{marker}%1b%5b31mRED-{marker}"),
        format!("/reset-password/{marker}%0aFAKE-{marker}"),
    ] {
        let answer = app.get(&path).await;
        assert!(answer.status().is_client_error(), "{path}");
    }
    let me = app.browser();
    let token = me.csrf("/sign-in").await;
    let injected = format!("x{marker}\r\nFAKE-{marker} \u{1b}[31m@school.example");
    me.post_sign_in(&token, &injected, "not the password at all")
        .await;
    let lines = common::leaks::log_lines_with(&marker);
    assert!(!lines.is_empty(), "the probes were logged");
    for line in common::leaks::log_lines_with(&format!("FAKE-{marker}")) {
        assert!(
            line.contains(&format!("probe-{marker}")) || line.contains(&format!("x{marker}")),
            "a forged line: {line}"
        );
    }
    for line in lines {
        assert!(
            !line.contains('\u{1b}') && !line.contains('\r'),
            "a control character reached the log: {line:?}"
        );
    }
}
