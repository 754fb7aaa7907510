//! Test harness: starts the real Gatehouse on 127.0.0.1 with a random port, a fresh
//! database (SQLite always; PostgreSQL when `TEST_DATABASE_URL` is set) and a clock the test
//! controls. Every test that touches storage runs on both engines through `both_engines!`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cli;
pub mod directory;
pub mod keys;
pub mod leaks;
pub mod mfa;
pub mod nodes;
pub mod oidc;
pub mod proxy;
pub mod smtp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use gatehouse::clock::ManualClock;
use gatehouse::config::{Config, ConfigFile, Sources};
use gatehouse::server::Server;
use gatehouse::store::Store;
use secrecy::SecretString;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Generates `mod NAME { sqlite, postgres }` tests that call `async fn NAME(Engine)`.
/// The PostgreSQL variant runs whenever `TEST_DATABASE_URL` is set (always in CI) and fails,
/// not skips, if that server cannot be reached.
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::common::leaks::watched(super::$name($crate::common::Engine::Sqlite))
                        .await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if !$crate::common::postgres_wanted() {
                        return;
                    }
                    $crate::common::leaks::watched(super::$name(
                        $crate::common::Engine::Postgres,
                    ))
                    .await;
                }
            }
        )*
    };
}

/// Whether PostgreSQL variants should run: yes when `TEST_DATABASE_URL` is set. Under CI
/// (`CI` set) a missing URL is a failure, never a silent skip.
pub fn postgres_wanted() -> bool {
    if postgres_url().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but TEST_DATABASE_URL is not: the PostgreSQL half of the suite would not run"
    );
    eprintln!("TEST_DATABASE_URL is not set: PostgreSQL variant not run");
    false
}

/// The PostgreSQL server tests may use, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// The instant every test clock starts at.
pub fn test_epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-09-01T08:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A database nobody else uses: a temporary SQLite file, or a new PostgreSQL schema.
#[derive(Debug)]
pub struct FreshDb {
    pub engine: Engine,
    pub url: String,
    /// Holds the SQLite file (and the test's data and keys folders) until the test ends.
    pub dir: TempDir,
}

