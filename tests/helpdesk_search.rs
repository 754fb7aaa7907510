//! Finding an account from the console, on both engines: by the start of an email address
//! or a name, by organisation (URN, UKPRN, LA code or name), with filters, a page at a time
//! and as CSV with formula-safe cells; terms are never wildcards; each search and export is
//! audited; only helpdesk staff and admins may search.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use common::oidc::PASSWORD;
use common::{Browser, Engine, TestApp};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::Level;
use gatehouse::domain::UserId;
use gatehouse::staff::{Staff, StaffRole};

both_engines!(
    staff_find_accounts_by_email_name_and_organisation,
    a_common_first_name_lists_the_same_page_however_it_is_found
);

const ANA: &str = "ana.lopez@oakhurst.example";
const ANA_BELL: &str = "ana.bell@longridge.example";
const BEN: &str = "ben.osei@longridge.example";
const HANA: &str = "hana.ito@helpdesk.example";

async fn page(me: &Browser, query: &str) -> (u16, String) {
    let answer = me.get(&format!("/manage/accounts?{query}")).await;
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The email addresses listed in the results, in order.
fn listed(html: &str) -> Vec<String> {
    let Some(results) = html.split("<tbody>").nth(1) else {
        return Vec::new();
    };
    results
        .split("<tr><td>")
        .skip(1)
        .filter_map(|row| row.split("</td><td>").nth(1).map(str::to_owned))
        .collect()
}

async fn staff_find_accounts_by_email_name_and_organisation(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let directory = app.directory_with_schools().await;
    app.organisation_service(
        &directory,
        "census",
        "openid organisation",
        &[("submitter", "Submits")],
    )
    .await;
    let ctx = RequestContext::default();
    let mut users = Vec::new();
    for (email, given, family, school) in [
        (ANA, "Ana", "Lopez", "100019"),
        (ANA_BELL, "Ana", "Bell", "100021"),
        (BEN, "Ben", "Osei", "100021"),
    ] {
        let id = app.create_named_user(email, given, family, PASSWORD).await;
        let user = app.store.user_by_id(&id).await.unwrap().unwrap();
        directory
            .add_member(&user, school, Level::Member, Actor::Cli, &ctx)
            .await
            .unwrap();
        users.push(user);
    }
    directory
        .grant_access(&users[0], "100019", "census", &[], Actor::Cli, &ctx)
        .await
        .unwrap();
    app.sql(
        "UPDATE users SET status = 'locked' WHERE email_normalised = 'ben.osei@longridge.example'",
    )
    .await;
    // A name a spreadsheet would run as a formula, and many people who share a name.
    app.create_named_user("eve@oakhurst.example", "Eve", "=HYPERLINK(1)", PASSWORD)
        .await;
    let rows: Vec<String> = (0..55)
        .map(|i| {
            format!(
                "('pager{i:02}', 'p{i:02}@pager.example', 'p{i:02}@pager.example', 'Pat', \
                 'Pager', 'invited', 0, 0)"
            )
        })
        .collect();
    app.sql(&format!(
        "INSERT INTO users (id, email, email_normalised, given_name, family_name, status, \
         created_at, updated_at) VALUES {}",
        rows.join(", ")
    ))
    .await;

    let staff = Staff::new(app.store.clone(), Arc::new(app.clock.clone()));
    let hana_id = app.create_named_user(HANA, "Hana", "Ito", PASSWORD).await;
    let hana = app.verified_browser(HANA, PASSWORD).await;
    let nobody = app.verified_browser(ANA, PASSWORD).await;
    let hana_row = app.store.user_by_id(&hana_id).await.unwrap().unwrap();
    staff
        .grant(&hana_row, StaffRole::Helpdesk, Actor::Cli, &ctx)
        .await
        .unwrap();

    // Only staff who help accounts may search; the console's start page shows them only
    // what their role opens.
    assert_eq!(page(&nobody, "q=ana").await.0, 403);
    assert_eq!(nobody.get("/manage").await.status(), 403);
    let home = hana.get("/manage").await.text().await.unwrap();
    assert!(home.contains("/manage/accounts") && home.contains("/manage/requests"));
    assert!(!home.contains("/manage/services") && !home.contains("/manage/audit"));
    let (status, html) = page(&hana, "").await;
    assert_eq!(status, 200);
    assert!(html.contains("Find an account"));
    assert!(!html.contains("Results"), "no search until asked");

    // By the start of a name, either name first, and of an email address (any case).
    assert_eq!(listed(&page(&hana, "q=ana").await.1), [ANA_BELL, ANA]);
    assert_eq!(listed(&page(&hana, "q=ana+lop").await.1), [ANA]);
    assert_eq!(listed(&page(&hana, "q=LOPEZ+ana").await.1), [ANA]);
    assert_eq!(listed(&page(&hana, "q=Ana.Lopez%40").await.1), [ANA]);
    assert_eq!(
        listed(&page(&hana, "q=ana&sort=email").await.1),
        [ANA_BELL, ANA]
    );
    // Wildcards are only characters.
    assert!(listed(&page(&hana, "q=%25").await.1).is_empty());
    assert!(listed(&page(&hana, "q=_na").await.1).is_empty());
    assert!(listed(&page(&hana, "q=%25%40").await.1).is_empty());

    // By organisation: URN, UKPRN, LA code or the start of the name.
    assert_eq!(listed(&page(&hana, "organisation=100019").await.1), [ANA]);
    assert_eq!(listed(&page(&hana, "organisation=17625619").await.1), [ANA]);
    let (_, html) = page(&hana, "organisation=oakhurst+cofe").await;
    assert_eq!(listed(&html), [ANA]);
    assert!(html.contains("Oakhurst CofE Primary School"));
    let (_, html) = page(&hana, "organisation=800").await;
    assert_eq!(
        listed(&html),
        Vec::<String>::new(),
        "members of the LA itself only"
    );
    assert!(html.contains("Ashford Council"));
    let (_, html) = page(&hana, "organisation=No+such+school").await;
    assert!(html.contains("No organisation matches"));

    // Filters.
    assert_eq!(listed(&page(&hana, "status=locked").await.1), [BEN]);
    assert_eq!(listed(&page(&hana, "service=census").await.1), [ANA]);
    assert_eq!(
        listed(&page(&hana, "q=ana&kind=school&status=active").await.1),
        [ANA_BELL, ANA]
    );
    assert_eq!(listed(&page(&hana, "mfa=yes").await.1), [HANA, ANA]);
    assert_eq!(listed(&page(&hana, "q=ana&mfa=no").await.1), [ANA_BELL]);
    let (status, html) = page(&hana, "status=root").await;
    assert_eq!(status, 422);
    assert!(html.contains("Select a status from the list"));

    // A page at a time.
    let (_, html) = page(&hana, "q=pager").await;
    assert_eq!(listed(&html).len(), 50);
    assert!(html.contains("rel=\"next\""));
    let (status, html) = page(&hana, "q=pager&page=9223372036854775807").await;
    assert_eq!(status, 200, "an absurd page is just an empty one");
    assert!(listed(&html).is_empty());
    let (_, html) = page(&hana, "q=pager&page=2").await;
    assert_eq!(listed(&html).len(), 5);
    assert!(html.contains("rel=\"prev\"") && !html.contains("rel=\"next\""));

    // As CSV: every match, cells that would run as formulas neutralised.
    let csv = hana.get("/manage/accounts.csv?q=pager").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(csv.text().await.unwrap().lines().count(), 56);
    let csv = hana
        .get("/manage/accounts.csv?q=eve")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains(",'=HYPERLINK(1),"), "{csv}");
    assert_eq!(nobody.get("/manage/accounts.csv?q=eve").await.status(), 403);

    // Each search and export is in the trail under the member of staff.
    let trail = app
        .audit_of(&UserId::from_stored(hana_id.to_string()))
        .await;
    let searches: Vec<_> = trail
        .iter()
        .filter(|e| e.action == "staff.accounts_searched")
        .collect();
    assert!(searches.len() >= 20, "{}", searches.len());
    assert!(searches.iter().all(|e| e.actor == hana_id.as_str()));
    assert!(searches.iter().any(|e| {
        e.details
            .as_deref()
            .unwrap()
            .contains("\"text\":\"ana lop\"")
    }));
    let exports = trail
        .iter()
        .filter(|e| e.action == "staff.accounts_exported")
        .count();
    assert_eq!(exports, 2);
}

