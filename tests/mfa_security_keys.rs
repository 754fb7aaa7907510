//! Security keys and passkeys with a software authenticator (`webauthn-authenticator-rs`)
//! playing the browser's part: registration from the account pages, the second step, and
//! passwordless sign-in with a passkey — and assertions from the wrong origin, for another
//! account's challenge, replayed, or without user verification, all refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::keys::{ISSUER, key_step, origin, register, submit_key};
use common::mfa::recovery_codes_on;
use common::{Browser, ClockExt, Engine, TestApp, csrf_in, location, set_cookie};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, PublicKeyCredential, RequestChallengeResponse, UserVerificationPolicy,
};

both_engines!(
    a_security_key_is_a_second_factor,
    a_passkey_signs_in_without_a_password,
    assertions_that_do_not_belong_are_refused,
    one_credential_belongs_to_one_account,
    administrators_use_the_console_with_a_key,
);

const EMAIL: &str = "ioana.roberts@school.example";
const PASSWORD: &str = "correct horse battery staple";
async fn a_security_key_is_a_second_factor(engine: Engine) {
    let app = TestApp::spawn_with(engine, ISSUER).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let mut key = SoftPasskey::new(true);
    let me = app.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let (answer, _) = register(&app, &me, &mut key, "security_key", "Blue key").await;
    assert_eq!(answer.status(), 200);
    assert!(set_cookie(&answer, "gatehouse_session").is_some());
    assert_eq!(recovery_codes_on(&answer.text().await.unwrap()).len(), 10);
    let page = me.get("/account/security").await.text().await.unwrap();
    assert!(page.contains("Blue key") && page.contains("Security key"));

    let later = app.browser();
    later.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let page = later.get("/sign-in/verify").await.text().await.unwrap();
    assert!(
        page.contains("data-webauthn=\"get\""),
        "the key is offered first"
    );
    let (token, handle, options) = key_step(&later).await;
    let assertion = key.do_authentication(origin(&app), options).unwrap();
    let done = submit_key(&later, &token, &handle, &assertion).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/account");
    assert_eq!(later.get("/account").await.status(), 200);
    let rows = app.audit_of(&id).await;
    let details = rows
        .iter()
        .find(|r| r.action == "sign_in.succeeded")
        .and_then(|r| r.details.clone())
        .unwrap();
    assert!(
        details.contains("\"hwk\"") && details.contains("\"mfa\""),
        "{details}"
    );
    let page = later.get("/account/security").await.text().await.unwrap();
    assert!(!page.contains("<td>Never</td>"), "last used is shown");
}

/// Plays a discoverable authenticator: it finds its own credential for the relying party
/// (the software one must be told which) and returns the account's user handle with the
/// assertion, as a resident key does.
fn discoverable(
    app: &TestApp,
    passkey: &mut SoftPasskey,
    mut options: RequestChallengeResponse,
    credential_id: &[u8],
    user: &gatehouse::domain::UserId,
) -> PublicKeyCredential {
    options.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".to_owned(),
        id: credential_id.to_vec(),
        transports: None,
    }];
    let mut assertion = passkey.do_authentication(origin(app), options).unwrap();
    let handle = uuid::Uuid::parse_str(user.as_str()).unwrap();
    assertion.response.user_handle = Some(handle.as_bytes().to_vec());
    assertion
}

