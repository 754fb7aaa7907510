//! Checking the audit trail from the console, on both engines: auditors and admins (with
//! 2-step verification) see the chain intact, and see where it breaks once someone with
//! database access rewrites an event; helpdesk staff and everyone else are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use common::oidc::PASSWORD;
use common::{Engine, TestApp};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::staff::{Staff, StaffRole};

both_engines!(auditors_see_whether_the_chain_holds);

async fn auditors_see_whether_the_chain_holds(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let staff = Staff::new(app.store.clone(), Arc::new(app.clock.clone()));
    let ctx = RequestContext::default();
    let mut browsers = Vec::new();
    for (email, role) in [
        ("ida@audit.example", StaffRole::Auditor),
        ("hal@helpdesk.example", StaffRole::Helpdesk),
    ] {
        let id = app.create_user(email, PASSWORD).await;
        let browser = app.verified_browser(email, PASSWORD).await;
        let user = app.store.user_by_id(&id).await.unwrap().unwrap();
        staff.grant(&user, role, Actor::Cli, &ctx).await.unwrap();
        browsers.push(browser);
    }
    let (auditor, helpdesk) = (&browsers[0], &browsers[1]);
    assert_eq!(helpdesk.get("/manage/audit").await.status(), 403);
    let page = auditor.get("/manage/audit").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("The audit trail is intact:"), "{html}");
    assert!(
        auditor
            .get("/account")
            .await
            .text()
            .await
            .unwrap()
            .contains("Check the audit trail")
    );

    // Someone with database access rewrites an event: the page says where the chain breaks.
    match engine {
        Engine::Sqlite => app.sql("DROP TRIGGER audit_events_no_update").await,
        Engine::Postgres => {
            app.sql("DROP TRIGGER audit_events_no_update ON audit_events")
                .await;
        }
    }
    app.sql("UPDATE audit_events SET details = '{}' WHERE seq = 2")
        .await;
    let html = auditor.get("/manage/audit").await.text().await.unwrap();
    assert!(html.contains("The audit trail is broken"), "{html}");
    assert!(html.contains("event 2: contents changed after it was written"));
}
