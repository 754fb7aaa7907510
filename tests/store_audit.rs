//! The audit trail's contract on both engines: events chain in commit order even under
//! concurrent writers, the trail refuses edits, and `verify` finds any tampering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::{Engine, FreshDb, test_epoch};
use gatehouse::audit::{Action, AuditEvent, RequestContext};
use gatehouse::domain::UserId;
use gatehouse::store::{ChainBreak, Store};
use sqlx::AssertSqlSafe;

both_engines!(
    appended_events_verify_and_list_for_actor_or_subject,
    concurrent_appends_form_one_unbroken_chain,
    the_database_refuses_to_edit_or_delete_events,
    verify_names_the_first_tampered_event,
    verify_notices_events_cut_from_the_end,
);

async fn append(store: &Store, event: AuditEvent, minutes: i64) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let seq = store
        .append_audit(&mut tx, &event, test_epoch() + Duration::minutes(minutes))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    seq
}

/// Runs SQL behind the store's back, as someone with database access could.
async fn raw(db: &FreshDb, sql: &str) -> Result<u64, sqlx::Error> {
    match db.engine {
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await?;
            let r = sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(&pool)
                .await;
            pool.close().await;
            r.map(|r| r.rows_affected())
        }
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await?;
            let r = sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(&pool)
                .await;
            pool.close().await;
            r.map(|r| r.rows_affected())
        }
    }
}

async fn appended_events_verify_and_list_for_actor_or_subject(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    assert_eq!(
        store.verify_audit_chain().await.unwrap(),
        Ok(0),
        "an empty trail is intact"
    );

    let helpdesk = UserId::generate();
    let teacher = UserId::generate();
    let context = RequestContext::new(Some("192.0.2.10"), Some("Firefox\nforged"), Some("req-1"));
    let first = append(
        &store,
        AuditEvent::new(Action::UserCreated)
            .subject(&teacher)
            .context(context),
        0,
    )
    .await;
    let second = append(
        &store,
        AuditEvent::new(Action::UserStatusChanged)
            .actor(&helpdesk)
            .subject(&teacher)
            .diff(
                serde_json::json!({"status": "active"}),
                serde_json::json!({"status": "locked"}),
            ),
        5,
    )
    .await;
    let third = append(
        &store,
        AuditEvent::new(Action::UserCreated)
            .actor(&helpdesk)
            .failed("wrong_password"),
        9,
    )
    .await;
    let fourth = append(
        &store,
        AuditEvent::new(Action::UserStatusChanged)
            .by_cli()
            .subject(&teacher),
        12,
    )
    .await;
    assert_eq!((first, second, third, fourth), (1, 2, 3, 4));
    assert_eq!(store.verify_audit_chain().await.unwrap(), Ok(4));

    let teacher_trail = store.audit_for_user(&teacher, 10).await.unwrap();
    assert_eq!(
        teacher_trail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 2, 1],
        "newest first"
    );
    assert_eq!(teacher_trail[0].actor, "cli");
    assert_eq!(teacher_trail[1].actor, helpdesk.as_str());
    let teacher_trail = &teacher_trail[1..];
    assert_eq!(teacher_trail[1].action, "user.created");
    assert_eq!(
        teacher_trail[1].user_agent.as_deref(),
        Some("Firefoxforged")
    );
    assert_eq!(teacher_trail[1].ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(
        teacher_trail[0].occurred_at,
        (test_epoch() + Duration::minutes(5)).timestamp_millis()
    );
    let diff: serde_json::Value =
        serde_json::from_str(teacher_trail[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(diff["after"]["status"], "locked");

    let helpdesk_trail = store.audit_for_user(&helpdesk, 10).await.unwrap();
    assert_eq!(
        helpdesk_trail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 2]
    );
    assert_eq!(helpdesk_trail[0].outcome, "failure");
    assert_eq!(helpdesk_trail[0].reason.as_deref(), Some("wrong_password"));
    assert_eq!(
        helpdesk_trail[1].prev_hash, teacher_trail[1].hash,
        "chained to event 1"
    );
}

async fn concurrent_appends_form_one_unbroken_chain(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    let writers: Vec<_> = (0..24)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let event = AuditEvent::new(Action::UserCreated).subject(&UserId::generate());
                append(&store, event, i).await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for writer in writers {
        seqs.push(writer.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=24).collect::<Vec<i64>>(),
        "every writer got its own place"
    );
    assert_eq!(store.verify_audit_chain().await.unwrap(), Ok(24));
}

async fn the_database_refuses_to_edit_or_delete_events(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    append(&store, AuditEvent::new(Action::UserCreated), 0).await;
    let update = raw(
        &db,
        "UPDATE audit_events SET outcome = 'failure' WHERE seq = 1",
    )
    .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = raw(&db, "DELETE FROM audit_events WHERE seq = 1").await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(store.verify_audit_chain().await.unwrap(), Ok(1));
}

/// Drops the append-only triggers, as an intruder with database access could.
async fn disarm(db: &FreshDb) {
    match db.engine {
        Engine::Sqlite => {
            raw(db, "DROP TRIGGER audit_events_no_update")
                .await
                .unwrap();
            raw(db, "DROP TRIGGER audit_events_no_delete")
                .await
                .unwrap();
        }
        Engine::Postgres => {
            raw(db, "DROP TRIGGER audit_events_no_update ON audit_events")
                .await
                .unwrap();
        }
    }
}

async fn verify_names_the_first_tampered_event(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    for i in 0..5 {
        append(
            &store,
            AuditEvent::new(Action::UserCreated).failed("wrong_password"),
            i,
        )
        .await;
    }
    disarm(&db).await;
    let changed = raw(
        &db,
        "UPDATE audit_events SET outcome = 'success' WHERE seq = 3",
    )
    .await;
    assert_eq!(changed.unwrap(), 1);
    assert_eq!(
        store.verify_audit_chain().await.unwrap(),
        Err(ChainBreak {
            seq: 3,
            reason: "contents changed after it was written"
        })
    );
}

async fn verify_notices_events_cut_from_the_end(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    for i in 0..4 {
        append(&store, AuditEvent::new(Action::UserCreated), i).await;
    }
    disarm(&db).await;
    raw(&db, "DELETE FROM audit_events WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit_chain().await.unwrap(),
        Err(ChainBreak {
            seq: 2,
            reason: "event missing"
        })
    );
    raw(&db, "DELETE FROM audit_events WHERE seq > 1")
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit_chain().await.unwrap(),
        Err(ChainBreak {
            seq: 2,
            reason: "events missing from the end of the trail"
        })
    );
}
