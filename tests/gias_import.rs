//! `gatehouse import gias` and `gatehouse org` as an operator uses them, on both engines: a
//! Windows-1252 extract imported, imported again with nothing to change, a later extract
//! (UTF-8 with a byte-order mark) that renames, closes and has bad rows, a dry run that saves
//! nothing, and organisations added and corrected by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::cli::{assert_one_line_failure, run, stdout};
use common::{Engine, FreshDb};

both_engines!(
    an_extract_is_imported_once_and_again_changes_nothing,
    a_later_extract_renames_closes_and_reports_bad_rows,
    a_dry_run_reports_without_saving,
    organisations_are_added_and_corrected_by_hand,
);

const FIXTURE: &[u8] = include_bytes!("fixtures/gias_establishments.csv");

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// The count on the report line that starts with `label`.
fn count(report: &str, label: &str) -> usize {
    report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {label} in {report}"))
}

async fn an_extract_is_imported_once_and_again_changes_nothing(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let file = write(d, "extract.csv", FIXTURE);

    let first = run(d, &["import", "gias", &file], &env);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report = stdout(&first);
    assert_eq!(count(&report, "rows read"), 300);
    assert_eq!(count(&report, "created"), 300);
    assert_eq!(count(&report, "rejected"), 0);
    assert!(
        report.contains("local authorities: 3 created, 0 updated"),
        "{report}"
    );

    // Curly apostrophes and accents survive the Windows-1252 decoding.
    let school = stdout(&run(d, &["org", "show", "100000"], &env));
    assert!(
        school.starts_with("St Th\u{e9}r\u{e8}se\u{2019}s High School, Thornbury"),
        "{school}"
    );
    assert!(school.contains("opened       1988-09-01"), "{school}");
    assert!(school.contains("UKPRN        11791965"), "{school}");
    let la = stdout(&run(d, &["org", "show", "801"], &env));
    assert!(
        la.starts_with("Brampton Council") && la.contains("local_authority"),
        "{la}"
    );

    let again = stdout(&run(d, &["import", "gias", &file], &env));
    assert_eq!(count(&again, "created"), 0);
    assert_eq!(count(&again, "updated"), 0);
    assert_eq!(count(&again, "unchanged"), 300);
    assert!(again.contains("local authorities: 0 created, 0 updated"));

    let store = db.store().await;
    let counts = store.organisation_counts().await.unwrap();
    let total: i64 = counts.iter().map(|c| c.2).sum();
    assert_eq!(total, 303);
    assert!(
        counts.contains(&("school".into(), "closed".into(), 30)),
        "{counts:?}"
    );
    assert!(counts.contains(&("school".into(), "proposed_to_close".into(), 7)));
}

async fn a_later_extract_renames_closes_and_reports_bad_rows(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let file = write(d, "extract.csv", FIXTURE);
    assert!(run(d, &["import", "gias", &file], &env).status.success());

    // Next month's extract, saved as UTF-8 with a byte-order mark by a spreadsheet.
    let text = encoding_rs::WINDOWS_1252.decode(FIXTURE).0.into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let renamed = lines.iter().position(|l| l.starts_with("100019,")).unwrap();
    lines[renamed] = lines[renamed].replace(
        "Oakhurst CofE Primary School",
        "Oakhurst Church Primary School",
    );
    let closing = lines.iter().position(|l| l.starts_with("100021,")).unwrap();
    lines[closing] =
        lines[closing].replace(",1,Open,01-09-1952,,", ",2,Closed,01-09-1952,31-08-2026,");
    lines.push(
        "12AB,801,Brampton Council,1,Bad School,01,Community school,1,Open,,,02,Primary,,,,".into(),
    );
    lines.push(lines[renamed].clone());
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(lines.join("\r\n").as_bytes());
    let later = write(d, "later.csv", &bytes);

    let output = run(d, &["import", "gias", &later], &env);
    assert!(output.status.success());
    let report = stdout(&output);
    assert_eq!(count(&report, "rows read"), 302);
    assert_eq!(count(&report, "updated"), 1, "{report}");
    assert_eq!(count(&report, "closed"), 1);
    assert_eq!(count(&report, "unchanged"), 298);
    assert_eq!(count(&report, "rejected"), 2);
    assert!(
        report.contains("line 302: the URN \"12AB\" is not 6 or 7 digits"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "line 303: the URN 100019 is also on line {}",
            renamed + 1
        )),
        "{report}"
    );
    let school = stdout(&run(d, &["org", "show", "100019"], &env));
    assert!(school.starts_with("Oakhurst Church Primary School"));
    let closed = stdout(&run(d, &["org", "show", "100021"], &env));
    assert!(closed.contains("status       closed") && closed.contains("closed       2026-08-31"));
}

