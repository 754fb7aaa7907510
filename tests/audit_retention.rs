//! Audit retention, on both engines: events past their category's limit are blanked with a
//! checkpoint and the chain still verifies; account changes are kept; a blank event no
//! checkpoint explains breaks the chain; the trail stays append-only otherwise; the
//! operator's `gatehouse audit prune` reports what it blanks. On PostgreSQL, where the
//! `gatehouse_app` role exists, that role can read and append to the trail and nothing more.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use chrono::Duration;
use common::cli::{run, stdout};
use common::oidc::PASSWORD;
use common::{Engine, FreshDb, TestApp};
use gatehouse::audit::Retention;
use gatehouse::clock::SharedClock;

both_engines!(old_sign_ins_are_blanked_and_the_chain_still_verifies);

const ANA: &str = "ana.lopez@oakhurst.example";

/// Runs `statement`, returning the database's error message if it refused.
async fn try_sql(db: &FreshDb, statement: &str) -> Result<(), String> {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    let result = match db.engine {
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::query(statement).execute(&pool).await.map(drop)
        }
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query(statement).execute(&pool).await.map(drop)
        }
    };
    result.map_err(|e| e.to_string())
}

async fn old_sign_ins_are_blanked_and_the_chain_still_verifies(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ana = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    assert_eq!(app.browser().sign_in(ANA, PASSWORD).await.status(), 303);
    assert_eq!(
        app.browser()
            .sign_in(ANA, "not her password")
            .await
            .status(),
        401
    );
    let before = app.audit_of(&ana).await;
    let signed_in = before
        .iter()
        .find(|e| e.action == "sign_in.succeeded")
        .unwrap()
        .seq;

    // The operator's dry run counts what its limits would blank (the test clock's events are
    // months old by the wall clock).
    let d = app.db.dir.path();
    let env = [
        ("GATEHOUSE_DATABASE_URL", app.db.url.as_str()),
        ("GATEHOUSE_AUDIT_KEEP_SIGN_INS_DAYS", "30"),
        ("GATEHOUSE_AUDIT_KEEP_MAIL_DAYS", "0"),
    ];
    let dry = run(d, &["audit", "prune", "--dry-run"], &env);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let said = stdout(&dry);
    assert!(
        said.contains("sign_ins: would blank 2 events before"),
        "{said}"
    );
    assert!(!said.contains("mail:"), "kept for ever: {said}");
    assert!(
        app.audit_of(&ana)
            .await
            .iter()
            .all(|e| e.pruned_at.is_none())
    );

    // A day later, with a one-day limit, the sign-ins are blanked in place.
    app.clock.advance(Duration::days(2));
    let clock: SharedClock = Arc::new(app.clock.clone());
    let limits = Retention {
        sign_ins_days: 1,
        mail_days: 0,
        staff_reads_days: 0,
    };
    let report = gatehouse::admin::prune_audit(&app.store, &clock, limits, false)
        .await
        .unwrap();
    assert_eq!(report[0].events, 2);
    let after = app
        .store
        .audit_for_user_before("pruned", i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 2, "blank events keep no actor");
    assert!(after.iter().all(|e| e.ip.is_none() && e.details.is_none()));
    assert!(
        after
            .iter()
            .any(|e| e.seq == signed_in && e.action == "sign_in.succeeded")
    );
    let kept = app.audit_of(&ana).await;
    assert!(
        kept.iter()
            .any(|e| e.action == "user.created" && e.pruned_at.is_none())
    );
    let checkpoint = app.store.audit_checkpoints().await.unwrap().pop().unwrap();
    assert!(
        checkpoint.contains("\"category\":\"sign_ins\""),
        "{checkpoint}"
    );
    let events = app.store.verify_audit_chain().await.unwrap().unwrap();
    assert!(events > signed_in, "{events} events verified");
    // Nothing left to blank: no second checkpoint.
    let again = gatehouse::admin::prune_audit(&app.store, &clock, limits, false)
        .await
        .unwrap();
    assert_eq!(again[0].events, 0);
    assert_eq!(app.store.audit_checkpoints().await.unwrap().len(), 1);

    // The trail is still append-only, except for blanking; and blanking what no checkpoint
    // covers breaks the chain there.
    let refused = try_sql(
        &app.db,
        "UPDATE audit_events SET details = '{}' WHERE seq = 1",
    )
    .await;
    assert!(refused.unwrap_err().contains("append-only"));
    let refused = try_sql(&app.db, "DELETE FROM audit_events WHERE seq = 1").await;
    assert!(refused.unwrap_err().contains("append-only"));
    try_sql(
        &app.db,
        "UPDATE audit_events SET actor = 'pruned', subject_user_id = NULL, details = NULL, \
         ip = NULL, user_agent = NULL, request_id = NULL, reason = NULL, client_id = NULL, \
         organisation_id = NULL, pruned_at = 1 WHERE action = 'user.created'",
    )
    .await
    .unwrap();
    let broken = app.store.verify_audit_chain().await.unwrap().unwrap_err();
    assert_eq!(broken.reason, "blanked without a retention checkpoint");
}

both_engines!(the_application_role_only_reads_and_appends_the_trail);

async fn the_application_role_only_reads_and_appends_the_trail(engine: Engine) {
    if engine == Engine::Sqlite {
        return; // SQLite has no roles; the file's owner is the application.
    }
    let db = FreshDb::new(engine).await;
    let owner = db.store().await;
    owner.close().await;
    let owner_pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_app')")
            .fetch_one(&owner_pool)
            .await
            .unwrap();
    if !exists {
        eprintln!("no gatehouse_app role here; .ci/run creates it");
        return;
    }
    // The schema was migrated by its owner; the server connects as gatehouse_app.
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username("gatehouse_app").unwrap();
    let app_url = url.to_string();
    let app_pool = sqlx::PgPool::connect(&app_url).await.unwrap();
    let store = gatehouse::store::Store::connect(
        &secrecy::SecretString::from(app_url.clone()),
        "app role",
        2,
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let event = gatehouse::audit::AuditEvent::new(gatehouse::audit::Action::UserCreated).by_cli();
    store
        .append_audit(&mut tx, &event, common::test_epoch())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.verify_audit_chain().await.unwrap().unwrap(), 1);
    for statement in [
        "UPDATE audit_events SET actor = 'pruned', details = NULL, pruned_at = 1",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let refused = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&app_pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("permission denied"),
            "{statement}: {refused}"
        );
    }
    // Everything else the server does still works as that role.
    sqlx::query("UPDATE audit_head SET hash = hash")
        .execute(&app_pool)
        .await
        .unwrap();
}
