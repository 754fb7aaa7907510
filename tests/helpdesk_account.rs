//! One account in one screen, and the helpdesk's changes to it, on both engines: the page
//! shows why someone cannot sign in (status, failures with reason codes, organisations,
//! services, factors, sessions, timeline); every change needs a reason and a note, is
//! audited with before and after, and is emailed to the person; links go only to the
//! person; staff accounts and one's own are refused; resetting 2-step verification needs a
//! recorded identity check and makes the person set it up again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;

use common::oidc::PASSWORD;
use common::{Browser, Engine, TestApp, csrf_in, location};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::Level;
use gatehouse::staff::{Staff, StaffRole};

both_engines!(
    the_helpdesk_sees_why_and_fixes_it,
    resetting_2_step_verification_needs_an_identity_check
);

const ANA: &str = "ana.lopez@oakhurst.example";
const HANA: &str = "hana.ito@helpdesk.example";
const IVO: &str = "ivo.petrov@helpdesk.example";

/// Submits the form for `action` on `id`'s account with `fields`.
async fn act(me: &Browser, id: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let path = format!("/manage/accounts/{id}/{action}");
    let form_page = me.get(&path).await;
    assert_eq!(form_page.status(), 200, "{path}");
    let token = csrf_in(&form_page.text().await.unwrap());
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    me.post(&path, &form).await
}

/// Waits (up to 10 s) for a message to Ana that says `words`.
async fn mail_saying(sink: &common::smtp::SmtpSink, words: &str) {
    for _ in 0..500 {
        if sink
            .messages_to(ANA)
            .iter()
            .any(|m| m.text().contains(words))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no message to {ANA} says {words:?}");
}

const WHY: [(&str, &str); 2] = [
    ("reason", "holder_asked"),
    ("note", "Ana called from the school office"),
];

/// A helpdesk member of staff (verified browser) and the staff roles service.
async fn helpdesk(app: &TestApp, email: &str) -> (Browser, String) {
    let id = app.create_named_user(email, "Hana", "Ito", PASSWORD).await;
    let browser = app.verified_browser(email, PASSWORD).await;
    let user = app.store.user_by_id(&id).await.unwrap().unwrap();
    Staff::new(app.store.clone(), Arc::new(app.clock.clone()))
        .grant(
            &user,
            StaffRole::Helpdesk,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    (browser, id.to_string())
}

async fn the_helpdesk_sees_why_and_fixes_it(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let directory = app.directory_with_schools().await;
    app.organisation_service(
        &directory,
        "census",
        "openid organisation",
        &[("submitter", "Submits returns")],
    )
    .await;
    let ctx = RequestContext::default();
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    let ana_row = app.store.user_by_id(&ana_id).await.unwrap().unwrap();
    directory
        .add_member(&ana_row, "100019", Level::Member, Actor::Cli, &ctx)
        .await
        .unwrap();
    directory
        .grant_access(
            &ana_row,
            "100019",
            "census",
            &["submitter".to_owned()],
            Actor::Cli,
            &ctx,
        )
        .await
        .unwrap();
    let ana = ana_id.to_string();
    // Two wrong passwords, then the account is locked.
    for _ in 0..2 {
        let answer = app.browser().sign_in(ANA, "not her password at all").await;
        assert_eq!(answer.status(), 401);
    }
    app.sql("UPDATE users SET status = 'locked', status_reason = 'too many failed sign-ins' WHERE email_normalised = 'ana.lopez@oakhurst.example'")
        .await;
    let (hana, hana_id) = helpdesk(&app, HANA).await;
    let (_, ivo_id) = helpdesk(&app, IVO).await;

    // The page says why she cannot sign in, and what she has.
    let page = hana.get(&format!("/manage/accounts/{ana}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for expected in [
        "Status: Locked",
        "too many failed sign-ins",
        "wrong_password",
        "Oakhurst CofE Primary School",
        "Service census (Submits returns)",
        "They have not set up 2-step verification",
        "They are not signed in anywhere",
        "sign_in.failed",
        "Unlock the account",
    ] {
        assert!(html.contains(expected), "{expected} missing from {html}");
    }
    let viewed = app.audit_of(&ana_id).await;
    assert!(
        viewed
            .iter()
            .any(|e| e.action == "staff.account_viewed" && e.actor == hana_id)
    );
    assert_eq!(
        hana.get("/manage/accounts/no-such-account").await.status(),
        404
    );

    // A change needs a reason and a note; the form says so beside each.
    let refused = act(&hana, &ana, "unlock", &[]).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("Select a reason") && html.contains("Enter a note"),
        "{html}"
    );
    let forged = hana
        .post(&format!("/manage/accounts/{ana}/unlock"), &WHY)
        .await;
    assert_eq!(forged.status(), 403, "no CSRF token, no change");
    assert_eq!(
        app.store.user_by_id(&ana_id).await.unwrap().unwrap().status,
        "locked"
    );

    // Unlock: audited with before and after, and she is told.
    let done = act(&hana, &ana, "unlock", &WHY).await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        location(&done),
        format!("/manage/accounts/{ana}?notice=unlock")
    );
    assert_eq!(
        app.store.user_by_id(&ana_id).await.unwrap().unwrap().status,
        "active"
    );
    let mail = sink.wait_for(ANA, 1).await;
    assert!(
        mail[0]
            .text()
            .contains("Our helpdesk unlocked your account")
    );
    let unlocked = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .find(|e| e.action == "account.unlocked")
        .unwrap();
    assert_eq!(unlocked.actor, hana_id);
    assert_eq!(unlocked.reason.as_deref(), Some("holder_asked"));
    let details = unlocked.details.unwrap();
    assert!(
        details.contains("\"before\":{\"failed_sign_ins\":2"),
        "{details}"
    );
    assert!(details.contains("\"status\":\"locked\""), "{details}");
    assert!(details.contains("Ana called from the school office"));
    // Unlocking twice makes no sense, and says so.
    let again = act(&hana, &ana, "unlock", &WHY).await;
    assert_eq!(again.status(), 422);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("The account is not locked")
    );

    // A reset link goes to her, never to the helpdesk.
    let done = act(&hana, &ana, "send-password-reset", &WHY).await;
    assert_eq!(done.status(), 303);
    let mail = sink.wait_for(ANA, 2).await;
    assert!(mail[1].link(&app.base, "/reset-password/").is_some());
    let html = hana.get(&location(&done)).await.text().await.unwrap();
    assert!(html.contains("A password reset link was sent"));
    assert!(!html.contains("/reset-password/"));

    // Deactivating ends her session at once; reactivating lets her back.
    let ana_browser = app.browser();
    assert_eq!(ana_browser.sign_in(ANA, PASSWORD).await.status(), 303);
    assert_eq!(ana_browser.get("/account").await.status(), 200);
    let html = hana
        .get(&format!("/manage/accounts/{ana}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Signed in now") && html.contains("Firefox"));
    let done = act(
        &hana,
        &ana,
        "deactivate",
        &[("reason", "left_organisation"), ("note", "Left in July")],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        ana_browser.get("/account").await.status(),
        303,
        "signed out"
    );
    let mail = sink.wait_for(ANA, 3).await;
    assert!(mail[2].text().contains("deactivated your account"));
    let html = hana
        .get(&format!("/manage/accounts/{ana}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Deactivated: They have left their organisation: Left in July."));
    assert_eq!(act(&hana, &ana, "reactivate", &WHY).await.status(), 303);
    assert_eq!(ana_browser.sign_in(ANA, PASSWORD).await.status(), 303);

    // Staff accounts are for administrators; one's own account is for the account page.
    let refused = act(&hana, &ivo_id, "sign-out-everywhere", &WHY).await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Helpdesk staff cannot change staff accounts")
    );
    let refused = act(&hana, &hana_id, "deactivate", &WHY).await;
    assert_eq!(refused.status(), 403);
    let trail = app
        .audit_of(&gatehouse::domain::UserId::from_stored(hana_id.clone()))
        .await;
    let refusals: Vec<_> = trail
        .iter()
        .filter(|e| e.action == "staff.refused")
        .collect();
    assert_eq!(refusals.len(), 2);
    assert_eq!(refusals[1].reason.as_deref(), Some("staff_account"));
    assert_eq!(
        app.store
            .user_by_id(&gatehouse::domain::UserId::from_stored(ivo_id))
            .await
            .unwrap()
            .unwrap()
            .status,
        "active"
    );

    // The timeline, as CSV, holds all of it; the export itself is audited.
    let csv = hana
        .get(&format!("/manage/accounts/{ana}/timeline.csv"))
        .await
        .text()
        .await
        .unwrap();
    for action in [
        "account.unlocked",
        "password_reset.requested",
        "user.status_changed",
        "sign_in.failed",
    ] {
        assert!(csv.contains(action), "{action} missing from {csv}");
    }
    assert!(
        app.audit_of(&ana_id)
            .await
            .iter()
            .any(|e| e.action == "staff.accounts_exported" && e.actor == hana_id)
    );

    // People who are not helpdesk staff see none of it.
    let ana_verified = app.verified_browser(ANA, PASSWORD).await;
    assert_eq!(
        ana_verified
            .get(&format!("/manage/accounts/{ana}"))
            .await
            .status(),
        403
    );
    assert_eq!(
        ana_verified
            .get(&format!("/manage/accounts/{ana}/unlock"))
            .await
            .status(),
        403
    );
}

