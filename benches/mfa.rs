//! What 2-step verification costs, measured against a real `gatehouse serve`.
//!
//! (a) the added latency of the second step: a password-only sign-in beside a password
//! sign-in followed by an authenticator-app code, and by a recovery code (sequential, so the
//! figures are latency, not throughput); (b) what a pending WebAuthn challenge costs: the
//! server's RSS and the database bytes per challenge after 10,000 anonymous "Sign in with a
//! passkey" ceremonies are started and left. Figures are printed, never asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{cookie, environment, rss_kib, start_server};

const PASSWORD: &str = "marble kettle orbit saxophone";
const USERS: usize = 20;
const CHALLENGES: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn email(i: usize) -> String {
    format!("bench.user{i}@school100000.example.org")
}

fn create_user(dir: &std::path::Path, env: &[(String, String)], email: &str) {
    let created = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "user",
            "create",
            "--email",
            email,
            "--given-name",
            "Bench",
            "--family-name",
            "User",
            "--password-stdin",
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{PASSWORD}\n").as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(created.success());
}

/// A browser: its own cookie jar.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap() + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

fn field(html: &str, name: &str) -> String {
    between(html, &format!("name=\"{name}\" value=\""), "\"").to_owned()
}

/// The server's own time, from its `Date` header (the bench reads no clock of its own).
fn server_time(response: &reqwest::Response) -> i64 {
    let date = response.headers()["date"].to_str().unwrap();
    chrono::DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000"))
        .unwrap()
        .timestamp()
}

