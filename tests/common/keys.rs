//! Security keys for tests: registering one from the account pages with a software
//! authenticator (`webauthn-authenticator-rs`) playing the browser's part, and an
//! administrator's browser, whose session has used a key as the console requires.
#![allow(dead_code)]

use std::sync::Arc;

use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
    UserVerificationPolicy,
};

use super::mfa::attribute;
use super::oidc::value_of;
use super::{Browser, TestApp, csrf_in};

/// WebAuthn needs a domain name: browsers refuse it on a bare IP address.
pub const ISSUER: &str = "issuer = \"http://localhost:{port}\"";

pub fn origin(app: &TestApp) -> Url {
    Url::parse(&format!("http://localhost:{}", app.addr.port())).unwrap()
}

/// Registers a key of `kind` from the account pages with `authenticator`; returns the
/// answer and the new credential's id.
pub async fn register(
    app: &TestApp,
    me: &Browser,
    authenticator: &mut SoftPasskey,
    kind: &str,
    name: &str,
) -> (reqwest::Response, Vec<u8>) {
    let page = me.get(&format!("/account/security/key?kind={kind}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let mut options: CreationChallengeResponse =
        serde_json::from_str(&attribute(&html, "data-options")).unwrap();
    if kind == "passkey" {
        let selection = options.public_key.authenticator_selection.as_ref().unwrap();
        assert!(selection.require_resident_key, "passkeys are discoverable");
        assert_eq!(
            selection.user_verification,
            UserVerificationPolicy::Required
        );
        // The software authenticator cannot keep resident keys; it plays one by returning the
        // user handle itself when asked (see `discoverable`).
        options
            .public_key
            .authenticator_selection
            .as_mut()
            .unwrap()
            .require_resident_key = false;
        options
            .public_key
            .authenticator_selection
            .as_mut()
            .unwrap()
            .resident_key = None;
    }
    let credential = authenticator.do_registration(origin(app), options).unwrap();
    let id = credential.raw_id.to_vec();
    let answer = me
        .post(
            "/account/security/key",
            &[
                ("csrf_token", &csrf_in(&html)),
                ("kind", kind),
                ("name", name),
                ("handle", &value_of(&html, "handle")),
                ("credential", &serde_json::to_string(&credential).unwrap()),
                ("return_to", ""),
            ],
        )
        .await;
    (answer, id)
}

/// A browser signed in as a new administrator `email` whose first 2-step method is a
/// security key, registered in this session (so the session has used it). The app must be
/// spawned with [`ISSUER`].
pub async fn admin_browser(app: &TestApp, email: &str, password: &str) -> Browser {
    use gatehouse::audit::{Actor, RequestContext};
    use gatehouse::staff::{Staff, StaffRole};
    let id = app.create_user(email, password).await;
    let me = app.browser();
    assert_eq!(me.sign_in(email, password).await.status(), 303);
    let mut key = SoftPasskey::new(true);
    let (answer, _) = register(app, &me, &mut key, "security_key", "Desk key").await;
    assert_eq!(answer.status(), 200, "the first method: recovery codes");
    let user = app.store.user_by_id(&id).await.unwrap().unwrap();
    Staff::new(app.store.clone(), Arc::new(app.clock.clone()))
        .grant(
            &user,
            StaffRole::Admin,
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    me
}

/// The key form of the second step: its CSRF token, handle and options.
pub async fn key_step(me: &Browser) -> (String, String, RequestChallengeResponse) {
    let html = me
        .get("/sign-in/verify?method=key")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-webauthn=\"get\""), "{html}");
    let options = serde_json::from_str(&attribute(&html, "data-options")).unwrap();
    (csrf_in(&html), value_of(&html, "handle"), options)
}

pub async fn submit_key(
    me: &Browser,
    token: &str,
    handle: &str,
    credential: &PublicKeyCredential,
) -> reqwest::Response {
    me.post(
        "/sign-in/verify",
        &[
            ("csrf_token", token),
            ("method", "key"),
            ("handle", handle),
            ("credential", &serde_json::to_string(credential).unwrap()),
            ("return_to", "/account"),
        ],
    )
    .await
}
