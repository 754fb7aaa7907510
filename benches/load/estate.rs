//! What the load needs in place: one Gatehouse folder and database (SQLite, or a fresh
//! PostgreSQL database), a person, three services, and people with an authenticator app
//! waiting at the second step.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use totp_rs::{Builder, Secret};

use std::sync::Arc;

use gatehouse::clock::SystemClock;
use gatehouse::directory::Directory;
use gatehouse::store::{Engine, Store};
use secrecy::SecretString;

use crate::support::seed::{database_size, drop_database, fresh_database, seed};
use crate::support::{cookie, environment, sign_in_form, sign_in_post};

pub const EMAIL: &str = "bench.user@school100000.example.org";
pub const PASSWORD: &str = "marble kettle orbit saxophone";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A Gatehouse folder with its configuration as environment variables.
pub struct Estate {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    /// Set for PostgreSQL: the server and the database to drop afterwards.
    pub postgres: Option<(String, String)>,
}

/// A database filled before the run.
pub struct Seeded {
    pub users: i64,
    pub took: Duration,
    pub bytes: u64,
    /// A full count of the migration dashboard (the background work).
    pub count_ms: f64,
    /// The dashboard page's read of the saved count, five times (sorted).
    pub dashboard_ms: Vec<f64>,
}

/// Counts the migration dashboard once, then times reading it as the page does, five times.
async fn time_dashboard(url: &str) -> (f64, Vec<f64>) {
    let store = Store::connect(&SecretString::from(url.to_owned()), "bench", 4)
        .await
        .unwrap();
    let directory = Directory::new(store.clone(), Arc::new(SystemClock));
    let started = std::time::Instant::now();
    assert!(
        directory.count_migration().await.unwrap(),
        "nobody else counts"
    );
    let count_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        directory.migration_dashboard(14).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    store.close().await;
    times.sort_by(f64::total_cmp);
    (count_ms, times)
}

/// The services' secrets.
pub struct Services {
    pub machine_rs256: String,
    pub machine_es256: String,
    pub portal: String,
}

impl Estate {
    /// A new folder on SQLite, or on a new database of the PostgreSQL server at `pg_url`.
    pub async fn new(pg_url: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env = environment(dir.path());
        let postgres = match pg_url {
            None => None,
            Some(base) => {
                let url = fresh_database(base).await;
                env.push(("GATEHOUSE_DATABASE_URL".to_owned(), url.clone()));
                Some((base.to_owned(), url))
            }
        };
        Self { dir, env, postgres }
    }

    /// Runs a `gatehouse` command to completion with `input` on its standard input.
    pub fn gatehouse(&self, args: &[&str], input: &str) -> String {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
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

    pub fn create_user(&self, email: &str) {
        self.gatehouse(
            &[
                "user",
                "create",
                "--email",
                email,
                "--given-name",
                "Bench",
                "--family-name",
                "User",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        );
    }

    fn client(&self, args: &[&str]) -> String {
        let mut all = vec!["client", "create", "--json"];
        all.extend_from_slice(args);
        let made: serde_json::Value = serde_json::from_str(&self.gatehouse(&all, "")).unwrap();
        made["client_secret"].as_str().unwrap().to_owned()
    }

    /// A batch service per signing algorithm and a first-party portal that may refresh.
    pub fn services(&self) -> Services {
        let machine = |id: &str, alg: &str| {
            self.client(&[
                "--client-id",
                id,
                "--name",
                id,
                "--grant-type",
                "client_credentials",
                "--scope",
                "email",
                "--access-token-alg",
                alg,
            ])
        };
        Services {
            machine_rs256: machine("machine-rs256", "RS256"),
            machine_es256: machine("machine-es256", "ES256"),
            portal: self.client(&[
                "--client-id",
                "portal",
                "--name",
                "Portal",
                "--first-party",
                "--redirect-uri",
                REDIRECT,
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
                "--scope",
                "openid email offline_access",
            ]),
        }
    }

    /// Adds `users` accounts in 25,000 organisations (see `support::seed`); returns how long
    /// that took and the database's size afterwards.
    pub async fn seed(&self, users: i64) -> Option<Seeded> {
        if users == 0 {
            return None;
        }
        let (url, engine, file) = match &self.postgres {
            Some((_, url)) => (url.clone(), Engine::Postgres, None),
            None => {
                let file = self.dir.path().join("data/gatehouse.db");
                (
                    format!("sqlite://{}", file.display()),
                    Engine::Sqlite,
                    Some(file),
                )
            }
        };
        let started = std::time::Instant::now();
        seed(&url, engine, users).await;
        let took = started.elapsed();
        let bytes = match file {
            Some(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
            None => database_size(&url).await,
        };
        let (count_ms, dashboard_ms) = time_dashboard(&url).await;
        Some(Seeded {
            users,
            took,
            bytes,
            count_ms,
            dashboard_ms,
        })
    }

    pub async fn drop_database(&self) {
        if let Some((base, url)) = &self.postgres {
            drop_database(base, url).await;
        }
    }
}

pub fn totp_email(i: usize) -> String {
    format!("bench.totp{i}@school100000.example.org")
}

/// A person stopped at the second step: their cookies and their app's secret.
pub struct Waiting {
    pub cookies: String,
    pub csrf_token: String,
    pub secret: String,
}

/// The code the app shows now (the benchmark's phone reads the real clock).
pub fn code_now(secret: &str) -> String {
    let totp = Builder::new()
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    #[allow(clippy::disallowed_methods)] // a phone's clock, outside the server
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now).to_string()
}

/// Signs `email` in with the password; returns the CSRF cookie, its token, and the
/// session or pending sign-in cookie the answer set.
async fn sign_in(client: &reqwest::Client, base: &str, email: &str) -> (String, String, String) {
    let form = sign_in_form(client, base).await.unwrap();
    let answer = sign_in_post(client, base, &form, email, PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "sign-in for {email}");
    let next = cookie(&answer, "gatehouse_session")
        .or_else(|| cookie(&answer, "gatehouse_pending"))
        .unwrap();
    (form.0, form.1, next)
}

/// Sets up an authenticator app for `email` and returns its secret.
pub async fn add_app(base: &str, email: &str) -> String {
    let client = crate::support::client();
    let (csrf, token, session) = sign_in(&client, base, email).await;
    let cookies = format!("{csrf}; {session}");
    let page = client
        .get(format!("{base}/account/security/app"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("class=\"secret\"").unwrap();
    let start = page[at..].find("<code>").unwrap() + at + 6;
    let end = page[start..].find("</code>").unwrap() + start;
    let secret = page[start..end].replace(' ', "");
    let setup_id = hidden(&page, "setup_id");
    let answer = client
        .post(format!("{base}/account/security/app"))
        .header("cookie", &cookies)
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", token.as_str()),
            ("setup_id", &setup_id),
            ("return_to", ""),
            ("name", "Phone"),
            ("code", &code_now(&secret)),
        ])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success() || answer.status().is_redirection());
    secret
}

/// Signs `email` in with the password and stops at the second step.
pub async fn wait_at_second_step(base: &str, email: &str, secret: String) -> Waiting {
    let client = crate::support::client();
    let (csrf, csrf_token, pending) = sign_in(&client, base, email).await;
    assert!(pending.starts_with("gatehouse_pending="));
    Waiting {
        cookies: format!("{csrf}; {pending}"),
        csrf_token,
        secret,
    }
}

/// Waits until the apps show a code for a step none of them has used.
pub async fn next_step(secret: &str) {
    let used = code_now(secret);
    while code_now(secret) == used {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}