fn code(secret: &str, at: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    totp.generate(u64::try_from(at).unwrap()).to_string()
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Signs in with the password; returns the elapsed time of the POST and where it led.
async fn password(client: &reqwest::Client, base: &str, who: &str) -> (Duration, String) {
    let page = client
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = field(&page, "csrf_token");
    let started = Instant::now();
    let answer = post(
        client,
        base,
        "/sign-in",
        &[
            ("csrf_token", &token),
            ("email", who),
            ("password", PASSWORD),
            ("return_to", "/account"),
        ],
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status(), 303);
    let to = answer.headers()["location"].to_str().unwrap().to_owned();
    (elapsed, to)
}

/// The second step with `fields`; returns the time of the page GET and the POST together.
async fn second_step(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    fields: &[(&str, &str)],
) -> Duration {
    let started = Instant::now();
    let page = client
        .get(format!("{base}/sign-in/verify?method={method}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = field(&page, "csrf_token");
    let mut form = vec![
        ("csrf_token", token.as_str()),
        ("method", method),
        ("return_to", "/account"),
    ];
    form.extend_from_slice(fields);
    let answer = post(client, base, "/sign-in/verify", &form).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status(), 303, "second step with {method}");
    elapsed
}

fn median_ms(mut values: Vec<Duration>) -> f64 {
    values.sort();
    values[values.len() / 2].as_secs_f64() * 1000.0
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut env = environment(dir.path());
    env.retain(|(k, _)| k != "GATEHOUSE_LISTEN");
    env.push(("GATEHOUSE_LISTEN".into(), format!("127.0.0.1:{port}")));
    env.push((
        "GATEHOUSE_ISSUER".into(),
        format!("http://localhost:{port}"),
    ));
    for i in 0..=USERS {
        create_user(dir.path(), &env, &email(i));
    }
    let (mut server, base) = start_server(dir.path(), &env);
    println!("Gatehouse 2-step verification benchmark ({USERS} sign-ins per method)\n");

    // Everyone but user 0 sets up an authenticator app.
    let mut enrolled = Vec::new();
    for i in 1..=USERS {
        let me = browser();
        password(&me, &base, &email(i)).await;
        let setup = me
            .get(format!("{base}/account/security/app"))
            .send()
            .await
            .unwrap();
        let now = server_time(&setup);
        let html = setup.text().await.unwrap();
        let secret = between(
            &html[html.find("class=\"secret\"").unwrap()..],
            "<code>",
            "</code>",
        )
        .replace(' ', "");
        let answer = post(
            &me,
            &base,
            "/account/security/app",
            &[
                ("csrf_token", &field(&html, "csrf_token")),
                ("setup_id", &field(&html, "setup_id")),
                ("name", "Phone"),
                ("code", &code(&secret, now)),
            ],
        )
        .await;
        assert_eq!(answer.status(), 200);
        let page = answer.text().await.unwrap();
        let recovery: Vec<String> = between(&page, "recovery-codes", "</ul>")
            .split("<code>")
            .skip(1)
            .map(|s| s.split("</code>").next().unwrap().to_owned())
            .collect();
        enrolled.push((email(i), secret, recovery));
    }

    let mut password_only = Vec::new();
    for _ in 0..USERS {
        let me = browser();
        let (elapsed, to) = password(&me, &base, &email(0)).await;
        assert_eq!(to, "/account");
        password_only.push(elapsed);
    }

    // The step used at set-up is spent: wait for the next one on the server's clock.
    let probe = reqwest::get(format!("{base}/healthz")).await.unwrap();
    let wait = 31 - server_time(&probe).rem_euclid(30);
    tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap())).await;

    let mut first_step = Vec::new();
    let mut with_code = Vec::new();
    let mut with_recovery = Vec::new();
    for (who, secret, recovery) in &enrolled {
        let me = browser();
        let (elapsed, to) = password(&me, &base, who).await;
        assert!(to.starts_with("/sign-in/verify"));
        first_step.push(elapsed);
        let probe = me.get(format!("{base}/healthz")).send().await.unwrap();
        let now = server_time(&probe);
        with_code.push(second_step(&me, &base, "code", &[("code", &code(secret, now))]).await);

        let again = browser();
        password(&again, &base, who).await;
        with_recovery.push(
            second_step(
                &again,
                &base,
                "recovery",
                &[("recovery_code", &recovery[0])],
            )
            .await,
        );
    }

    // Pending WebAuthn challenges, started and abandoned.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = anon.get(format!("{base}/sign-in")).send().await.unwrap();
    let csrf = cookie(&page, "gatehouse_csrf").unwrap();
    let token = csrf.trim_start_matches("gatehouse_csrf=").to_owned();
    page.bytes().await.unwrap();
    let db = dir.path().join("data").join("gatehouse.db");
    let db_size = |p: &std::path::Path| {
        let wal = p.with_extension("db-wal");
        std::fs::metadata(p).map_or(0, |m| m.len()) + std::fs::metadata(wal).map_or(0, |m| m.len())
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = rss_kib(server.id(), "VmRSS");
    let disk_before = db_size(&db);
    let started = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (anon, base, csrf, token) =
                (anon.clone(), base.clone(), csrf.clone(), token.clone());
            tokio::spawn(async move {
                let mut bytes = 0usize;
                for _ in (w..CHALLENGES).step_by(16) {
                    let answer = anon
                        .post(format!("{base}/sign-in/passkey/options"))
                        .header("cookie", &csrf)
                        .header("sec-fetch-site", "same-origin")
                        .form(&[("csrf_token", token.as_str())])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(answer.status(), 200);
                    bytes += answer.bytes().await.unwrap().len();
                }
                bytes
            })
        })
        .collect();
    let mut options_bytes = 0;
    for w in workers {
        options_bytes += w.await.unwrap();
    }
    let ceremonies_elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_after = rss_kib(server.id(), "VmRSS");
    let disk_after = db_size(&db);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let (live, state_bytes): (i64, f64) = sqlx::query_as(
        "SELECT COUNT(*), AVG(LENGTH(state) + LENGTH(id_hash) + LENGTH(purpose) + 16) \
         FROM webauthn_challenges",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;

    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    let base_ms = median_ms(password_only);
    let code_ms = median_ms(with_code);
    let recovery_ms = median_ms(with_recovery);
    println!("| measure (median of {USERS}) | value |");
    println!("|---|---|");
    println!("| password-only sign-in POST | {base_ms:.1} ms |");
    println!(
        "| password POST when a second step follows | {:.1} ms |",
        median_ms(first_step)
    );
    println!("| second step, authenticator-app code (page + POST) | {code_ms:.1} ms |");
    println!("| second step, recovery code (page + POST) | {recovery_ms:.1} ms |");
    println!(
        "| added latency of the second step, code / recovery | {:.0} % / {:.0} % of the password step |",
        code_ms / base_ms * 100.0,
        recovery_ms / base_ms * 100.0
    );
    println!(
        "| {CHALLENGES} passkey ceremonies started | {:.1} s ({:.0}/s), {} B of options each |",
        ceremonies_elapsed.as_secs_f64(),
        CHALLENGES as f64 / ceremonies_elapsed.as_secs_f64(),
        options_bytes / CHALLENGES
    );
    println!("| challenges held (live rows) | {live} |");
    println!("| stored bytes per pending challenge (row fields) | {state_bytes:.0} B |");
    println!(
        "| database growth per pending challenge (file + WAL) | {:.0} B |",
        (disk_after.saturating_sub(disk_before)) as f64 / CHALLENGES as f64
    );
    println!(
        "| server RSS growth per pending challenge | {:.1} B ({:.1} → {:.1} MiB) |",
        (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / CHALLENGES as f64,
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
}