async fn passkey_options(
    app: &TestApp,
    me: &Browser,
) -> (String, String, RequestChallengeResponse) {
    let page = me.get("/sign-in").await.text().await.unwrap();
    assert!(page.contains("Sign in with a passkey"));
    let token = csrf_in(&page);
    let answer = me
        .post(
            "/sign-in/passkey/options",
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    let options = serde_json::from_value(body["options"].clone()).unwrap();
    let _ = app;
    (token, body["handle"].as_str().unwrap().to_owned(), options)
}

async fn submit_passkey(
    me: &Browser,
    token: &str,
    handle: &str,
    credential: &PublicKeyCredential,
) -> reqwest::Response {
    me.post(
        "/sign-in/passkey",
        &[
            ("csrf_token", token),
            ("handle", handle),
            ("credential", &serde_json::to_string(credential).unwrap()),
            ("return_to", "/account"),
        ],
    )
    .await
}

async fn a_passkey_signs_in_without_a_password(engine: Engine) {
    let app = TestApp::spawn_with(engine, ISSUER).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let mut passkey = SoftPasskey::new(true);
    let me = app.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let (answer, credential_id) = register(&app, &me, &mut passkey, "passkey", "Laptop").await;
    assert_eq!(answer.status(), 200);

    let someone = app.browser();
    let (token, handle, options) = passkey_options(&app, &someone).await;
    assert!(
        options.public_key.allow_credentials.is_empty(),
        "any passkey may answer"
    );
    let assertion = discoverable(&app, &mut passkey, options, &credential_id, &id);
    let answer = submit_passkey(&someone, &token, &handle, &assertion).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account");
    assert!(set_cookie(&answer, "gatehouse_session").is_some());
    let account = someone.get("/account").await;
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains(EMAIL));
    let rows = app.audit_of(&id).await;
    let details = rows
        .iter()
        .find(|r| r.action == "sign_in.succeeded")
        .and_then(|r| r.details.clone())
        .unwrap();
    assert!(
        details.contains("\"user\"") && details.contains("\"mfa\"") && !details.contains("pwd"),
        "{details}"
    );

    // The same answer again is a replay: its challenge is spent.
    let again = app.browser();
    let page = again.get("/sign-in").await.text().await.unwrap();
    let replay = submit_passkey(&again, &csrf_in(&page), &handle, &assertion).await;
    assert_eq!(replay.status(), 401);
    assert!(again.get("/account").await.status() == 303);

    // Without user verification a passkey is only one factor: refused.
    let lazy = app.browser();
    let (token, handle, mut options) = passkey_options(&app, &lazy).await;
    // Told that verification is not needed, the authenticator skips it (no UV flag).
    options.public_key.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
    let assertion = discoverable(&app, &mut passkey, options, &credential_id, &id);
    let answer = submit_passkey(&lazy, &token, &handle, &assertion).await;
    assert_eq!(answer.status(), 401);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("Your passkey could not be used to sign in")
    );
}

