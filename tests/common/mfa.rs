//! Second-factor helpers: an authenticator app computed from the test clock, the pages that
//! set one up and use it, and reading WebAuthn options out of a page.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use totp_rs::{Builder, Secret};

use super::oidc::value_of;
use super::{Browser, ClockExt, TestApp, csrf_in, location};

/// What an authenticator app holds: the secret shown on the set-up page.
#[derive(Debug, Clone)]
pub struct App {
    pub secret: String,
}

impl App {
    /// The code the app shows at `at`.
    pub fn code_at(&self, at: DateTime<Utc>) -> String {
        let secret = Secret::try_from_base32(&self.secret).unwrap();
        let totp = Builder::new().with_secret(secret).build().unwrap();
        totp.generate(u64::try_from(at.timestamp()).unwrap())
            .to_string()
    }

    pub fn code_now(&self, app: &TestApp) -> String {
        self.code_at(app.clock.now_for_tests())
    }
}

/// Undoes askama's HTML escaping of an attribute or text.
pub fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The value of attribute `name` on the first element that has it.
pub fn attribute(html: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

/// The secret text on the authenticator-app set-up page.
pub fn secret_on(html: &str) -> String {
    let start = html.find("class=\"secret\"").unwrap();
    let code = html[start..].find("<code>").unwrap() + start + 6;
    let end = html[code..].find("</code>").unwrap() + code;
    let secret = html[code..end].replace(' ', "");
    super::leaks::remember(&secret);
    secret
}

/// The recovery codes on a "Save your recovery codes" page.
pub fn recovery_codes_on(html: &str) -> Vec<String> {
    let list = html.find("recovery-codes").unwrap();
    let end = html[list..].find("</ul>").unwrap() + list;
    html[list..end]
        .split("<code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap().to_owned())
        .inspect(|code| super::leaks::remember(code))
        .collect()
}

impl Browser {
    /// Sets up an authenticator app named `name` from the set-up page; returns the app and
    /// the recovery codes page's HTML (or the redirect, when not the first method).
    pub async fn add_app(&self, app: &TestApp, name: &str) -> (App, reqwest::Response) {
        self.add_app_at(app.clock.now_for_tests(), name).await
    }

    /// Like [`Browser::add_app`] with a phone whose clock reads `at`.
    pub async fn add_app_at(&self, at: DateTime<Utc>, name: &str) -> (App, reqwest::Response) {
        let page = self.get("/account/security/app").await;
        assert_eq!(page.status(), 200, "set-up page");
        let html = page.text().await.unwrap();
        assert!(html.contains("<svg"), "a QR code is shown");
        let device = App {
            secret: secret_on(&html),
        };
        let answer = self
            .post(
                "/account/security/app",
                &[
                    ("csrf_token", &csrf_in(&html)),
                    ("setup_id", &value_of(&html, "setup_id")),
                    ("return_to", &value_of(&html, "return_to")),
                    ("name", name),
                    ("code", &device.code_at(at)),
                ],
            )
            .await;
        (device, answer)
    }

    /// Signs in with a password and lands on the second step.
    pub async fn sign_in_to_second_step(&self, email: &str, password: &str) -> String {
        let answer = self.sign_in(email, password).await;
        assert_eq!(answer.status(), 303);
        let to = location(&answer);
        assert!(
            to.starts_with("/sign-in/verify"),
            "second step expected, went to {to}"
        );
        to
    }

    /// Submits the second-step form for `method` with `fields`.
    pub async fn second_step(&self, method: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let page = self.get(&format!("/sign-in/verify?method={method}")).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let token = csrf_in(&html);
        let mut form = vec![
            ("csrf_token", token.as_str()),
            ("method", method),
            ("return_to", "/account"),
        ];
        form.extend_from_slice(fields);
        self.post("/sign-in/verify", &form).await
    }
}

impl TestApp {
    /// A browser signed in as `email` with 2-step verification in its session (as approver
    /// and staff pages need): an authenticator app is set up first, then a fresh sign-in
    /// uses it. Call before making the person an approver or staff.
    pub async fn verified_browser(&self, email: &str, password: &str) -> Browser {
        self.verified_browser_and_app(email, password).await.0
    }

    /// Like [`TestApp::verified_browser`], also returning the app to sign in with again.
    pub async fn verified_browser_and_app(&self, email: &str, password: &str) -> (Browser, App) {
        let first = self.browser();
        assert_eq!(first.sign_in(email, password).await.status(), 303);
        let (device, _) = first.add_app(self, "Phone").await;
        (
            self.sign_in_verified(email, password, &device).await,
            device,
        )
    }

    /// A fresh browser signed in with a password and a code from `device`.
    pub async fn sign_in_verified(&self, email: &str, password: &str, device: &App) -> Browser {
        // A step already used (at set-up, or the last sign-in) cannot be used again.
        self.clock.advance(chrono::Duration::seconds(30));
        let me = self.browser();
        me.sign_in_to_second_step(email, password).await;
        let done = me
            .second_step("code", &[("code", &device.code_now(self))])
            .await;
        assert_eq!(done.status(), 303, "second step accepted");
        me
    }
}
