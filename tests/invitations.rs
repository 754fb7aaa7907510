//! Invitations as an operator and a new member of staff would meet them: `gatehouse user
//! invite`, the email, choosing a password, and arriving signed in at the inviting service.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::cli::{assert_one_line_failure, run, stdout};
use common::oidc::{REDIRECT, Spec};
use common::{Engine, TestApp, location};

const EMAIL: &str = "sam.okafor@school.example";
const PASSWORD: &str = "violet kettle marathon lighthouse";

both_engines!(
    an_approver_sets_up_two_step_verification_on_activation,
    invite_activate_and_sign_in,
    a_second_invitation_replaces_the_first_link,
    invitations_refuse_bad_input_and_second_accounts,
);

fn invite(app: &TestApp, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--config",
        "gatehouse.toml",
        "user",
        "invite",
        "--given-name",
        "Sam",
        "--family-name",
        "Okafor",
    ];
    args.extend_from_slice(extra);
    run(app.db.dir.path(), &args, &[])
}

async fn invite_activate_and_sign_in(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    app.register(Spec::confidential("census")).await;
    let out = invite(&app, &["--email", EMAIL, "--return-to", REDIRECT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with(&format!("Invited {EMAIL}")),
        "{}",
        stdout(&out)
    );

    let mail = &sink.wait_for(EMAIL, 1).await[0];
    assert_eq!(mail.subject(), "Create your Gatehouse account");
    assert!(
        mail.text().contains("Service census"),
        "names the inviting service"
    );
    let link = mail
        .link(&app.base, "/activate/")
        .expect("an activation link");

    let before = app.browser().sign_in(EMAIL, PASSWORD).await;
    assert_eq!(
        before.status(),
        401,
        "an invited account cannot sign in yet"
    );

    let me = app.browser();
    let token = me.open_link(&link, "/activate").await;
    let form = me.get("/activate").await.text().await.unwrap();
    assert!(form.contains("Create your password") && form.contains(EMAIL));
    let weak = me
        .save_password("/activate", &token, "sam okafor", "sam okafor")
        .await;
    assert_eq!(weak.status(), 422, "the password policy applies");
    let done = me
        .save_password("/activate", &token, PASSWORD, PASSWORD)
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        location(&done),
        REDIRECT,
        "back to the service that invited them"
    );
    let account = me.get("/account").await;
    assert_eq!(account.status(), 200, "signed in by activating");
    assert!(account.text().await.unwrap().contains(EMAIL));

    let activated = sink.wait_for(EMAIL, 2).await;
    assert_eq!(activated[1].subject(), "Your Gatehouse account is ready");
    assert_eq!(app.browser().sign_in(EMAIL, PASSWORD).await.status(), 303);
    assert_eq!(
        me.get(&TestApp::path_of(&link)).await.status(),
        410,
        "used once"
    );

    let claims = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse(EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        gatehouse::oidc::email_verified(&claims),
        "activation verifies the address"
    );

    let again = invite(&app, &["--email", "SAM.OKAFOR@school.example"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("already has an account"),
        "{}",
        stdout(&again)
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages_to(EMAIL).len(), 2, "no second invitation");
}

async fn a_second_invitation_replaces_the_first_link(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    assert!(invite(&app, &["--email", EMAIL]).status.success());
    let first = sink.wait_for(EMAIL, 1).await[0]
        .link(&app.base, "/activate/")
        .unwrap();
    let resent = invite(&app, &["--email", EMAIL]);
    assert!(
        stdout(&resent).starts_with("Sent a new invitation"),
        "{}",
        stdout(&resent)
    );
    let second = sink.wait_for(EMAIL, 2).await[1]
        .link(&app.base, "/activate/")
        .unwrap();
    let me = app.browser();
    assert_eq!(me.get(&TestApp::path_of(&first)).await.status(), 410);
    let token = me.open_link(&second, "/activate").await;
    let done = me
        .save_password("/activate", &token, PASSWORD, PASSWORD)
        .await;
    assert_eq!(
        location(&done),
        "/account?notice=activated",
        "no service: the account page"
    );

    // Invitations last 14 days.
    assert!(
        invite(&app, &["--email", "late@school.example"])
            .status
            .success()
    );
    let late = sink.wait_for("late@school.example", 1).await[0]
        .link(&app.base, "/activate/")
        .unwrap();
    // The CLI runs on the wall clock and the server on the test's: read the expiry back.
    let user = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse("late@school.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    let link_row = app
        .store
        .account_token_for(&user.id, "activation", common::test_epoch())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        link_row.expires_at - link_row.created_at,
        Duration::days(14).num_milliseconds()
    );
    app.clock
        .set(chrono::DateTime::from_timestamp_millis(link_row.expires_at + 1).unwrap());
    assert_eq!(
        app.browser().get(&TestApp::path_of(&late)).await.status(),
        410
    );
}

async fn invitations_refuse_bad_input_and_second_accounts(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let out = run(
        app.db.dir.path(),
        &[
            "--config",
            "gatehouse.toml",
            "user",
            "invite",
            "--email",
            EMAIL,
            "--given-name",
            "Sam\r\nBcc: victim@example.com",
            "--family-name",
            "Okafor",
        ],
        &[],
    );
    assert_one_line_failure(&out, 2, "--given-name");
    let out = invite(
        &app,
        &["--email", "sam@school.example\r\nBcc: x@example.com"],
    );
    assert_one_line_failure(&out, 2, "--email");
    let out = invite(
        &app,
        &[
            "--email",
            EMAIL,
            "--return-to",
            "https://evil.example/callback",
        ],
    );
    assert_one_line_failure(&out, 2, "--return-to");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sink.messages().is_empty(), "nothing was sent");
    assert!(
        app.store
            .user_by_email(&gatehouse::domain::Email::parse(EMAIL).unwrap())
            .await
            .unwrap()
            .is_none(),
        "and nothing was created"
    );
}

/// The first contact of a migrated school is its approver: activation leads straight to
/// setting up 2-step verification.
async fn an_approver_sets_up_two_step_verification_on_activation(engine: Engine) {
    use gatehouse::audit::{Actor, RequestContext};
    use gatehouse::directory::{Directory, Level, NewOrganisation, OrgKind, OrgStatus};
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    assert!(invite(&app, &["--email", EMAIL]).status.success());
    let user = app
        .store
        .user_by_email(&gatehouse::domain::Email::parse(EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    let directory = Directory::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    let ctx = RequestContext::default();
    let school = directory
        .create_organisation(
            NewOrganisation {
                kind: OrgKind::School,
                name: "Oakhurst Primary School".into(),
                urn: Some("123456".into()),
                ukprn: None,
                la_code: None,
                status: OrgStatus::Open,
                town: None,
                postcode: None,
            },
            Actor::Cli,
            &ctx,
        )
        .await
        .unwrap();
    directory
        .add_member(&user, &school.id, Level::Approver, Actor::Cli, &ctx)
        .await
        .unwrap();
    let link = sink.wait_for(EMAIL, 1).await[0]
        .link(&app.base, "/activate/")
        .unwrap();
    let me = app.browser();
    let token = me.open_link(&link, "/activate").await;
    let done = me
        .save_password("/activate", &token, PASSWORD, PASSWORD)
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        location(&done),
        "/account/security/required?return_to=%2Faccount%3Fnotice%3Dactivated"
    );
    let page = me.get(&location(&done)).await.text().await.unwrap();
    assert!(page.contains("Set up 2-step verification"));
}