async fn assertions_that_do_not_belong_are_refused(engine: Engine) {
    let app = TestApp::spawn_with(engine, ISSUER).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    app.create_user("sam.jones@school.example", PASSWORD).await;
    let mut key = SoftPasskey::new(true);
    let me = app.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    assert_eq!(
        register(&app, &me, &mut key, "security_key", "Blue key")
            .await
            .0
            .status(),
        200
    );
    let mut sams_key = SoftPasskey::new(true);
    let sam = app.browser();
    assert_eq!(
        sam.sign_in("sam.jones@school.example", PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(
        register(&app, &sam, &mut sams_key, "security_key", "Sam's key")
            .await
            .0
            .status(),
        200
    );

    // From another origin (a phishing site relaying the ceremony).
    let b = app.browser();
    b.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let (token, handle, options) = key_step(&b).await;
    let elsewhere = Url::parse("http://localhost:1").unwrap();
    let phished = key.do_authentication(elsewhere, options).unwrap();
    assert_eq!(
        submit_key(&b, &token, &handle, &phished).await.status(),
        401
    );

    // Sam's answer to Sam's challenge, sent in Ioana's sign-in.
    let s = app.browser();
    s.sign_in_to_second_step("sam.jones@school.example", PASSWORD)
        .await;
    let (_, sams_handle, sams_options) = key_step(&s).await;
    let sams = sams_key
        .do_authentication(origin(&app), sams_options)
        .unwrap();
    let (token, _, _) = key_step(&b).await;
    assert_eq!(
        submit_key(&b, &token, &sams_handle, &sams).await.status(),
        401
    );

    // A good answer works once; the same answer again is refused.
    let (token, handle, options) = key_step(&b).await;
    let good = key.do_authentication(origin(&app), options).unwrap();
    assert_eq!(submit_key(&b, &token, &handle, &good).await.status(), 303);
    let c = app.browser();
    c.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let (token, _, _) = key_step(&c).await;
    assert_eq!(submit_key(&c, &token, &handle, &good).await.status(), 401);

    let refusals = app
        .audit_of(&id)
        .await
        .iter()
        .filter(|r| r.action == "mfa.failed")
        .count();
    assert!(refusals >= 3, "each refusal is audited ({refusals})");
}

async fn one_credential_belongs_to_one_account(engine: Engine) {
    use gatehouse::store::NewCredential;
    let app = TestApp::spawn_with(engine, ISSUER).await;
    let a = app.create_user(EMAIL, PASSWORD).await;
    let b = app.create_user("sam.jones@school.example", PASSWORD).await;
    let now = app.clock.now_for_tests();
    for (user, id, expected) in [(&a, "one", true), (&b, "two", false)] {
        let mut tx = app.store.begin().await.unwrap();
        let inserted = app
            .store
            .insert_credential(
                &mut tx,
                &NewCredential {
                    id,
                    user_id: user.as_str(),
                    credential_id: "c2FtZS1jcmVkZW50aWFs",
                    kind: "passkey",
                    name: "Key",
                    credential: "{}",
                },
                now,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(inserted, expected, "{id}");
    }
}

/// Administrators must have used a security key or passkey in the session: without one
/// registered they are told to add one; with one, a session verified by an app code steps up
/// with the key and comes back.
async fn administrators_use_the_console_with_a_key(engine: Engine) {
    use gatehouse::audit::{Actor, RequestContext};
    use gatehouse::staff::{Staff, StaffRole};
    let app = TestApp::spawn_with(engine, ISSUER).await;
    let id = app.create_user(EMAIL, PASSWORD).await;
    let (me, phone) = app.verified_browser_and_app(EMAIL, PASSWORD).await;
    let user = app.store.user_by_id(&id).await.unwrap().unwrap();
    let staff = Staff::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    staff
        .grant(
            &user,
            StaffRole::Admin,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();

    let refused = me.get("/manage/accounts").await;
    assert_eq!(refused.status(), 403);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Administrators must sign in with a security key or passkey"));

    let mut key = SoftPasskey::new(true);
    let (answer, _) = register(&app, &me, &mut key, "security_key", "Desk key").await;
    assert_eq!(
        answer.status(),
        303,
        "a second method: back to the security page"
    );
    // Registering the key proved it in that session; a later sign-in with the app code
    // must step up with the key.
    let me = app.sign_in_verified(EMAIL, PASSWORD, &phone).await;
    let step_up = me.get("/manage/accounts").await;
    assert_eq!(step_up.status(), 303);
    assert_eq!(
        location(&step_up),
        "/sign-in/verify?method=key&return_to=%2Fmanage%2Faccounts"
    );
    let (token, handle, options) = key_step(&me).await;
    let assertion = key.do_authentication(origin(&app), options).unwrap();
    assert_eq!(
        submit_key(&me, &token, &handle, &assertion).await.status(),
        303
    );
    assert_eq!(me.get("/manage/accounts").await.status(), 200);

    // Administrators grant and take away staff roles, never their own.
    let ben = "ben.osei@school.example";
    let ben_id = app.create_user(ben, PASSWORD).await;
    let grant = |email: &'static str, role: &'static str| {
        let me = me.clone();
        async move {
            let token = me.csrf("/manage/staff").await;
            me.post(
                "/manage/staff/grant",
                &[("csrf_token", &token), ("email", email), ("role", role)],
            )
            .await
        }
    };
    let refused = grant(EMAIL, "auditor").await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("You cannot change your own staff roles")
    );
    assert_eq!(
        grant("nobody@school.example", "helpdesk").await.status(),
        422
    );
    let granted = grant(ben, "helpdesk").await;
    assert_eq!(location(&granted), "/manage/staff?notice=granted");
    assert_eq!(
        staff.roles(ben_id.as_str()).await.unwrap(),
        [StaffRole::Helpdesk]
    );
    let html = me.get("/manage/staff").await.text().await.unwrap();
    assert!(html.contains(ben) && html.contains("Your own"));
    let token = csrf_in(&html);
    let revoked = me
        .post(
            "/manage/staff/revoke",
            &[
                ("csrf_token", &token),
                ("user_id", ben_id.as_str()),
                ("role", "helpdesk"),
            ],
        )
        .await;
    assert_eq!(location(&revoked), "/manage/staff?notice=revoked");
    assert!(staff.roles(ben_id.as_str()).await.unwrap().is_empty());
    let trail = app.audit_of(&ben_id).await;
    assert!(
        trail
            .iter()
            .any(|e| e.action == "staff.role_granted" && e.actor == id.as_str())
    );
    // Helpdesk staff do not manage staff.
    let ben_browser = app.verified_browser(ben, PASSWORD).await;
    let ben_row = app.store.user_by_id(&ben_id).await.unwrap().unwrap();
    staff
        .grant(
            &ben_row,
            StaffRole::Helpdesk,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(ben_browser.get("/manage/staff").await.status(), 403);
}
