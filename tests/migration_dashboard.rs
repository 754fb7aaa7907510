//! The migration dashboard as helpdesk staff see it, on both engines: per local authority
//! and per service, contacts brought over from Authentix, invited, activated, using 2-step
//! verification and not activated after N days, and the share of each service's
//! organisations ready to switch off the shared password — on the page and as CSV, to staff
//! only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use common::oidc::PASSWORD;
use common::{ClockExt, Engine, TestApp};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::domain::Email;
use gatehouse::staff::{Staff, StaffRole};

both_engines!(the_dashboard_shows_how_far_each_authority_and_service_has_moved);

const EXPORT: &str =
    "authentix_account,urn,la_code,contact_name,contact_email,job_title,services,last_used
AX100000,100000,,Ana Lopez,ana@brampton.example,Head,sdt,2020-01-01
AX100000,100000,,Ben Osei,ben@brampton.example,Bursar,sdt;edubase,2020-01-01
AX100021,100021,,Cara Lund,cara@ashford.example,Head,sdt,2020-01-01
";

async fn id_of(app: &TestApp, email: &str) -> String {
    app.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The cells of the CSV line that starts with `start`.
fn csv_line<'a>(csv: &'a str, start: &str) -> Vec<&'a str> {
    csv.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line {start} in {csv}"))
        .split(',')
        .collect()
}

async fn the_dashboard_shows_how_far_each_authority_and_service_has_moved(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let directory = app.directory_with_schools().await;
    for id in ["sdt", "edubase"] {
        app.organisation_service(&directory, id, "openid profile email organisation", &[])
            .await;
    }
    let ctx = RequestContext::default();
    directory
        .import_authentix(
            std::io::Cursor::new(EXPORT),
            &HashMap::new(),
            false,
            Actor::Cli,
            &ctx,
        )
        .await
        .unwrap();
    // Ana and Cara were invited 15 days ago; Ana has since set up her account.
    let invited_at = (app.clock.now_for_tests() - Duration::days(15)).timestamp_millis();
    for email in ["ana@brampton.example", "cara@ashford.example"] {
        let id = id_of(&app, email).await;
        app.store
            .mark_migration_invited(&id, invited_at, false)
            .await
            .unwrap();
    }
    let ana = id_of(&app, "ana@brampton.example").await;
    app.sql(&format!(
        "UPDATE users SET status = 'active' WHERE id = '{ana}'"
    ))
    .await;
    // Ana has an authenticator app; an app still waiting for its first code does not count.
    app.sql(&format!(
        "INSERT INTO totp_factors (id, user_id, name, secret_sealed, created_at, confirmed_at) \
         VALUES ('t1', '{ana}', 'Phone', 'v1.x', 1, 1), ('t2', '{ana}', 'Old', 'v1.x', 1, NULL)"
    ))
    .await;
    let ben = id_of(&app, "ben@brampton.example").await;
    app.sql(&format!(
        "INSERT INTO totp_factors (id, user_id, name, secret_sealed, created_at) \
         VALUES ('t3', '{ben}', 'Phone', 'v1.x', 1)"
    ))
    .await;

    // Staff only, with 2-step verification.
    let hana_id = app.create_user("hana@helpdesk.example", PASSWORD).await;
    let hana = app
        .verified_browser("hana@helpdesk.example", PASSWORD)
        .await;
    assert_eq!(hana.get("/manage/migration").await.status(), 403);
    assert_eq!(hana.get("/manage/migration.csv").await.status(), 403);
    let staff = Staff::new(app.store.clone(), Arc::new(app.clock.clone()));
    let hana_row = app.store.user_by_id(&hana_id).await.unwrap().unwrap();
    staff
        .grant(&hana_row, StaffRole::Helpdesk, Actor::Cli, &ctx)
        .await
        .unwrap();

    // The figures come from the last count; staff count again to see the import.
    let page = hana.get("/manage/migration").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let token = common::csrf_in(&html);
    let forged = hana
        .post(
            "/manage/migration/count",
            &[("csrf_token", "x"), ("days", "14")],
        )
        .await;
    assert_eq!(
        forged.status(),
        403,
        "the count button needs its CSRF token"
    );
    let counted = hana
        .post(
            "/manage/migration/count",
            &[("csrf_token", &token), ("days", "14")],
        )
        .await;
    assert_eq!(counted.status(), 303);
    assert_eq!(
        counted.headers()["location"],
        "/manage/migration?days=14&notice=counted"
    );
    let html = hana
        .get("/manage/migration?days=14&notice=counted")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("The figures were counted again just now."));
    assert!(
        html.contains("Counted at "),
        "the page says when it counted"
    );
    assert!(html.contains("Brampton Council (801)") && html.contains("Ashford Council (800)"));
    assert!(
        html.contains("1 of 2 (50%)"),
        "sdt: one of its two schools is ready"
    );

    let csv = hana.get("/manage/migration.csv?days=14").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    // imported, invited, activated, with 2-step verification, not activated after 14 days,
    // organisations, ready, percent (then when they were counted).
    assert_eq!(
        csv_line(&csv, "local_authority,801,")[3..11],
        ["2", "1", "1", "1", "0", "1", "1", "100"]
    );
    assert_eq!(
        csv_line(&csv, "local_authority,800,")[3..11],
        ["1", "1", "0", "0", "1", "1", "0", "0"]
    );
    assert_eq!(
        csv_line(&csv, "service,sdt,")[3..11],
        ["3", "2", "1", "1", "1", "2", "1", "50"]
    );
    assert_eq!(
        csv_line(&csv, "service,edubase,")[3..11],
        ["1", "0", "0", "0", "0", "1", "0", "0"]
    );
    // Counted as not activated only after the chosen number of days.
    let later = hana
        .get("/manage/migration.csv?days=30")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv_line(&later, "local_authority,800,")[7], "0");

    // While another node is counting, the button says so instead of counting twice.
    let now = app.clock.now_for_tests().timestamp_millis();
    assert!(
        app.store
            .take_migration_count(now, now + 60_000)
            .await
            .unwrap()
    );
    let token = hana.csrf("/manage/migration").await;
    let busy = hana
        .post(
            "/manage/migration/count",
            &[("csrf_token", &token), ("days", "30")],
        )
        .await;
    assert_eq!(
        busy.headers()["location"],
        "/manage/migration?days=30&notice=busy"
    );
    app.store.release_migration_count().await.unwrap();

    // Cara sets up her account: the saved figures do not change until the next count, which
    // the server makes by itself once `migration_count_seconds` (600) have passed.
    let cara = id_of(&app, "cara@ashford.example").await;
    app.sql(&format!(
        "UPDATE users SET status = 'active' WHERE id = '{cara}'"
    ))
    .await;
    let activated_in_800 = || async {
        let csv = hana
            .get("/manage/migration.csv?days=14")
            .await
            .text()
            .await
            .unwrap();
        csv_line(&csv, "local_authority,800,")[5].to_owned()
    };
    assert_eq!(activated_in_800().await, "0", "still the last count");
    app.clock.advance(Duration::seconds(601));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while activated_in_800().await != "1" {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not count again within 20 s of the figures falling due"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
