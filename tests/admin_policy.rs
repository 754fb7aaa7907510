//! Administrators change the policy settings in the console, on both engines: values outside
//! the safe range are refused beside the field and nothing is saved; a saved change is
//! audited with before and after and people notice it at once (a shorter reset link, a longer
//! shortest password, an earlier lock). Helpdesk staff cannot open the page. The operator's
//! daily `gatehouse user deactivate-unused` switches off accounts unused for longer than the
//! policy allows, ending their sessions and telling them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::common;

use common::cli::run;
use common::keys::{ISSUER, admin_browser};
use common::oidc::PASSWORD;
use common::smtp::SmtpSink;
use common::{Browser, Engine, TestApp, location};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::staff::{Staff, StaffRole};

both_engines!(
    administrators_change_the_policy_and_people_notice,
    unused_accounts_are_deactivated_by_the_daily_command
);

const ADA: &str = "ada.admin@dfe.example";
const ANA: &str = "ana.lopez@oakhurst.example";

async fn save(me: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = me.csrf("/manage/policy").await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    me.post("/manage/policy", &form).await
}

async fn administrators_change_the_policy_and_people_notice(engine: Engine) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(engine, &format!("{ISSUER}\n{}", sink.toml())).await;
    let ada = admin_browser(&app, ADA, PASSWORD).await;
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;

    // The page shows the defaults, each with its range.
    let page = ada.get("/manage/policy").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"password_min_length\"") && html.contains("value=\"15\""));
    assert!(html.contains("From 10 to 100. The default is 100."));

    // Weaker than the floor, or not a number: refused beside the field, nothing saved (the
    // valid value beside it included), no audit event.
    let refused = save(
        &ada,
        &[
            ("password_min_length", "8"),
            ("lock_after_failures", "lots"),
            ("reset_link_minutes", "10"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"password_min_length-error\""));
    assert!(html.contains("id=\"lock_after_failures-error\""));
    assert!(html.contains("Enter a whole number from 15 to 64"));
    assert!(app.store.policy_settings().await.unwrap().is_empty());

    // Saved: audited once with before and after, unknown and mass-assigned fields ignored.
    let saved = save(
        &ada,
        &[
            ("password_min_length", "20"),
            ("lock_after_failures", "10"),
            ("reset_link_minutes", "10"),
            ("invitation_days", "14"),
            ("role", "admin"),
        ],
    )
    .await;
    assert_eq!(location(&saved), "/manage/policy?notice=saved");
    let trail = app.store.audit_since(0, 0, 10_000).await.unwrap();
    let changed: Vec<_> = trail
        .iter()
        .filter(|e| e.action == "policy.changed")
        .collect();
    assert_eq!(changed.len(), 1);
    let details: serde_json::Value =
        serde_json::from_str(changed[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(details["before"]["password_min_length"], 15);
    assert_eq!(details["after"]["password_min_length"], 20);
    assert_eq!(details["after"]["lock_after_failures"], 10);
    assert!(
        details["after"].get("invitation_days").is_none(),
        "unchanged settings are not listed"
    );
    let again = save(&ada, &[("password_min_length", "20")]).await;
    assert_eq!(location(&again), "/manage/policy?notice=unchanged");

    // Ana asks for a reset: the link now lasts 10 minutes, and a 16-character password is
    // too short.
    let ana = app.browser();
    assert_eq!(ana.request_reset(ANA).await.status(), 200);
    let mail = &sink.wait_for(ANA, 1).await[0];
    assert!(
        mail.text().contains("expires in 10 minutes"),
        "{}",
        mail.text()
    );
    let base = format!("http://localhost:{}", app.addr.port());
    let link = mail.link(&base, "/reset-password/").unwrap();
    let token = ana.open_link(&link, "/reset-password").await;
    let short = ana
        .save_password(
            "/reset-password",
            &token,
            "kettle orbit sax",
            "kettle orbit sax",
        )
        .await;
    assert_eq!(short.status(), 422);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("Password must be 20 characters or more")
    );

    // Ten failed sign-ins in a row now lock her account.
    let guesser = app.browser();
    for _ in 0..10 {
        guesser.sign_in(ANA, "not her password at all").await;
    }
    let row = app.store.user_by_id(&ana_id).await.unwrap().unwrap();
    assert_eq!(row.status, "locked");
    assert_eq!(row.failed_sign_ins, 10);
    let locks = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .filter(|e| e.action == "account.locked")
        .count();
    assert_eq!(locks, 1);

    // Helpdesk staff are not administrators.
    let hana_id = app
        .create_named_user("hana.ito@helpdesk.example", "Hana", "Ito", PASSWORD)
        .await;
    let hana = app
        .verified_browser("hana.ito@helpdesk.example", PASSWORD)
        .await;
    let hana_row = app.store.user_by_id(&hana_id).await.unwrap().unwrap();
    Staff::new(app.store.clone(), Arc::new(app.clock.clone()))
        .grant(
            &hana_row,
            StaffRole::Helpdesk,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(hana.get("/manage/policy").await.status(), 403);
    let token = hana.csrf("/account").await;
    let posted = hana
        .post(
            "/manage/policy",
            &[
                ("csrf_token", token.as_str()),
                ("lock_after_failures", "100"),
            ],
        )
        .await;
    assert_eq!(posted.status(), 403);
    assert_eq!(
        app.store.policy_settings().await.unwrap().len(),
        3,
        "the helpdesk changed nothing"
    );
}

async fn unused_accounts_are_deactivated_by_the_daily_command(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    let ben_id = app
        .create_named_user("ben.osei@oakhurst.example", "Ben", "Osei", PASSWORD)
        .await;
    let ana = app.browser();
    assert_eq!(ana.sign_in(ANA, PASSWORD).await.status(), 303);
    // Ana last signed in long ago (the command reads the wall clock); Ben signs in after it
    // runs, as far as it can tell.
    app.sql(&format!(
        "UPDATE users SET last_sign_in_at = 1000, activated_at = 1000, created_at = 1000 \
         WHERE id = '{ana_id}'"
    ))
    .await;
    app.sql(&format!(
        "UPDATE users SET last_sign_in_at = 4102444800000 WHERE id = '{ben_id}'"
    ))
    .await;

    let d = app.db.dir.path();
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", "gatehouse.toml", "user", "deactivate-unused"];
        all.extend_from_slice(args);
        run(d, &all, &[])
    };
    let dry = cli(&["--dry-run"]);
    assert!(dry.status.success());
    assert_eq!(
        String::from_utf8_lossy(&dry.stdout).trim(),
        "1 accounts not used for more than 730 days would be deactivated"
    );
    let store = &app.store;
    let status = |id: gatehouse::domain::UserId| async move {
        store.user_by_id(&id).await.unwrap().unwrap().status
    };
    assert_eq!(
        status(ana_id.clone()).await,
        "active",
        "a dry run changes nothing"
    );

    let done = cli(&[]);
    assert!(done.status.success());
    assert_eq!(
        String::from_utf8_lossy(&done.stdout).trim(),
        "1 accounts not used for more than 730 days deactivated"
    );
    assert_eq!(status(ana_id.clone()).await, "deactivated");
    assert_eq!(status(ben_id.clone()).await, "active");
    let account = ana.get("/account").await;
    assert_eq!(account.status(), 303, "her session ended");
    let event = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .find(|e| e.action == "user.status_changed")
        .unwrap();
    assert_eq!(
        (event.actor.as_str(), event.reason.as_deref()),
        ("cli", Some("unused"))
    );
    sink.wait_for(ANA, 1).await;
    assert!(
        sink.messages_to(ANA)[0]
            .text()
            .contains("nobody had signed in to it for a long time")
    );

    // Run again: nothing left to do.
    let again = cli(&[]);
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("0 accounts"));
}
