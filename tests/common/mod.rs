//! Test harness: starts the real Gatehouse on 127.0.0.1 with a random port, a fresh
//! database (SQLite always; PostgreSQL when `TEST_DATABASE_URL` is set) and a clock the test
//! controls. Every test that touches storage runs on both engines through `both_engines!`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod proxy;

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
                    super::$name($crate::common::Engine::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if !$crate::common::postgres_wanted() {
                        return;
                    }
                    super::$name($crate::common::Engine::Postgres).await;
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
    pub db: FreshDb,
    shutdown: Option<oneshot::Sender<()>>,
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
    pub async fn spawn_on(db: FreshDb, extra_toml: &str) -> Self {
        let config_path = db.dir.path().join("gatehouse.toml");
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = {:?}\ndata_dir = {:?}\nkeys_dir = {:?}\n{extra_toml}\n",
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
        let clock = ManualClock::new(test_epoch());
        let server = Server::build(config, Arc::new(clock.clone()))
            .await
            .unwrap();
        let addr = server.local_addr();
        let store = server.store().clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.run(async {
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