/// On SQLite a first name shared by 10,000 or more accounts is found by walking the name
/// index instead of sorting the matches; the page must be the same as a sort would give.
async fn a_common_first_name_lists_the_same_page_however_it_is_found(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ctx = RequestContext::default();
    // 12,000 people called Lena (every seventh with an authenticator app), and 50 Lenards.
    let rows = |from: usize, to: usize, given: &str| -> String {
        (from..to)
            .map(|i| {
                format!(
                    "('l{i:05}', 'l{i:05}@many.example', 'l{i:05}@many.example', '{given}', \
                     'Fam{:04}', 'active', 0, 0)",
                    (i * 7919) % 10_000
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (from, to) in [(0, 4_000), (4_000, 8_000), (8_000, 12_000)] {
        app.sql(&format!(
            "INSERT INTO users (id, email, email_normalised, given_name, family_name, status, \
             created_at, updated_at) VALUES {}",
            rows(from, to, "Lena")
        ))
        .await;
    }
    app.sql(&format!(
        "INSERT INTO users (id, email, email_normalised, given_name, family_name, status, \
         created_at, updated_at) VALUES {}",
        rows(12_000, 12_050, "Lenard")
    ))
    .await;
    app.sql(
        "INSERT INTO totp_factors (id, user_id, name, secret_sealed, created_at, confirmed_at) \
         SELECT 't' || id, id, 'Phone', 'v1.test', 0, 0 FROM users \
         WHERE id LIKE 'l%' AND CAST(substr(id, 2) AS INTEGER) % 7 = 0",
    )
    .await;
    let staff = Staff::new(app.store.clone(), Arc::new(app.clock.clone()));
    let hana_id = app.create_named_user(HANA, "Hana", "Ito", PASSWORD).await;
    let hana = app.verified_browser(HANA, PASSWORD).await;
    let row = app.store.user_by_id(&hana_id).await.unwrap().unwrap();
    staff
        .grant(&row, StaffRole::Helpdesk, Actor::Cli, &ctx)
        .await
        .unwrap();

    // What a plain sort of every match gives, computed here.
    let mut expected: Vec<(String, String)> = (0..12_050)
        .filter(|i| i % 7 == 0)
        .map(|i| {
            (
                format!("Fam{:04}", (i * 7919) % 10_000),
                format!("l{i:05}@many.example"),
            )
        })
        .collect();
    expected.sort_by(|a, b| (a.0.as_str(), &a.1[..6]).cmp(&(b.0.as_str(), &b.1[..6])));
    let want: Vec<String> = expected
        .into_iter()
        .take(50)
        .map(|(_, email)| email)
        .collect();
    let (status, html) = page(&hana, "q=LEN&mfa=yes").await;
    assert_eq!(status, 200);
    assert_eq!(listed(&html), want);
    assert!(html.contains("rel=\"next\""));
}
