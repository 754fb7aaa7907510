//! `gatehouse member`, `role` and `access` as an operator uses them, on both engines: people
//! join organisations, services define roles, access is granted only to members and only for
//! the kinds of organisation a service allows, and removing someone ends their access.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::cli::{assert_one_line_failure, run, run_with_input, stdout};
use common::{Engine, FreshDb};

both_engines!(members_get_access_with_roles_and_lose_it_when_removed);

const ANA: &str = "ana.lopez@school100000.example.org";
const BEN: &str = "ben.osei@la801.example.org";

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(output)
}

async fn members_get_access_with_roles_and_lose_it_when_removed(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let extract = d.join("extract.csv");
    std::fs::write(&extract, include_bytes!("fixtures/gias_establishments.csv")).unwrap();
    ok(&run(
        d,
        &["import", "gias", extract.to_str().unwrap()],
        &env,
    ));
    for (email, given) in [(ANA, "Ana"), (BEN, "Ben")] {
        ok(&run_with_input(
            d,
            &[
                "user",
                "create",
                "--email",
                email,
                "--given-name",
                given,
                "--family-name",
                "Example",
                "--password-stdin",
            ],
            &env,
            "marble kettle orbit saxophone\n",
        ));
    }
    ok(&run(
        d,
        &[
            "client",
            "create",
            "--client-id",
            "census",
            "--name",
            "School Census",
            "--redirect-uri",
            "https://census.example.gov.uk/callback",
        ],
        &env,
    ));
    ok(&run(
        d,
        &[
            "role",
            "define",
            "census",
            "submitter",
            "--name",
            "Submits returns",
        ],
        &env,
    ));
    ok(&run(
        d,
        &[
            "role",
            "define",
            "census",
            "viewer",
            "--name",
            "Views returns",
        ],
        &env,
    ));
    assert_eq!(
        ok(&run(d, &["role", "list", "census"], &env)),
        "submitter\tSubmits returns\nviewer\tViews returns\n"
    );
    assert_one_line_failure(
        &run(
            d,
            &["role", "define", "census", "Bad Code", "--name", "X"],
            &env,
        ),
        2,
        "A role code is",
    );
    assert_one_line_failure(
        &run(d, &["role", "define", "nowhere", "x", "--name", "X"], &env),
        2,
        "No service has that client id",
    );

    // Access only for members.
    assert_one_line_failure(
        &run(
            d,
            &[
                "access",
                "grant",
                ANA,
                "100000",
                "census",
                "--role",
                "submitter",
            ],
            &env,
        ),
        2,
        "is not a member of",
    );
    assert!(ok(&run(d, &["member", "add", ANA, "100000"], &env)).contains("a member of St Th"));
    ok(&run(d, &["member", "add", ANA, "100011"], &env));
    ok(&run(
        d,
        &[
            "access",
            "grant",
            ANA,
            "100000",
            "census",
            "--role",
            "submitter",
            "--role",
            "viewer",
        ],
        &env,
    ));
    ok(&run(d, &["access", "grant", ANA, "100011", "census"], &env));
    assert_one_line_failure(
        &run(
            d,
            &[
                "access", "grant", ANA, "100000", "census", "--role", "admin",
            ],
            &env,
        ),
        2,
        "The service has no role \"admin\"",
    );
    let shown = ok(&run(d, &["access", "show", ANA, "census"], &env));
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("100000\t") && l.ends_with("\tsubmitter viewer")),
        "{shown}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("100011\t") && l.ends_with('\t')),
        "{shown}"
    );

    // A service for local authorities only.
    ok(&run(
        d,
        &["access", "restrict", "census", "--kind", "local_authority"],
        &env,
    ));
    ok(&run(d, &["member", "add", BEN, "801", "--approver"], &env));
    ok(&run(d, &["member", "add", BEN, "100019"], &env));
    assert_one_line_failure(
        &run(d, &["access", "grant", BEN, "100019", "census"], &env),
        2,
        "can only be granted for: local authority",
    );
    ok(&run(
        d,
        &["access", "grant", BEN, "801", "census", "--role", "viewer"],
        &env,
    ));
    ok(&run(d, &["access", "restrict", "census"], &env));
    ok(&run(d, &["access", "grant", BEN, "100019", "census"], &env));

    // Removing a role removes it from its holders; removing a member ends their access.
    ok(&run(d, &["role", "remove", "census", "viewer"], &env));
    let shown = ok(&run(d, &["access", "show", ANA, "census"], &env));
    assert!(
        shown.contains("\tsubmitter\n") && !shown.contains("viewer"),
        "{shown}"
    );
    ok(&run(d, &["member", "remove", ANA, "100000"], &env));
    let shown = ok(&run(d, &["access", "show", ANA, "census"], &env));
    assert!(
        !shown.contains("100000") && shown.contains("100011"),
        "{shown}"
    );
    ok(&run(
        d,
        &["access", "revoke", ANA, "100011", "census"],
        &env,
    ));
    assert_eq!(
        ok(&run(d, &["access", "show", ANA, "census"], &env)),
        format!("{ANA} may not use census anywhere\n")
    );
    assert_one_line_failure(
        &run(d, &["member", "remove", ANA, "100000"], &env),
        2,
        "is not a member of",
    );
    assert_one_line_failure(
        &run(d, &["member", "add", "nobody@example.org", "100000"], &env),
        2,
        "no account has the email address nobody@example.org",
    );

    let store = db.store().await;
    assert!(store.verify_audit_chain().await.unwrap().is_ok());
}
