//! OpenID Connect throughput against its bound.
//!
//! In one run on one machine: (a) raw RS256 access-token signatures per second with the
//! server's own key on every core; (b) `client_credentials` tokens per second over HTTP at
//! saturation, and the ratio (b)/(a); full authorize→token round trips per second for a
//! signed-in person; and /userinfo, /introspect and /jwks requests per second, each with
//! p50/p99 latency; then idle and peak RSS. Figures are printed, never asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::crypto::{KeyFolder, SigningAlg, sign_jwt};
use oauth2::PkceCodeChallenge;

mod support;
use support::{
    Load, client, cookie, environment, rss_kib, sign_in_form, sign_in_post, start_server, status,
};

const EMAIL: &str = "bench.user@school100000.example.org";
const PASSWORD: &str = "marble kettle orbit saxophone";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const RUN_FOR: Duration = Duration::from_secs(8);
const CLIENTS: usize = 16;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn gatehouse(
    dir: &std::path::Path,
    env: &[(String, String)],
    args: &[&str],
    input: &str,
) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "gatehouse {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

async fn run() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "Gatehouse OIDC benchmark: {cores} cores, {}s per phase, {CLIENTS} concurrent clients\n",
        RUN_FOR.as_secs()
    );
    let dir = tempfile::tempdir().unwrap();
    let env = environment(dir.path());
    gatehouse(
        dir.path(),
        &env,
        &[
            "user",
            "create",
            "--email",
            EMAIL,
            "--given-name",
            "Bench",
            "--family-name",
            "User",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let machine: serde_json::Value = serde_json::from_str(&gatehouse(
        dir.path(),
        &env,
        &[
            "client",
            "create",
            "--client-id",
            "machine",
            "--name",
            "Batch",
            "--grant-type",
            "client_credentials",
            "--scope",
            "email",
            "--json",
        ],
        "",
    ))
    .unwrap();
    let portal: serde_json::Value = serde_json::from_str(&gatehouse(
        dir.path(),
        &env,
        &[
            "client",
            "create",
            "--client-id",
            "portal",
            "--name",
            "Portal",
            "--first-party",
            "--redirect-uri",
            REDIRECT,
            "--json",
        ],
        "",
    ))
    .unwrap();
    let machine_secret = machine["client_secret"].as_str().unwrap().to_owned();
    let portal_secret = portal["client_secret"].as_str().unwrap().to_owned();

    let raw = raw_signing_per_second(&dir.path().join("keys"), cores);

    let (mut server, base) = start_server(dir.path(), &env);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = rss_kib(server.id(), "VmRSS");

    let cc = saturate(&base, {
        let secret = machine_secret.clone();
        move |client, base| {
            let secret = secret.clone();
            async move {
                status(
                    client
                        .post(format!("{base}/token"))
                        .basic_auth("machine", Some(secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await?,
                )
                .await
            }
        }
    })
    .await;

    let session = sign_in(&base).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let authorize = format!(
        "{base}/authorize?client_id=portal&redirect_uri={}&response_type=code&scope=openid%20email&code_challenge={}&code_challenge_method=S256",
        urlencode(REDIRECT),
        challenge.as_str()
    );
    let verifier = verifier.secret().clone();
    let round_trips = saturate(&base, {
        let (session, authorize, secret, verifier) = (
            session.clone(),
            authorize.clone(),
            portal_secret.clone(),
            verifier.clone(),
        );
        move |client, base| {
            let (session, authorize, secret, verifier) = (
                session.clone(),
                authorize.clone(),
                secret.clone(),
                verifier.clone(),
            );
            async move {
                let r = client
                    .get(&authorize)
                    .header("cookie", &session)
                    .send()
                    .await?;
                let location = r
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let Some(code) = url::Url::parse(&location).ok().and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "code")
                        .map(|(_, v)| v.into_owned())
                }) else {
                    return Ok(r.status().as_u16() + 1000);
                };
                status(
                    client
                        .post(format!("{base}/token"))
                        .basic_auth("portal", Some(secret))
                        .form(&[
                            ("grant_type", "authorization_code"),
                            ("code", &code),
                            ("code_verifier", &verifier),
                            ("redirect_uri", REDIRECT),
                        ])
                        .send()
                        .await?,
                )
                .await
            }
        }
    })
    .await;

    // One user token for /userinfo and /introspect.
    let user_token = one_user_token(&base, &session, &authorize, &portal_secret, &verifier).await;
    let userinfo = saturate(&base, {
        let token = user_token.clone();
        move |client, base| {
            let token = token.clone();
            async move {
                status(
                    client
                        .get(format!("{base}/userinfo"))
                        .bearer_auth(token)
                        .send()
                        .await?,
                )
                .await
            }
        }
    })
    .await;
    let introspect = saturate(&base, {
        let (token, secret) = (user_token.clone(), portal_secret.clone());
        move |client, base| {
            let (token, secret) = (token.clone(), secret.clone());
            async move {
                status(
                    client
                        .post(format!("{base}/introspect"))
                        .basic_auth("portal", Some(secret))
                        .form(&[("token", token)])
                        .send()
                        .await?,
                )
                .await
            }
        }
    })
    .await;
    let jwks = saturate(&base, |client, base| async move {
        status(client.get(format!("{base}/jwks")).send().await?).await
    })
    .await;
    let peak = rss_kib(server.id(), "VmHWM");
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    let rate = |l: &Load| l.ok as f64 / l.elapsed.as_secs_f64();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| (a) raw RS256 access-token signatures/s, {cores} cores, server's key | {raw:.0} |");
    println!(
        "| (b) client_credentials tokens/s over HTTP | {:.0} |",
        rate(&cc)
    );
    println!("| ratio (b)/(a) | {:.2} |", rate(&cc) / raw);
    for (name, load) in [
        ("client_credentials", &cc),
        ("authorize→token round trips", &round_trips),
        ("/userinfo", &userinfo),
        ("/introspect", &introspect),
        ("/jwks", &jwks),
    ] {
        println!(
            "| {name}: per second / p50 / p99 / failed | {:.0} / {:.1} ms / {:.1} ms / {} |",
            rate(load),
            load.p(0.50),
            load.p(0.99),
            load.refused + load.errors
        );
    }
    println!("| idle RSS | {:.1} MiB |", idle_rss as f64 / 1024.0);
    println!(
        "| peak RSS (VmHWM) over the whole run | {:.1} MiB |",
        peak as f64 / 1024.0
    );
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Signs a typical access-token payload with the server's RS256 key on every core.
fn raw_signing_per_second(keys_dir: &std::path::Path, cores: usize) -> f64 {
    let keys = KeyFolder::new(keys_dir);
    let key = Arc::new(
        keys.load()
            .unwrap()
            .into_iter()
            .find(|(meta, _)| meta.alg == SigningAlg::Rs256)
            .unwrap()
            .1,
    );
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:8080", "sub": "machine", "aud": "machine", "client_id": "machine",
        "exp": 1_800_000_600_i64, "iat": 1_800_000_000_i64, "jti": "0123456789abcdef0123456789abcdef", "scope": "",
    });
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let key = key.clone();
            let claims = claims.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while started.elapsed() < RUN_FOR {
                    sign_jwt("at+jwt", &claims, &key).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// Runs `call` from CLIENTS workers for RUN_FOR; a 200 counts as done.
async fn saturate<F, Fut>(base: &str, call: F) -> Load
where
    F: Fn(reqwest::Client, String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<u16, reqwest::Error>> + Send,
{
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, call) = (base.to_owned(), call.clone());
            tokio::spawn(async move {
                let client = client();
                let mut load = Load::default();
                while started.elapsed() < RUN_FOR {
                    let t = Instant::now();
                    match call(client.clone(), base.clone()).await {
                        Ok(200) => {
                            load.ok += 1;
                            load.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Ok(_) => load.refused += 1,
                        Err(_) => load.errors += 1,
                    }
                }
                load
            })
        })
        .collect();
    let mut total = Load::default();
    for w in workers {
        total.add(w.await.unwrap());
    }
    total.elapsed = started.elapsed();
    total
}

/// Signs in once; returns the session cookie to send.
async fn sign_in(base: &str) -> String {
    let client = client();
    let form = sign_in_form(&client, base).await.unwrap();
    let response = sign_in_post(&client, base, &form, EMAIL, PASSWORD)
        .send()
        .await
        .unwrap();
    cookie(&response, "gatehouse_session").unwrap()
}

async fn one_user_token(
    base: &str,
    session: &str,
    authorize: &str,
    secret: &str,
    verifier: &str,
) -> String {
    let client = client();
    let r = client
        .get(authorize)
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: serde_json::Value = client
        .post(format!("{base}/token"))
        .basic_auth("portal", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}
