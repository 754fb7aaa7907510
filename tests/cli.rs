//! The `gatehouse` binary as an operator meets it: layered configuration, clear one-line
//! failures with the documented exit codes, migrations, and a clean stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::cli::{assert_one_line_failure, gatehouse, run, run_with_input, stdout};
use common::{Engine, FreshDb};

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let version = run(dir.path(), &["--version"], &[]);
    assert!(version.status.success());
    assert_eq!(
        stdout(&version).trim(),
        format!("gatehouse {}", env!("CARGO_PKG_VERSION"))
    );
    let help = stdout(&run(dir.path(), &["--help"], &[]));
    for command in ["serve", "migrate", "check-config", "audit"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gatehouse.toml"),
        "listen = \"127.0.0.1:9001\"\nlog_level = \"debug\"\nissuer = \"https://file.example.gov.uk\"\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["check-config", "--listen", "127.0.0.1:9003"],
        &[
            ("GATEHOUSE_LISTEN", "127.0.0.1:9002"),
            ("GATEHOUSE_ISSUER", "https://env.example.gov.uk"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = stdout(&out);
    assert!(
        shown.contains("listen = \"127.0.0.1:9003\""),
        "flag wins:\n{shown}"
    );
    assert!(
        shown.contains("issuer = \"https://env.example.gov.uk\""),
        "env beats file:\n{shown}"
    );
    assert!(
        shown.contains("log_level = \"debug\""),
        "file beats default:\n{shown}"
    );
    assert!(
        shown.contains("body_limit = 65536"),
        "default kept:\n{shown}"
    );
    assert!(
        shown.contains("time_source = \"database\"\ntime_check_seconds = 60"),
        "nodes keep the database's time unless told otherwise:\n{shown}"
    );
    assert!(
        shown.contains("database_url = \"sqlite://data/gatehouse.db\""),
        "{shown}"
    );
}

#[test]
fn check_config_never_shows_database_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://gate:correct-horse-battery-staple@db.internal:5432/gatehouse";
    let out = run(
        dir.path(),
        &["check-config"],
        &[("GATEHOUSE_DATABASE_URL", url)],
    );
    let shown = stdout(&out);
    assert!(out.status.success());
    assert!(!shown.contains("correct-horse"), "{shown}");
    assert!(
        shown.contains("postgres://gate:REDACTED@db.internal:5432/gatehouse"),
        "{shown}"
    );

    // The same secret from a *_FILE path, with the trailing newline an editor leaves.
    let secret = dir.path().join("database-url");
    std::fs::write(&secret, format!("{url}\n")).unwrap();
    let out = run(
        dir.path(),
        &["check-config"],
        &[("GATEHOUSE_DATABASE_URL_FILE", secret.to_str().unwrap())],
    );
    let shown = stdout(&out);
    assert!(out.status.success());
    assert!(!shown.contains("correct-horse"), "{shown}");
    assert!(shown.contains("@db.internal:5432/gatehouse\""), "{shown}");
}

#[test]
fn configuration_mistakes_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("typo.toml"), "lisen = \"127.0.0.1:9000\"\n").unwrap();
    assert_one_line_failure(
        &run(d, &["check-config", "--config", "typo.toml"], &[]),
        2,
        "lisen",
    );
    assert_one_line_failure(
        &run(d, &["check-config"], &[("GATEHOUSE_LISTN", "127.0.0.1:1")]),
        2,
        "listn",
    );
    assert_one_line_failure(
        &run(d, &["check-config", "--config", "missing.toml"], &[]),
        2,
        "missing.toml does not exist",
    );
    assert_one_line_failure(
        &run(
            d,
            &["serve", "--database-url", "mysql://localhost/gatehouse"],
            &[],
        ),
        2,
        "database_url: must start with sqlite:// or postgres://",
    );
    assert_one_line_failure(
        &run(
            d,
            &[
                "serve",
                "--database-url",
                "postgres://localhost:notaport/db",
            ],
            &[],
        ),
        2,
        "database_url is not valid",
    );
    assert_one_line_failure(
        &run(d, &["serve", "--listen", "localhost"], &[]),
        2,
        "listen",
    );
    assert_one_line_failure(
        &run(d, &["serve", "--issuer", "http://sso.example.gov.uk"], &[]),
        2,
        "issuer: must use https",
    );
    assert_one_line_failure(
        &run(
            d,
            &["check-config"],
            &[
                ("GATEHOUSE_DATABASE_URL", "sqlite://x.db"),
                ("GATEHOUSE_DATABASE_URL_FILE", "y"),
            ],
        ),
        2,
        "not both",
    );
    assert_one_line_failure(
        &run(
            d,
            &["check-config"],
            &[("GATEHOUSE_TIME_SOURCE", "sundial")],
        ),
        2,
        "expected ``database` or `local``",
    );
    assert_one_line_failure(
        &run(
            d,
            &["check-config"],
            &[("GATEHOUSE_TIME_CHECK_SECONDS", "0")],
        ),
        2,
        "time_check_seconds: must be between 1 and 3600",
    );
    assert_one_line_failure(
        &run(
            d,
            &["check-config"],
            &[("GATEHOUSE_MIGRATION_COUNT_SECONDS", "5")],
        ),
        2,
        "migration_count_seconds: must be between 10 and 86400",
    );
    assert!(
        !d.join("data").exists(),
        "nothing was created by a failed start"
    );
}