async fn a_dry_run_reports_without_saving(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let file = write(d, "extract.csv", FIXTURE);
    let output = run(d, &["import", "gias", &file, "--dry-run"], &env);
    assert!(output.status.success());
    let report = stdout(&output);
    assert!(report.contains("dry run: nothing was saved"));
    assert_eq!(count(&report, "created"), 300);
    assert_one_line_failure(
        &run(d, &["org", "show", "100000"], &env),
        2,
        "no organisation",
    );

    assert_one_line_failure(
        &run(d, &["import", "gias", "no-such-file.csv"], &env),
        2,
        "cannot read no-such-file.csv",
    );
    let people = write(d, "people.csv", b"name,email\nAna,ana@example.org\n");
    assert_one_line_failure(
        &run(d, &["import", "gias", &people], &env),
        2,
        "no \"URN\" column",
    );
    // A good header, then garbage with a stray quote that never closes: refused with the
    // line it starts on, after reading at most a few MiB, and nothing is kept.
    let mut garbage = include_bytes!("fixtures/gias_establishments.csv")[..]
        .split(|b| *b == b'\n')
        .take(3)
        .collect::<Vec<_>>()
        .join(&b'\n');
    garbage.extend_from_slice(b"\n\"");
    garbage.extend((0..16_000_000u32).map(|i| b"ZQ,\x01\xff"[(i % 5) as usize]));
    let garbage = write(d, "garbage.csv", &garbage);
    assert_one_line_failure(
        &run(d, &["import", "gias", &garbage], &env),
        2,
        "line 4: a row runs on for more than 4 MiB",
    );
    assert_one_line_failure(
        &run(d, &["org", "show", "100000"], &env),
        2,
        "no organisation",
    );
}

async fn organisations_are_added_and_corrected_by_hand(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let d = db.dir.path();
    let env = [("GATEHOUSE_DATABASE_URL", db.url.as_str())];
    let created = run(
        d,
        &[
            "org",
            "create",
            "--kind",
            "other",
            "--name",
            "  Riverside   Learning Trust ",
            "--ukprn",
            "10012345",
            "--town",
            "Ashford",
        ],
        &env,
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let shown = stdout(&created);
    assert!(
        shown.contains("Created Riverside Learning Trust"),
        "{shown}"
    );
    let id = shown
        .lines()
        .find(|l| l.trim_start().starts_with("id "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_owned();

    let school = [
        "org",
        "create",
        "--kind",
        "school",
        "--name",
        "New School",
        "--urn",
        "199999",
    ];
    assert!(run(d, &school, &env).status.success());
    assert_one_line_failure(&run(d, &school, &env), 2, "already exists");
    assert_one_line_failure(
        &run(
            d,
            &[
                "org", "create", "--kind", "school", "--name", "X", "--urn", "12",
            ],
            &env,
        ),
        2,
        "--urn: A URN is 6 or 7 digits",
    );
    assert_one_line_failure(
        &run(
            d,
            &["org", "create", "--kind", "school", "--name", "X"],
            &env,
        ),
        2,
        "--urn: Enter the school's URN",
    );
    assert_one_line_failure(
        &run(
            d,
            &["org", "create", "--kind", "academy", "--name", "X"],
            &env,
        ),
        2,
        "--kind",
    );

    let edited = run(
        d,
        &[
            "org",
            "edit",
            &id,
            "--name",
            "Riverside Trust",
            "--status",
            "closed",
        ],
        &env,
    );
    assert!(edited.status.success());
    let shown = stdout(&run(d, &["org", "show", &id], &env));
    assert!(shown.starts_with("Riverside Trust") && shown.contains("status       closed"));
    assert_one_line_failure(
        &run(d, &["org", "edit", &id, "--ukprn", "12"], &env),
        2,
        "--ukprn: A UKPRN is 8 digits",
    );
    assert_one_line_failure(
        &run(d, &["org", "edit", &id, "--status", "gone"], &env),
        2,
        "--status",
    );

    let store = db.store().await;
    assert!(store.verify_audit_chain().await.unwrap().is_ok());
}
