//! Signing in at /sign-in as a member of staff would, and what an attacker would try there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{ClockExt, Engine, TestApp, location};

const EMAIL: &str = "ioana.roberts@school100000.example.org";
const PASSWORD: &str = "marble kettle orbit saxophone";

both_engines!(
    staff_sign_in_see_their_account_and_sign_out,
    every_refusal_looks_the_same,
    empty_and_oversized_fields_get_errors_beside_them,
    forms_without_our_csrf_token_or_from_other_sites_are_refused,
    return_to_only_follows_paths_on_this_site,
    signing_in_again_replaces_the_session,
    names_with_html_are_shown_as_text,
    sign_in_upgrades_hashes_made_with_old_parameters,
    over_https_the_session_cookie_is_host_prefixed_and_secure,
    a_saturated_hasher_answers_503_with_a_try_again_page,
    forwarded_addresses_are_believed_only_from_trusted_proxies,
);

async fn staff_sign_in_see_their_account_and_sign_out(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let user = app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();

    let page = browser.get("/sign-in").await.text().await.unwrap();
    for label in [
        "<label class=\"label\" for=\"email\">Email address</label>",
        "<label class=\"label\" for=\"password\">Password</label>",
        ">Sign in</button>",
    ] {
        assert!(page.contains(label), "{label}");
    }
    assert!(
        page.contains("<a href=\"/forgot-password\">Forgotten your password?</a>"),
        "the way to reset a forgotten password"
    );

    let signed_in = browser
        .sign_in("  IOANA.Roberts@School100000.example.org ", PASSWORD)
        .await;
    assert_eq!(signed_in.status(), 303, "redirect after POST");
    assert_eq!(location(&signed_in), "/account");
    let cookie = common::set_cookie(&signed_in, "gatehouse_session").expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );

    let account = browser.get("/account").await;
    assert_eq!(account.status(), 200);
    let html = account.text().await.unwrap();
    assert!(html.contains("Ioana Roberts"));
    assert!(html.contains(EMAIL));
    assert!(
        html.contains("Firefox on Linux"),
        "the session list names the browser"
    );
    assert!(html.contains("This device"));

    let token = common::csrf_in(&html);
    let session_value = cookie
        .trim_start_matches("gatehouse_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let out = browser.post("/sign-out", &[("csrf_token", &token)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/signed-out");
    let after = browser.get("/account").await;
    assert_eq!(after.status(), 303, "signed out means signed out");
    assert_eq!(location(&after), "/sign-in?return_to=%2Faccount");
    let replayed = app
        .client
        .get(app.url("/account"))
        .header("cookie", format!("gatehouse_session={session_value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replayed.status(),
        303,
        "an old cookie replayed after sign-out is signed out"
    );

    let trail: Vec<String> = app
        .store
        .audit_for_user(&user, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        trail,
        ["session.signed_out", "sign_in.succeeded", "user.created"]
    );
    assert!(app.store.verify_audit_chain().await.unwrap().is_ok());
}

