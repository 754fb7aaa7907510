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
    resetting_2_step_verification_needs_an_identity_check,
    the_helpdesk_corrects_names_addresses_and_organisations,
    the_helpdesk_changes_which_services_someone_has
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

async fn the_helpdesk_corrects_names_addresses_and_organisations(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.directory_with_schools().await;
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    let ana = ana_id.to_string();
    let ben_id = app
        .create_named_user("ben.osei@oakhurst.example", "Ben", "Osei", PASSWORD)
        .await;
    let (hana, _) = helpdesk(&app, HANA).await;
    let row = || async { app.store.user_by_id(&ana_id).await.unwrap().unwrap() };

    // A name: checked as on every other form, changed, audited, and she is told.
    let refused = act(
        &hana,
        &ana,
        "edit-name",
        &[
            WHY[0],
            WHY[1],
            ("given_name", " "),
            ("family_name", "Lopez"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("Enter a first name"));
    let done = act(
        &hana,
        &ana,
        "edit-name",
        &[
            WHY[0],
            WHY[1],
            ("given_name", "Anna"),
            ("family_name", "López Ruiz"),
        ],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        (row().await.given_name, row().await.family_name),
        ("Anna".to_owned(), "López Ruiz".to_owned())
    );
    let renamed = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .find(|e| e.action == "user.renamed")
        .unwrap();
    let details = renamed.details.unwrap();
    assert!(
        details.contains("\"before\":{\"family_name\":\"Lopez\""),
        "{details}"
    );
    mail_saying(&sink, "changed the name on your account").await;

    // An address: a taken one is refused beside the field; a new one gets a code, which she
    // enters after signing in; until then nothing moves.
    let refused = act(
        &hana,
        &ana,
        "change-email",
        &[WHY[0], WHY[1], ("new_email", HANA)],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("An account with that email address already exists")
    );
    let refused = act(
        &hana,
        &ana,
        "change-email",
        &[WHY[0], WHY[1], ("new_email", "not an address")],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let new = "anna.lopez@oakhurst.example";
    let done = act(
        &hana,
        &ana,
        "change-email",
        &[WHY[0], WHY[1], ("new_email", new)],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(row().await.email, ANA);
    let html = hana.get(&location(&done)).await.text().await.unwrap();
    assert!(html.contains("change their email address to anna.lopez@oakhurst.example"));
    let code_mail = sink.wait_for(new, 1).await;
    let code: String = code_mail[0]
        .text()
        .lines()
        .map(str::trim)
        .find(|w| {
            w.len() == 8
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
        .unwrap()
        .to_owned();
    let me = app.browser();
    assert_eq!(me.sign_in(ANA, PASSWORD).await.status(), 303);
    let page = me.get("/account/email/confirm").await.text().await.unwrap();
    let confirmed = me
        .post(
            "/account/email/confirm",
            &[("csrf_token", &csrf_in(&page)), ("code", &code)],
        )
        .await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(row().await.email, new);

    // Organisations: by URN; as approver only where there is none; removal ends it.
    let refused = act(
        &hana,
        &ana,
        "add-to-organisation",
        &[
            WHY[0],
            WHY[1],
            ("organisation", "999999"),
            ("level", "member"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Enter the URN of a school")
    );
    let done = act(
        &hana,
        &ana,
        "add-to-organisation",
        &[
            WHY[0],
            WHY[1],
            ("organisation", "100019"),
            ("level", "approver"),
        ],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert!(app.store.is_approver(&ana).await.unwrap());
    let ben = ben_id.to_string();
    let refused = act(
        &hana,
        &ben,
        "add-to-organisation",
        &[
            WHY[0],
            WHY[1],
            ("organisation", "100019"),
            ("level", "approver"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("already has an approver")
    );
    let html = hana
        .get(&format!("/manage/accounts/{ana}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Oakhurst CofE Primary School") && html.contains("Approver"));
    let form = hana
        .get(&format!("/manage/accounts/{ana}/remove-from-organisation"))
        .await
        .text()
        .await
        .unwrap();
    let marker = "name=\"organisation_id\" type=\"radio\" value=\"";
    let at = form.find(marker).unwrap() + marker.len();
    let org_id: String = form[at..].chars().take_while(|c| *c != '"').collect();
    let done = act(
        &hana,
        &ana,
        "remove-from-organisation",
        &[WHY[0], WHY[1], ("organisation_id", &org_id)],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert!(!app.store.is_approver(&ana).await.unwrap());
    let trail: Vec<String> = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        trail.contains(&"membership.added".to_owned())
            && trail.contains(&"membership.removed".to_owned())
    );
}

async fn the_helpdesk_changes_which_services_someone_has(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let directory = app.directory_with_schools().await;
    let roles = [("submitter", "Submitter"), ("viewer", "Viewer")];
    app.organisation_service(&directory, "census", "openid organisation", &roles)
        .await;
    let ana_id = app.create_named_user(ANA, "Ana", "Lopez", PASSWORD).await;
    let ana = ana_id.to_string();
    let row = app.store.user_by_id(&ana_id).await.unwrap().unwrap();
    let school = directory
        .add_member(
            &row,
            "100019",
            Level::Member,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    let (hana, hana_id) = helpdesk(&app, HANA).await;

    // From her account page, the link for that organisation opens its services as
    // checkboxes; an organisation she is not in is not found.
    let page = hana
        .get(&format!("/manage/accounts/{ana}"))
        .await
        .text()
        .await
        .unwrap();
    let link = format!(
        "/manage/accounts/{ana}/change-services?organisation_id={}",
        school.id
    );
    assert!(page.contains(&link.replace('&', "&amp;")), "{page}");
    let form = hana.get(&link).await.text().await.unwrap();
    assert!(form.contains("Roles in ") && form.contains("value=\"census:submitter\""));
    let other = format!("/manage/accounts/{ana}/change-services?organisation_id=nowhere");
    assert_eq!(hana.get(&other).await.status(), 404);

    // A role the service does not define is refused beside the services, nothing saved.
    let path = format!("/manage/accounts/{ana}/change-services");
    let token = csrf_in(&form);
    let post = |fields: Vec<(&'static str, String)>| {
        let mut all = vec![
            ("csrf_token", token.clone()),
            ("organisation_id", school.id.clone()),
            (WHY[0].0, WHY[0].1.to_owned()),
            (WHY[1].0, WHY[1].1.to_owned()),
        ];
        all.extend(fields);
        all
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let form = post(fields);
        let hana = &hana;
        let path = path.clone();
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            hana.post(&path, &pairs).await
        }
    };
    let refused = send(vec![
        ("service", "census".into()),
        ("role", "census:owner".into()),
    ])
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"services-error\"") && html.contains("no role called owner"));
    let access = || async {
        app.store
            .access_roles(&ana, &school.id, "census")
            .await
            .unwrap()
    };
    assert!(access().await.is_empty());

    // Granted with a role: saved, she is told, audited once with before and after.
    let done = send(vec![
        ("service", "census".into()),
        ("role", "census:submitter".into()),
    ])
    .await;
    assert_eq!(
        location(&done),
        format!("/manage/accounts/{ana}?notice=change-services")
    );
    assert_eq!(access().await, vec!["submitter".to_owned()]);
    mail_saying(&sink, "changed which services you can use").await;
    let granted: Vec<_> = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .filter(|e| e.action == "access.granted")
        .collect();
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].actor, hana_id);
    assert_eq!(granted[0].reason.as_deref(), Some("holder_asked"));
    let details = granted[0].details.clone().unwrap_or_default();
    assert!(details.contains("Ana called from the school office"));
    assert!(details.contains("\"after\":[\"submitter\"]"), "{details}");

    // The same again changes nothing and says so; unticking takes the service away.
    let same = send(vec![
        ("service", "census".into()),
        ("role", "census:submitter".into()),
    ])
    .await;
    assert_eq!(same.status(), 422);
    assert!(same.text().await.unwrap().contains("Nothing changed"));
    let done = send(Vec::new()).await;
    assert_eq!(done.status(), 303);
    assert!(
        app.store
            .services_held(&ana, &school.id)
            .await
            .unwrap()
            .is_empty()
    );
    let trail: Vec<String> = app
        .audit_of(&ana_id)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(trail.iter().filter(|a| *a == "access.revoked").count(), 1);
}