impl FreshDb {
    pub async fn new(engine: Engine) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match engine {
            Engine::Sqlite => format!("sqlite://{}/data/gatehouse.db", dir.path().display()),
            Engine::Postgres => {
                let base = postgres_url().expect("TEST_DATABASE_URL");
                fresh_schema(&base).await
            }
        };
        Self { engine, url, dir }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// A migrated store on this database, as the server would open it.
    pub async fn store(&self) -> Store {
        std::fs::create_dir_all(self.data_dir()).unwrap();
        let url = SecretString::from(self.url.clone());
        let store = Store::connect(&url, "test database", 4).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

/// Creates a schema named for this test and returns a URL whose connections use it.
async fn fresh_schema(base: &str) -> String {
    use sqlx::Connection;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap_or_else(|e| {
        panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let mut url = url::Url::parse(base).unwrap();
    url.query_pairs_mut()
        .append_pair("options", &format!("-c search_path={schema}"));
    url.to_string()
}

/// A running Gatehouse and the things a test needs to drive it.
#[derive(Debug)]
pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub store: Store,
    pub db: Arc<FreshDb>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), gatehouse::server::StartupError>>>,
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(engine, "").await
    }

    /// Starts the server with `extra_toml` appended to its configuration file.
    pub async fn spawn_with(engine: Engine, extra_toml: &str) -> Self {
        let db = FreshDb::new(engine).await;
        Self::spawn_on(db, extra_toml).await
    }

    /// Starts the server on a database prepared by the test.
    pub async fn spawn_on(db: impl Into<Arc<FreshDb>>, extra_toml: &str) -> Self {
        Self::spawn_at(db, extra_toml, test_epoch()).await
    }

    /// Like [`TestApp::spawn_on`] with the node's own clock starting at `start`. Unless the
    /// configuration names a `time_source`, the node runs on that clock alone (`local`), so
    /// tests move time as they like; with `time_source = "database"` it is kept on the
    /// database's time as a deployed node is.
    pub async fn spawn_at(
        db: impl Into<Arc<FreshDb>>,
        extra_toml: &str,
        start: DateTime<Utc>,
    ) -> Self {
        let db: Arc<FreshDb> = db.into();
        leaks::watch(&db);
        let config_path = db.dir.path().join("gatehouse.toml");
        // Bound first so the issuer can name the port, as relying parties need it to.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // `{port}` in the extra configuration becomes the bound port (for an issuer such as
        // `http://localhost:{port}`, which WebAuthn needs).
        let extra_toml = extra_toml.replace("{port}", &port.to_string());
        let extra_toml = extra_toml.as_str();
        let issuer = if extra_toml.contains("issuer") {
            String::new()
        } else {
            format!("issuer = \"http://127.0.0.1:{port}\"\n")
        };
        let time = if extra_toml.contains("time_source") {
            ""
        } else {
            "time_source = \"local\"\n"
        };
        let toml = format!(
            "listen = \"127.0.0.1:{port}\"\n{issuer}{time}database_url = {:?}\ndata_dir = {:?}\nkeys_dir = {:?}\n{extra_toml}\n",
            db.url,
            db.data_dir(),
            db.keys_dir(),
        );
        std::fs::write(&config_path, toml).unwrap();
        let config = Config::load(&Sources {
            file: ConfigFile::Named(config_path),
            environment: false,
            overrides: Default::default(),
        })
        .unwrap();
        let clock = ManualClock::new(start);
        let server = Server::build_on(config, Arc::new(clock.clone()), listener)
            .await
            .unwrap();
        let addr = server.local_addr();
        let store = server.store().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            addr,
            base: format!("http://{addr}"),
            client,
            clock,
            store,
            db,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server as a shutdown would, and waits until it has (its database, keys and
    /// data folder stay for a restart with [`TestApp::spawn_on`]).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The user agent our test browser claims, as a real Firefox would send it.
pub const FIREFOX: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

impl TestApp {
    /// Creates an active account with `password`, as `gatehouse user create` does.
    pub async fn create_user(&self, email: &str, password: &str) -> gatehouse::domain::UserId {
        self.create_named_user(email, "Ioana", "Roberts", password)
            .await
    }

    pub async fn create_named_user(
        &self,
        email: &str,
        given: &str,
        family: &str,
        password: &str,
    ) -> gatehouse::domain::UserId {
        use gatehouse::account::{Accounts, NewAccount};
        leaks::remember(password);
        use gatehouse::auth::password::{HashParams, Password, PasswordHasher};
        let hasher = PasswordHasher::new(
            HashParams::default(),
            2,
            16,
            std::time::Duration::from_secs(30),
        )
        .unwrap();
        let accounts = Accounts::new(self.store.clone(), hasher, Arc::new(self.clock.clone()));
        let user = accounts
            .create(
                NewAccount {
                    email: gatehouse::domain::Email::parse(email).unwrap(),
                    given_name: given.to_owned(),
                    family_name: family.to_owned(),
                    job_title: None,
                    password: Some(Password::from_input(password).unwrap()),
                },
                gatehouse::audit::Actor::Cli,
                &Default::default(),
            )
            .await
            .unwrap();
        gatehouse::domain::UserId::from_stored(user.id)
    }

    /// The newest audit events about `user` (actor or subject), newest first.
    pub async fn audit_of(
        &self,
        user: &gatehouse::domain::UserId,
    ) -> Vec<gatehouse::store::AuditRow> {
        self.store.audit_for_user(user, 500).await.unwrap()
    }

    /// Runs one SQL statement on the test's database, as an operator with psql would (to set
    /// up a state that would take many slow steps to reach).
    pub async fn sql(&self, statement: &str) {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self.db.engine {
            Engine::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.db.url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Engine::Postgres => {
                let pool = sqlx::PgPool::connect(&self.db.url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// A fresh browser: its own cookie jar, no redirects followed.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(FIREFOX)
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }
}

/// Reads the test clock (tests may not read the wall clock either).
pub trait ClockExt {
    fn now_for_tests(&self) -> DateTime<Utc>;
}

impl ClockExt for ManualClock {
    fn now_for_tests(&self) -> DateTime<Utc> {
        use gatehouse::clock::Clock;
        self.now()
    }
}

/// A browser-like client: keeps cookies, reads CSRF tokens from pages.
#[derive(Debug, Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token from the form on `path`.
    pub async fn csrf(&self, path: &str) -> String {
        let html = self.get(path).await.text().await.unwrap();
        csrf_in(&html)
    }

    /// Submits a form as our own page would (same-origin fetch metadata).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", "same-origin")
            .header("origin", &self.base)
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Submits the sign-in form with `token`.
    pub async fn post_sign_in(
        &self,
        token: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        leaks::remember(password);
        self.post(
            "/sign-in",
            &[
                ("csrf_token", token),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Fills in and submits the sign-in form.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        leaks::remember(password);
        let token = self.csrf("/sign-in").await;
        self.post(
            "/sign-in",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
                ("return_to", "/account"),
            ],
        )
        .await
    }
}

/// The value of the first `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF field in:\n{html}"))
        + marker.len();
    html[start..start + 64].to_owned()
}

/// The whole `Set-Cookie` header for cookie `name`, if the response sets it.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&prefix))
}

/// Where a redirect points.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Sends only the head of a form POST announcing `length` bytes, and returns the status the
/// server answers with (without ever sending the body).
pub async fn raw_post_status(addr: SocketAddr, path: &str, length: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}