#[test]
fn runtime_problems_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_one_line_failure(
        &run(
            d,
            &[
                "serve",
                "--database-url",
                "postgres://gatehouse@127.0.0.1:1/gatehouse",
            ],
            &[],
        ),
        1,
        "cannot reach the database at postgres://gatehouse@127.0.0.1:1/gatehouse",
    );

    std::fs::write(d.join("not-a-folder"), "").unwrap();
    assert_one_line_failure(
        &run(d, &["serve", "--data-dir", "not-a-folder/data"], &[]),
        1,
        "data_dir not-a-folder/data: cannot create it",
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_one_line_failure(
        &run(d, &["serve", "--listen", &addr], &[]),
        1,
        "the address is already in use",
    );
}

both_engines!(migrate_then_serve_then_stop_on_sigterm);

async fn migrate_then_serve_then_stop_on_sigterm(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [
        ("GATEHOUSE_DATABASE_URL", db.url.as_str()),
        ("GATEHOUSE_LISTEN", "127.0.0.1:0"),
    ];
    let migrate = run(d, &["migrate"], &env);
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(stdout(&migrate).contains("is up to date"));
    let verify = run(d, &["audit", "verify"], &env);
    assert!(
        stdout(&verify).contains("The audit trail is intact: 0 events"),
        "{}",
        stdout(&verify)
    );

    let mut child = gatehouse(d, &[], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let url = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first_line:?}"))
        .to_owned();
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut status = None;
    for _ in 0..50 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("gatehouse did not stop within 5 s of SIGTERM")
    });
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
}

both_engines!(operators_manage_accounts_from_the_command_line);