async fn every_refusal_looks_the_same(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let user = app.create_user(EMAIL, PASSWORD).await;
    app.create_user("locked.person@example.org", PASSWORD).await;
    let browser = app.browser();

    let wrong = browser.sign_in(EMAIL, "marble kettle orbit trombone").await;
    let unknown = browser.sign_in("nobody.here@example.org", PASSWORD).await;
    let mut tx = app.store.begin().await.unwrap();
    let locked_id = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse("locked.person@example.org").unwrap())
        .await
        .unwrap()
        .unwrap()
        .user_id();
    app.store
        .set_user_status(
            &mut tx,
            &locked_id,
            gatehouse::domain::UserStatus::Locked,
            Some("test"),
            app.clock.now_for_tests(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let locked = browser.sign_in("locked.person@example.org", PASSWORD).await;

    let mut bodies = Vec::new();
    for response in [wrong, unknown, locked] {
        assert_eq!(response.status(), 401);
        let html = response.text().await.unwrap();
        assert!(html.contains("Enter the correct email address and password for your account"));
        assert!(html.contains("There is a problem"));
        assert!(html.contains("<title>Error: Sign in"));
        // Strip the per-request parts before comparing the pages.
        bodies.push(
            html.replace(&common::csrf_in(&html), "TOKEN")
                .replace("nobody.here@example.org", "EMAIL")
                .replace(EMAIL, "EMAIL")
                .replace("locked.person@example.org", "EMAIL"),
        );
    }
    assert_eq!(
        bodies[0], bodies[1],
        "unknown email looks like a wrong password"
    );
    assert_eq!(
        bodies[0], bodies[2],
        "a locked account looks like a wrong password"
    );

    assert_eq!(failure_reasons(&app, &user).await, ["wrong_password"]);
    assert_eq!(failure_reasons(&app, &locked_id).await, ["locked"]);
}

/// The reason codes of an account's failed sign-ins in the audit trail, newest first.
async fn failure_reasons(app: &TestApp, id: &gatehouse::domain::UserId) -> Vec<String> {
    app.store
        .audit_for_user(id, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "sign_in.failed")
        .filter_map(|e| e.reason)
        .collect()
}

async fn empty_and_oversized_fields_get_errors_beside_them(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let browser = app.browser();
    let token = browser.csrf("/sign-in").await;

    let empty = browser.post("/sign-in", &[("csrf_token", &token)]).await;
    assert_eq!(empty.status(), 422);
    let html = empty.text().await.unwrap();
    assert!(
        html.contains("<a href=\"#email\">Enter your email address</a>"),
        "summary links to the field"
    );
    assert!(html.contains("<a href=\"#password\">Enter your password</a>"));
    assert!(html.contains("id=\"email-error\""));
    assert!(html.contains("aria-describedby=\"password-error\""));

    let long_password = "x".repeat(2000);
    let long = browser
        .post(
            "/sign-in",
            &[
                ("csrf_token", &token),
                ("email", EMAIL),
                ("password", &long_password),
            ],
        )
        .await;
    assert_eq!(long.status(), 422);
    assert!(
        long.text()
            .await
            .unwrap()
            .contains("Password must be 1,024 bytes or fewer")
    );

    // Only the head is sent: the server answers 413 from Content-Length alone and closes,
    // so writing the whole megabyte races that answer (the client can see a reset instead).
    let huge = common::raw_post_status(app.addr, "/sign-in", 1_000_000).await;
    assert_eq!(huge, 413, "refused before anything is hashed");

    let nul = browser
        .post(
            "/sign-in",
            &[
                ("csrf_token", &token),
                ("email", "a\0b@example.org"),
                ("password", "x\0y"),
            ],
        )
        .await;
    assert_eq!(nul.status(), 422);

    let long_email = format!("{}@example.org", "a".repeat(300));
    let overlong = browser
        .post(
            "/sign-in",
            &[
                ("csrf_token", &token),
                ("email", &long_email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(overlong.status(), 422);
    assert!(
        overlong
            .text()
            .await
            .unwrap()
            .contains("Email address must be 254 characters or fewer")
    );
}

async fn forms_without_our_csrf_token_or_from_other_sites_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    let token = browser.csrf("/sign-in").await;
    let fields =
        |t: &'static str| vec![("csrf_token", t), ("email", EMAIL), ("password", PASSWORD)];

    let missing = browser.post("/sign-in", &fields("")).await;
    assert_eq!(missing.status(), 403);
    let forged = browser
        .post(
            "/sign-in",
            &fields("0000000000000000000000000000000000000000000000000000000000000000"),
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("Sorry, we could not accept that form")
    );

    // The right token, but sent by another site's page (login CSRF).
    let cross_site = browser
        .client
        .post(format!("{}/sign-in", app.base))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    // Another browser's token does not work with this browser's cookie.
    let other = app.browser();
    other.csrf("/sign-in").await;
    let stolen = other.post_sign_in(&token, EMAIL, PASSWORD).await;
    assert_eq!(stolen.status(), 403);

    let ok = browser.post_sign_in(&token, EMAIL, PASSWORD).await;
    assert_eq!(ok.status(), 303);
}

async fn return_to_only_follows_paths_on_this_site(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    for (asked, expected) in [
        ("/account/password", "/account/password"),
        ("//evil.example", "/account"),
        ("https://evil.example", "/account"),
        ("/\\evil.example", "/account"),
    ] {
        let browser = app.browser();
        let token = browser.csrf("/sign-in").await;
        let response = browser
            .post(
                "/sign-in",
                &[
                    ("csrf_token", &token),
                    ("email", EMAIL),
                    ("password", PASSWORD),
                    ("return_to", asked),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), expected, "return_to={asked}");
    }
    // The sign-in page carries a safe return_to from the query string only.
    let html = app
        .browser()
        .get("/sign-in?return_to=https%3A%2F%2Fevil.example")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"return_to\" value=\"/account\""));
}

async fn signing_in_again_replaces_the_session(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    let first = browser.sign_in(EMAIL, PASSWORD).await;
    let first_cookie = first
        .cookies()
        .find(|c| c.name() == "gatehouse_session")
        .unwrap()
        .value()
        .to_owned();
    // Signed-in visitors to /sign-in go straight on.
    let again = browser.get("/sign-in").await;
    assert_eq!(again.status(), 303);

    // Signing in again (say, after a planted cookie) yields a new id, and the old one is dead.
    let token = common::csrf_in(&browser.get("/account").await.text().await.unwrap());
    let second = browser.post_sign_in(&token, EMAIL, PASSWORD).await;
    assert_eq!(second.status(), 303);
    let second_cookie = second
        .cookies()
        .find(|c| c.name() == "gatehouse_session")
        .unwrap()
        .value()
        .to_owned();
    assert_ne!(first_cookie, second_cookie);

    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let old = replay
        .get(app.url("/account"))
        .header("cookie", format!("gatehouse_session={first_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 303, "the replaced session is gone");
    let new = replay
        .get(app.url("/account"))
        .header("cookie", format!("gatehouse_session={second_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(new.status(), 200);
}

async fn names_with_html_are_shown_as_text(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_named_user(
        EMAIL,
        "<script>alert(1)</script>",
        "O'Brien & \"Sons\"",
        PASSWORD,
    )
    .await;
    let browser = app.browser();
    browser.sign_in(EMAIL, PASSWORD).await;
    let html = browser.get("/account").await.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; O&#39;Brien &#38; &#34;Sons&#34;"),
        "{html}"
    );
}

async fn sign_in_upgrades_hashes_made_with_old_parameters(engine: Engine) {
    let app = TestApp::spawn_with(engine, "argon2_iterations = 3").await;
    let id = app.create_user(EMAIL, PASSWORD).await; // made with the default, t=2
    let before = app
        .store
        .user_by_id(&id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(before.contains("t=2"), "{before}");
    assert_eq!(app.browser().sign_in(EMAIL, PASSWORD).await.status(), 303);
    let after = app
        .store
        .user_by_id(&id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(after.contains("m=19456,t=3,p=1"), "{after}");
    assert_eq!(
        app.browser().sign_in(EMAIL, PASSWORD).await.status(),
        303,
        "the new hash works"
    );
}

async fn over_https_the_session_cookie_is_host_prefixed_and_secure(engine: Engine) {
    let app = TestApp::spawn_with(engine, "issuer = \"https://sso.example.gov.uk\"").await;
    app.create_user(EMAIL, PASSWORD).await;
    // The test talks plain http to the listener, as a TLS-terminating proxy would.
    let client = &app.client;
    let form = client.get(app.url("/sign-in")).send().await.unwrap();
    let csrf_cookie =
        common::set_cookie(&form, "__Host-gatehouse_csrf").expect("__Host- CSRF cookie");
    assert!(
        csrf_cookie.contains("Secure") && csrf_cookie.contains("SameSite=Strict"),
        "{csrf_cookie}"
    );
    let token = common::csrf_in(&form.text().await.unwrap());
    let signed_in = client
        .post(app.url("/sign-in"))
        .header("cookie", format!("__Host-gatehouse_csrf={token}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session =
        common::set_cookie(&signed_in, "__Host-gatehouse_session").expect("__Host- session cookie");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(flag), "{flag} missing from {session}");
    }
    assert!(
        !session.contains("Domain="),
        "__Host- cookies carry no Domain"
    );
}

async fn a_saturated_hasher_answers_503_with_a_try_again_page(engine: Engine) {
    let app = TestApp::spawn_with(engine, "hash_queue_limit = 0\nhash_queue_timeout_ms = 1").await;
    app.create_user(EMAIL, PASSWORD).await;
    let browser = app.browser();
    let token = browser.csrf("/sign-in").await;
    let attempts: Vec<_> = (0..24)
        .map(|_| {
            let browser = browser.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let r = browser
                    .post(
                        "/sign-in",
                        &[
                            ("csrf_token", token.as_str()),
                            ("email", EMAIL),
                            ("password", "a wrong password here"),
                        ],
                    )
                    .await;
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (r.status().as_u16(), retry, r.text().await.unwrap())
            })
        })
        .collect();
    let mut busy = 0;
    for attempt in attempts {
        let (status, retry, html) = attempt.await.unwrap();
        match status {
            401 => {}
            503 => {
                busy += 1;
                assert_eq!(retry.as_deref(), Some("5"));
                assert!(html.contains("Sorry, the service is unavailable"));
                assert!(html.contains("Wait a few seconds, then try again."));
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        busy > 0,
        "24 simultaneous hashes on a queue of none must turn some away"
    );
}

async fn forwarded_addresses_are_believed_only_from_trusted_proxies(engine: Engine) {
    for (config, expected) in [
        ("", "127.0.0.1"),
        ("trusted_proxies = [\"127.0.0.1\"]", "198.51.100.7"),
    ] {
        let app = TestApp::spawn_with(engine, config).await;
        app.create_user(EMAIL, PASSWORD).await;
        let browser = app.browser();
        let token = browser.csrf("/sign-in").await;
        let signed_in = browser
            .client
            .post(app.url("/sign-in"))
            .header("sec-fetch-site", "same-origin")
            .header("x-forwarded-for", "198.51.100.7")
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", EMAIL),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 303);
        let html = browser.get("/account").await.text().await.unwrap();
        assert!(
            html.contains(&format!("<td>{expected}</td>")),
            "{config:?}: expected {expected}"
        );
    }
}
