//! Moving schools off the Authentix shared password, as the migration team would run it on
//! both engines: the messy legacy export imported (and imported again with nothing new),
//! every refused row reported with its line, then invitations sent in throttled waves and
//! reminders — and nothing of the legacy shared password kept anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::cli::{assert_one_line_failure, run, stdout};
use common::{Engine, FreshDb};

both_engines!(the_legacy_export_becomes_invited_accounts_and_waves_of_invitations);

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(output)
}

fn count(report: &str, label: &str) -> usize {
    report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {label} in {report}"))
}

async fn the_legacy_export_becomes_invited_accounts_and_waves_of_invitations(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let data = db.data_dir().display().to_string();
    let keys = db.keys_dir().display().to_string();
    let env = [
        ("GATEHOUSE_DATABASE_URL", db.url.as_str()),
        ("GATEHOUSE_DATA_DIR", data.as_str()),
        ("GATEHOUSE_KEYS_DIR", keys.as_str()),
    ];
    let gias = d.join("gias.csv");
    std::fs::write(&gias, include_bytes!("fixtures/gias_establishments.csv")).unwrap();
    ok(&run(d, &["import", "gias", gias.to_str().unwrap()], &env));
    for id in ["sdt", "edubase", "collect", "nca-tools", "kts", "workforce"] {
        ok(&run(
            d,
            &[
                "client",
                "create",
                "--client-id",
                id,
                "--name",
                id,
                "--redirect-uri",
                &format!("https://{id}.example.gov.uk/callback"),
            ],
            &env,
        ));
    }
    // The legacy export, plus the shared password a careless exporter left in a column.
    let export = String::from_utf8(include_bytes!("fixtures/authentix_contacts.csv").to_vec())
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},shared_password")
            } else {
                format!("{l},Sunflower2014!")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = d.join("authentix.csv");
    std::fs::write(&file, export).unwrap();
    let file = file.to_str().unwrap();
    let mapping = [
        "--service",
        "key-to-success=kts",
        "--service",
        "school-workforce=workforce",
    ];

    let mut args = vec!["import", "authentix", file, "--dry-run"];
    args.extend_from_slice(&mapping);
    let dry = ok(&run(d, &args, &env));
    assert!(dry.contains("dry run: nothing was saved"));
    assert!(count(&dry, "accounts created") > 600, "{dry}");
    assert_eq!(
        ok(&run(d, &["migration", "status"], &env)).lines().next(),
        Some("brought over: 0")
    );

    let mut args = vec!["import", "authentix", file];
    args.extend_from_slice(&mapping);
    let report = ok(&run(d, &args, &env));
    assert_eq!(count(&report, "rows read"), 758);
    // Hundreds of accounts' audit events went in as batches; the chain still verifies.
    ok(&run(d, &["audit", "verify"], &env));
    let created = count(&report, "accounts created");
    assert_eq!(
        created,
        count(&dry, "accounts created"),
        "the dry run told the truth"
    );
    assert!(
        report.contains(
            "line 8: the email address \"niamh.hughes21 at school100019.example.org\" is not valid"
        ),
        "{report}"
    );
    assert!(
        report.contains("line 27: the email address is missing"),
        "{report}"
    );
    assert!(
        report.contains("line 190: no school has the URN 999331"),
        "{report}"
    );
    assert!(
        report.contains("line 29: ") && report.contains(" is closed"),
        "{report}"
    );
    assert!(
        report.contains(
            "unknown service code \"legacy-reports\" (no such service) on lines 555, 580, 624"
        ),
        "{report}"
    );

    // Emails trimmed and lower-cased; one account for one person at two schools.
    let shown = ok(&run(
        d,
        &["user", "show", "harpreet.khan961@school100675.example.org"],
        &env,
    ));
    assert!(shown.contains("invited"), "{shown}");
    let store = db.store().await;
    let mei = store
        .user_by_email(
            &gatehouse::domain::Email::parse("mei.iqbal11@school100011.example.org").unwrap(),
        )
        .await
        .unwrap()
        .expect("one account");
    let memberships = store.memberships_of(&mei.id).await.unwrap();
    assert_eq!(
        memberships.len(),
        2,
        "the same person at two schools: two memberships"
    );
    // The first contact of a school is its approver; services map from legacy codes.
    let school = store.organisation_by_urn("100000").await.unwrap().unwrap();
    for (email, level) in [
        ("ioana.roberts00@school100000.example.org", "approver"),
        ("rhys.lewis01@school100000.example.org", "member"),
    ] {
        let person = store
            .user_by_email(&gatehouse::domain::Email::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap();
        let membership = store
            .membership(&person.id, &school.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(membership.level, level, "{email}");
    }
    assert!(
        ok(&run(
            d,
            &[
                "access",
                "show",
                "ioana.roberts00@school100000.example.org",
                "edubase"
            ],
            &env
        ))
        .starts_with("100000\t")
    );
    let la = ok(&run(
        d,
        &["access", "show", "tomasz.nowak@la800.example.gov.uk", "kts"],
        &env,
    ));
    assert!(la.starts_with("800\t"), "{la}");

    // Again: nothing new.
    let again = ok(&run(d, &args_owned(file, &mapping), &env));
    assert_eq!(count(&again, "accounts created"), 0);
    assert_eq!(count(&again, "memberships"), 0);
    assert_eq!(count(&again, "access granted"), 0);

    // Invitations in waves: one local authority, a few at a time, at a set rate.
    let wave = ok(&run(
        d,
        &[
            "migration",
            "invite",
            "--la",
            "801",
            "--limit",
            "3",
            "--rate",
            "6000/min",
        ],
        &env,
    ));
    assert_eq!(wave.trim(), "Invited 3 people");
    let mail = std::fs::read_dir(db.data_dir().join("mail"))
        .unwrap()
        .count();
    assert_eq!(mail, 3);
    let status = ok(&run(d, &["migration", "status"], &env));
    assert!(
        status.contains(&format!("brought over: {created}")) && status.contains("invited:      3"),
        "{status}"
    );
    let remind = ok(&run(
        d,
        &[
            "migration",
            "remind",
            "--after-days",
            "0",
            "--limit",
            "2",
            "--rate",
            "6000/min",
        ],
        &env,
    ));
    assert_eq!(remind.trim(), "Reminded 2 people");
    assert_one_line_failure(
        &run(d, &["migration", "invite", "--rate", "fast"], &env),
        2,
        "--rate \"fast\"",
    );

    // Nothing of the shared password was kept.
    for table in ["users", "audit_events", "outbox", "memberships"] {
        let text = dump(&db, table).await;
        assert!(
            !text.contains("Sunflower2014"),
            "{table} holds the legacy password"
        );
    }
}

fn args_owned<'a>(file: &'a str, mapping: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["import", "authentix", file];
    args.extend_from_slice(mapping);
    args
}

/// Every row of `table` as text.
async fn dump(db: &FreshDb, table: &str) -> String {
    use sqlx::Row;
    let sql = sqlx::AssertSqlSafe(format!("SELECT * FROM {table}"));
    let mut out = String::new();
    match db.engine {
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            for row in sqlx::query(sql).fetch_all(&pool).await.unwrap() {
                for i in 0..row.len() {
                    if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                        out.push_str(&v);
                    }
                }
            }
        }
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            for row in sqlx::query(sql).fetch_all(&pool).await.unwrap() {
                for i in 0..row.len() {
                    if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                        out.push_str(&v);
                    }
                }
            }
        }
    }
    out
}