async fn operators_manage_accounts_from_the_command_line(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let email = "siobhan.quinn10@school100011.example.org";
    let create = |input: &str| {
        run_with_input(
            d,
            &[
                "user",
                "create",
                "--email",
                email,
                "--given-name",
                "Siobhán",
                "--family-name",
                "Quinn",
                "--password-stdin",
            ],
            &env,
            input,
        )
    };
    assert_one_line_failure(
        &create("too short\n"),
        2,
        "Password must be 15 characters or more",
    );
    let created = create("harbour velvet pylon quiz\n");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(stdout(&created).contains("status active"));
    assert!(
        !stdout(&created).contains("harbour"),
        "the password is never echoed"
    );
    assert_one_line_failure(
        &create("harbour velvet pylon quiz\n"),
        2,
        "An account with that email address already exists",
    );
    let invited = run(
        d,
        &[
            "user",
            "create",
            "--email",
            "new.starter@example.org",
            "--given-name",
            "New",
            "--family-name",
            "Starter",
        ],
        &env,
    );
    assert!(stdout(&invited).contains("status invited"));

    let list = run(d, &["user", "list", "--json"], &env);
    let users: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(users[0]["email"], "new.starter@example.org");
    assert_eq!(users[0]["has_password"], false);
    assert_eq!(users[1]["given_name"], "Siobhán");
    assert!(!stdout(&list).contains("argon2"), "hashes are never shown");

    let show = stdout(&run(
        d,
        &["user", "show", "SIOBHAN.QUINN10@school100011.example.org"],
        &env,
    ));
    assert!(show.contains("status: active"), "{show}");

    let lock = run(
        d,
        &["user", "lock", email, "--reason", "Reported lost laptop"],
        &env,
    );
    assert!(
        stdout(&lock).contains("is now locked"),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    assert_one_line_failure(
        &run(d, &["user", "lock", email, "--reason", "again"], &env),
        2,
        "already locked",
    );
    assert!(
        stdout(&run(
            d,
            &["user", "unlock", email, "--reason", "Laptop found"],
            &env
        ))
        .contains("is now active")
    );
    assert!(
        stdout(&run(
            d,
            &["user", "deactivate", email, "--reason", "Left the school"],
            &env
        ))
        .contains("is now deactivated")
    );
    assert!(
        stdout(&run(
            d,
            &["user", "reactivate", email, "--reason", "Came back"],
            &env
        ))
        .contains("is now active")
    );
    assert_one_line_failure(
        &run(
            d,
            &["user", "unlock", "nobody@example.org", "--reason", "x"],
            &env,
        ),
        2,
        "There is no account with that email address",
    );
    assert_one_line_failure(
        &run(d, &["user", "show", "not-an-email"], &env),
        2,
        "--email: Enter an email address in the correct format",
    );

    let verify = run(d, &["audit", "verify"], &env);
    assert!(
        stdout(&verify).contains("The audit trail is intact: 6 events"),
        "{}",
        stdout(&verify)
    );

    // Shipping the trail elsewhere: every event, with its hashes, as JSON Lines or CSV.
    let export = run(d, &["audit", "export", "--since", "2000-01-01"], &env);
    assert!(export.status.success());
    let lines: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["action"], "user.created");
    assert_eq!(
        lines[1]["prev_hash"], lines[0]["hash"],
        "the chain travels with it"
    );
    assert!(lines.iter().all(|l| l["actor"] == "cli"));
    let csv = stdout(&run(
        d,
        &[
            "audit",
            "export",
            "--since",
            "2000-01-01T00:00:00Z",
            "--format",
            "csv",
        ],
        &env,
    ));
    assert!(csv.starts_with("seq,id,occurred_at,actor,"));
    assert_eq!(csv.lines().count(), 7);
    let future = run(d, &["audit", "export", "--since", "2999-01-01"], &env);
    assert!(future.status.success() && stdout(&future).is_empty());
    assert_one_line_failure(
        &run(d, &["audit", "export", "--since", "last week"], &env),
        2,
        "--since \"last week\": give a date like 2026-11-01",
    );
    assert_one_line_failure(
        &run(
            d,
            &[
                "audit",
                "export",
                "--since",
                "2026-01-01",
                "--format",
                "xml",
            ],
            &env,
        ),
        2,
        "--format \"xml\": use jsonl or csv",
    );

    // Someone with database access rewrites history: verify notices.
    let tamper = [
        "DROP TRIGGER audit_events_no_update",
        "UPDATE audit_events SET details = '{}' WHERE seq = 3",
    ];
    match engine {
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::query(tamper[0]).execute(&pool).await.unwrap();
            sqlx::query(tamper[1]).execute(&pool).await.unwrap();
        }
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query("DROP TRIGGER audit_events_no_update ON audit_events")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(tamper[1]).execute(&pool).await.unwrap();
        }
    }
    assert_one_line_failure(
        &run(d, &["audit", "verify"], &env),
        1,
        "the audit trail is broken at event 3: contents changed after it was written",
    );
}
