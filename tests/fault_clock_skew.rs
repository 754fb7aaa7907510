//! Two nodes on one database whose own clocks are 90 seconds behind and 90 seconds ahead of
//! the database's (issue 9). Both keep the database's time (decision 0020), so a person whose
//! phone keeps true time gets their code accepted on either, a security-key ceremony begun on
//! one finishes on the other, a code from one is redeemed on the other, the tokens a service
//! receives carry true times — and nothing lives a second longer than it should.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use oauth2::PkceCodeChallenge;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::common;

use common::keys::{key_step, register, submit_key};
use common::nodes::on;
use common::oidc::{PASSWORD, REDIRECT, Spec, authorize, param};
use common::{Browser, ClockExt, Engine, FreshDb, TestApp, location};
use gatehouse::clock::ManualClock;
use gatehouse::crypto::{KeyFolder, Keys};

both_engines!(nodes_90_seconds_apart_keep_the_same_time);

const EMAIL: &str = "amara.osei@school.example";
const SKEW: Duration = Duration::seconds(90);
/// Nodes on their database's time, reading it only at start so the test alone moves time on.
const ON_DATABASE_TIME: &str = "time_source = \"database\"\ntime_check_seconds = 3600\n";

struct Skewed {
    behind: TestApp,
    ahead: TestApp,
    /// The person's phone, and the services' clocks: true time, which the database keeps.
    truth: ManualClock,
    /// The address both nodes answer as (WebAuthn needs a name, not an IP address).
    issuer: String,
}

impl Skewed {
    /// Moves every clock on together: the nodes' own and the true one.
    fn advance(&self, by: Duration) {
        self.behind.clock.advance(by);
        self.ahead.clock.advance(by);
        self.truth.advance(by);
    }

    fn now(&self) -> DateTime<Utc> {
        self.truth.now_for_tests()
    }
}

async fn skewed(engine: Engine) -> Skewed {
    let db = Arc::new(FreshDb::new(engine).await);
    let store = db.store().await;
    let database_time = async || {
        let unused = ManualClock::new(common::test_epoch());
        store.read_clock(&unused).await.unwrap().database
    };
    // The signing keys first, so that neither node spends seconds making them between the
    // moment taken as true time and its own first reading of the database's clock.
    let folder = db.keys_dir();
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let keys_made_at = Arc::new(ManualClock::new(database_time().await));
    Keys::open(KeyFolder::new(folder), keys_made_at).unwrap();
    let now = database_time().await;
    store.close().await;
    let truth = ManualClock::new(now);
    let behind = TestApp::spawn_at(
        db.clone(),
        &format!("{}\n{ON_DATABASE_TIME}", common::keys::ISSUER),
        now - SKEW,
    )
    .await;
    let issuer = format!("http://localhost:{}", behind.addr.port());
    let ahead = TestApp::spawn_at(
        db,
        &format!("issuer = \"{issuer}\"\n{ON_DATABASE_TIME}"),
        now + SKEW,
    )
    .await;
    Skewed {
        behind,
        ahead,
        truth,
        issuer,
    }
}

fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn redeem(node: &TestApp, secret: &str, code: &str, verifier: &str) -> serde_json::Value {
    let answer = node
        .client
        .post(node.url("/token"))
        .basic_auth("portal", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = answer.json().await.unwrap();
    common::leaks::remember_tokens(&body);
    body
}

/// A code issued by `node` to a signed-in browser, with its PKCE verifier.
async fn code_from(node: &TestApp, me: &Browser) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?client_id=portal&redirect_uri={}&response_type=code&scope=openid\
         &code_challenge={}&code_challenge_method=S256",
        node.url("/authorize"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let back = authorize(&on(node, me), &url, EMAIL, false).await;
    (param(&back, "code").unwrap(), verifier.secret().clone())
}

async fn nodes_90_seconds_apart_keep_the_same_time(engine: Engine) {
    let s = skewed(engine).await;
    s.behind.create_user(EMAIL, PASSWORD).await;

    // An authenticator app set up on the slow node with a code from a phone on true time,
    // and a security key.
    let me = s.behind.browser();
    assert_eq!(me.sign_in(EMAIL, PASSWORD).await.status(), 303);
    let (phone, answer) = me.add_app_at(s.now(), "Phone").await;
    assert_eq!(answer.status(), 200, "the phone's code was accepted");
    let mut key = SoftPasskey::new(true);
    let (answer, _) = register(&s.behind, &me, &mut key, "security_key", "Desk key").await;
    assert!(answer.status().is_redirection() || answer.status() == 200);

    // The next code, on the fast node, after a password given to the slow one.
    s.advance(Duration::seconds(30));
    let second = s.behind.browser();
    second.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let done = on(&s.ahead, &second)
        .second_step("code", &[("code", &phone.code_at(s.now()))])
        .await;
    assert_eq!(
        done.status(),
        303,
        "the fast node accepted the phone's code"
    );

    // A security-key ceremony begun on the slow node and finished on the fast one, 3 minutes
    // later by their own clocks and a few seconds later in truth.
    let third = s.behind.browser();
    third.sign_in_to_second_step(EMAIL, PASSWORD).await;
    let (token, handle, options) = key_step(&third).await;
    s.advance(Duration::seconds(5));
    let origin = Url::parse(&s.issuer).unwrap();
    let assertion = key.do_authentication(origin, options).unwrap();
    let done = submit_key(&on(&s.ahead, &third), &token, &handle, &assertion).await;
    assert_eq!(done.status(), 303, "the ceremony had not expired");
    assert_eq!(location(&done), "/account");

    // A code from the slow node redeemed on the fast one; the tokens carry true times.
    let service = s.behind.register(Spec::confidential("portal")).await;
    let secret = service.secret.clone().unwrap();
    let (code, verifier) = code_from(&s.behind, &third).await;
    let tokens = redeem(&s.ahead, &secret, &code, &verifier).await;
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    let issued = claims(id_token)["iat"].as_i64().unwrap();
    let truth = s.now().timestamp();
    assert!(
        (issued - truth).abs() <= 5,
        "the service's clock reads {truth}; the token says it was issued at {issued}"
    );
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["exp"].as_i64().unwrap() - issued, 600);

    // Nothing lives longer: a code 61 seconds old is refused by the node that issued it and
    // by the other.
    for (issuer, redeemer) in [(&s.behind, &s.ahead), (&s.ahead, &s.behind)] {
        let (code, verifier) = code_from(issuer, &third).await;
        s.advance(Duration::seconds(61));
        let refused = redeem(redeemer, &secret, &code, &verifier).await;
        assert_eq!(refused["error"], "invalid_grant", "{refused}");
    }

    // Each node said how far off its own clock is.
    for way in ["ahead of", "behind"] {
        let said = common::leaks::log_lines_with(&format!("s {way} the database's"));
        assert!(
            said.iter().any(|line| {
                let seconds = line
                    .split("clock is ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next().and_then(|n| n.parse::<f64>().ok()));
                seconds.is_some_and(|s| (88.0..=92.0).contains(&s))
            }),
            "{way}: {said:?}"
        );
    }
}
