//! Fault test (issue 9): PostgreSQL goes away under load and comes back. While it is away
//! people and services get a plain 503 (a page, or `temporarily_unavailable` JSON), never a
//! 500 with internals, and nothing fails open: no wrong password signs in, no code is
//! issued. When it returns, everything works again without a restart. PostgreSQL only: the
//! relay sits on its TCP connection (SQLite has no connection to lose).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common;

use common::oidc::{PASSWORD, REDIRECT, Spec};
use common::{TestApp, location};
use gatehouse::oidc::GrantType;

const EMAIL: &str = "pat.okafor@school.example";
/// The account the load guesses at (its failures slow its own sign-ins, not Pat's).
const GUESSED: &str = "sam.lee@school.example";

/// What one request got, and whether it was one that must never succeed.
#[derive(Debug)]
struct Outcome {
    what: &'static str,
    status: u16,
    succeeded: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_going_away_under_load_fails_closed_and_recovers() {
    if !common::postgres_wanted() {
        return;
    }
    common::leaks::watched(outage()).await;
}

async fn outage() {
    let (db, relay) = common::proxy::postgres_behind_relay().await;
    // The load comes from one address: let it through the per-address throttle.
    let app = Arc::new(TestApp::spawn_on(db, "sign_in_ip_burst = 100000").await);
    app.create_user(EMAIL, PASSWORD).await;
    app.create_user(GUESSED, PASSWORD).await;
    let service = app
        .register(Spec {
            grants: vec![GrantType::AuthorizationCode, GrantType::ClientCredentials],
            ..Spec::confidential("portal")
        })
        .await;
    let secret = service.secret.clone().unwrap();

    let running = Arc::new(AtomicBool::new(true));
    let mut workers = Vec::new();
    for worker in 0..3 {
        let app = app.clone();
        let running = running.clone();
        let secret = secret.clone();
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while running.load(Ordering::SeqCst) {
                let outcome = match worker {
                    0 => {
                        // A wrong password must never sign in, whatever the database does.
                        let me = app.browser();
                        let page = me.client.get(app.url("/sign-in")).send().await.unwrap();
                        let status = page.status().as_u16();
                        if status != 200 {
                            Outcome {
                                what: "sign-in page",
                                status,
                                succeeded: false,
                            }
                        } else {
                            let token = common::csrf_in(&page.text().await.unwrap());
                            let answer = me
                                .post_sign_in(&token, GUESSED, "wrong password here")
                                .await;
                            let status = answer.status().as_u16();
                            let succeeded = status == 303 && location(&answer) == "/account";
                            Outcome {
                                what: "wrong password",
                                status,
                                succeeded,
                            }
                        }
                    }
                    1 => {
                        let answer = app
                            .client
                            .post(app.url("/token"))
                            .basic_auth("portal", Some(&secret))
                            .form(&[("grant_type", "client_credentials")])
                            .send()
                            .await
                            .unwrap();
                        let status = answer.status().as_u16();
                        let body: serde_json::Value = answer.json().await.unwrap_or_default();
                        if status == 503 {
                            assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                        }
                        Outcome {
                            what: "client_credentials",
                            status,
                            succeeded: false,
                        }
                    }
                    _ => {
                        // Not signed in: an authorization request must never yield a code.
                        let (challenge, _) = oauth2::PkceCodeChallenge::new_random_sha256();
                        let answer = app
                            .client
                            .get(app.url(&format!(
                                "/authorize?client_id=portal&redirect_uri={}&response_type=code\
                                 &scope=openid&code_challenge={}&code_challenge_method=S256",
                                url::form_urlencoded::byte_serialize(REDIRECT.as_bytes())
                                    .collect::<String>(),
                                challenge.as_str()
                            )))
                            .send()
                            .await
                            .unwrap();
                        let status = answer.status().as_u16();
                        let succeeded = status == 303 && location(&answer).contains("code=");
                        Outcome {
                            what: "authorize",
                            status,
                            succeeded,
                        }
                    }
                };
                seen.push(outcome);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }

    tokio::time::sleep(Duration::from_millis(700)).await;
    relay.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    relay.restore();
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.unwrap());
    }

    for o in &outcomes {
        assert!(
            !o.succeeded,
            "{} succeeded during the outage test: {o:?}",
            o.what
        );
        assert!(
            matches!(o.status, 200 | 303 | 401 | 503),
            "{}: {} (only plain answers and 503s); errors logged: {:#?}",
            o.what,
            o.status,
            common::leaks::log_lines_with(" ERROR ")
        );
    }
    let unavailable = outcomes.iter().filter(|o| o.status == 503).count();
    assert!(unavailable > 0, "the outage was seen: {outcomes:?}");

    // Back without a restart: the right password signs in, a service gets a token.
    let mut signed_in = false;
    for _ in 0..40 {
        let me = app.browser();
        let answer = me.sign_in(EMAIL, PASSWORD).await;
        if answer.status() == 303 && location(&answer) == "/account" {
            signed_in = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(signed_in, "sign-in works again once the database is back");
    let token = app
        .client
        .post(app.url("/token"))
        .basic_auth("portal", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
}