async fn resetting_2_step_verification_needs_an_identity_check(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    let ana = ana_id.to_string();
    app.verified_browser(ANA, PASSWORD).await;
    let (hana, hana_id) = helpdesk(&app, HANA).await;
    let html = hana
        .get(&format!("/manage/accounts/{ana}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Authenticator app") && html.contains("Phone"));

    let refused = act(&hana, &ana, "reset-2-step-verification", &WHY).await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Select how you checked who they are")
    );
    let check = ("identity_check", "called_back_published_number");
    let done = act(
        &hana,
        &ana,
        "reset-2-step-verification",
        &[WHY[0], WHY[1], check],
    )
    .await;
    assert_eq!(done.status(), 303);

    let html = hana.get(&location(&done)).await.text().await.unwrap();
    assert!(html.contains("They have not set up 2-step verification"));
    mail_saying(&sink, "removed your 2-step verification").await;
    let reset = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .find(|e| e.action == "mfa.reset")
        .unwrap();
    assert_eq!(reset.actor, hana_id);
    let details = reset.details.unwrap();
    assert!(details.contains("\"identity_checked_by\":\"called_back_published_number\""));
    assert!(
        details.contains("\"before\":{\"second_factors\":1}"),
        "{details}"
    );

    // Her password alone now leads straight to setting up a new method.
    let me = app.browser();
    let signed_in = me.sign_in(ANA, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert!(location(&signed_in).starts_with("/account/security/required"));
    let (device, _) = me.add_app(&app, "New phone").await;
    drop(device);
    let again = app.browser().sign_in(ANA, PASSWORD).await;
    assert!(
        location(&again).starts_with("/sign-in/verify"),
        "her new app is asked for"
    );
}
