//! The user store's contract, on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::{Engine, FreshDb, test_epoch};
use gatehouse::domain::{Email, UserStatus};
use gatehouse::store::{NewUser, StoreError};

both_engines!(
    created_users_are_found_by_email_in_any_case,
    a_second_account_with_the_same_email_in_another_case_is_refused,
    status_changes_keep_the_reason_only_for_deactivation,
    a_rolled_back_transaction_leaves_nothing_behind,
);

fn new_user(email: &str, status: UserStatus) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        given_name: "Siobhán".to_owned(),
        family_name: "Quinn".to_owned(),
        job_title: Some("Data manager".to_owned()),
        status,
    }
}

async fn created_users_are_found_by_email_in_any_case(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    let id = store
        .insert_user(
            &mut tx,
            &new_user(
                "Siobhan.Quinn@School100011.example.org",
                UserStatus::Invited,
            ),
            test_epoch(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let found = store
        .user_by_email(&Email::parse("SIOBHAN.QUINN@school100011.EXAMPLE.ORG").unwrap())
        .await
        .unwrap()
        .expect("found regardless of case");
    assert_eq!(found.user_id(), id);
    assert_eq!(
        found.email, "Siobhan.Quinn@School100011.example.org",
        "kept as typed"
    );
    assert_eq!(found.given_name, "Siobhán");
    assert_eq!(found.status().unwrap(), UserStatus::Invited);
    assert_eq!(found.created_at, test_epoch().timestamp_millis());
    assert_eq!(found.activated_at, None);
    assert!(found.password_hash.is_none());

    let by_id = store.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(
        by_id.email_normalised,
        "siobhan.quinn@school100011.example.org"
    );
    assert!(
        store
            .user_by_email(&Email::parse("nobody@example.org").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_second_account_with_the_same_email_in_another_case_is_refused(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    store
        .insert_user(
            &mut tx,
            &new_user("rhys.lewis@example.org", UserStatus::Active),
            test_epoch(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let err = store
        .insert_user(
            &mut tx,
            &new_user("Rhys.Lewis@Example.org", UserStatus::Active),
            test_epoch(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "An account with that email address already exists"
    );
}

async fn status_changes_keep_the_reason_only_for_deactivation(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    let id = store
        .insert_user(
            &mut tx,
            &new_user("dafydd.khan@example.org", UserStatus::Active),
            test_epoch(),
        )
        .await
        .unwrap();
    let later = test_epoch() + Duration::hours(2);
    store
        .set_user_status(
            &mut tx,
            &id,
            UserStatus::Deactivated,
            Some("Left the school"),
            later,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = store.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.status().unwrap(), UserStatus::Deactivated);
    assert_eq!(row.status_reason.as_deref(), Some("Left the school"));
    assert_eq!(row.updated_at, later.timestamp_millis());
    assert_eq!(row.activated_at, Some(test_epoch().timestamp_millis()));

    let mut tx = store.begin().await.unwrap();
    store
        .set_user_status(&mut tx, &id, UserStatus::Active, Some("ignored"), later)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = store.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.status().unwrap(), UserStatus::Active);
    assert_eq!(row.status_reason, None);

    let mut tx = store.begin().await.unwrap();
    let missing = gatehouse::domain::UserId::generate();
    let err = store
        .set_user_status(&mut tx, &missing, UserStatus::Locked, None, later)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn a_rolled_back_transaction_leaves_nothing_behind(engine: Engine) {
    let db = FreshDb::new(engine).await;
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    store
        .insert_user(
            &mut tx,
            &new_user("ioana.roberts@example.org", UserStatus::Active),
            test_epoch(),
        )
        .await
        .unwrap();
    drop(tx); // never committed
    assert!(
        store
            .user_by_email(&Email::parse("ioana.roberts@example.org").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}
