//! Secrets never leak (issue 9): the harness remembers every password, code, link secret,
//! recovery code, authenticator secret, client secret and token the tests type or receive,
//! and after each test scans what it left behind — every text column of every table of its
//! database (audit trail, outbox and all) and the server's log lines — for any of them in
//! clear. `both_engines!` runs every test inside [`watched`].

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex, Once};

use super::{Engine, FreshDb};

/// Everything secret the tests have used, from every test in the binary.
static KNOWN: LazyLock<Mutex<BTreeSet<String>>> = LazyLock::new(Mutex::default);

/// Every log line the servers wrote (all tests share one subscriber), capped.
static LOGS: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(Mutex::default);
const LOG_CAP: usize = 256 << 20;

tokio::task_local! {
    /// The databases the running test started servers on.
    static DATABASES: Arc<Mutex<Vec<Arc<FreshDb>>>>;
}

/// Remembers a secret the test used (shorter ones would match by chance, so are skipped).
pub fn remember(secret: &str) {
    let secret = secret.trim();
    if secret.len() >= 8 {
        KNOWN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(secret.to_owned());
    }
}

/// Remembers the secrets in a token endpoint's JSON answer.
pub fn remember_tokens(body: &serde_json::Value) {
    for field in ["access_token", "refresh_token", "id_token"] {
        if let Some(token) = body.get(field).and_then(serde_json::Value::as_str) {
            remember(token);
        }
    }
}

/// Called by `TestApp` for each database it serves, so the scan covers it.
pub fn watch(db: &Arc<FreshDb>) {
    capture_logs();
    let _ = DATABASES.try_with(|dbs| {
        dbs.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(db.clone());
    });
}

/// Runs a test, then scans its databases and the logs for remembered secrets.
pub async fn watched(test: impl Future<Output = ()>) {
    let dbs: Arc<Mutex<Vec<Arc<FreshDb>>>> = Arc::default();
    DATABASES.scope(dbs.clone(), test).await;
    let known: Vec<String> = KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect();
    // One pass over each text for all the secrets at once.
    let Ok(finder) = aho_corasick::AhoCorasick::new(&known) else {
        return;
    };
    let dbs: Vec<Arc<FreshDb>> = dbs.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for db in dbs {
        for (place, text) in texts(&db).await {
            if let Some(found) = finder.find(&text) {
                let secret = &known[found.pattern().as_usize()];
                panic!(
                    "a secret the test used ({}…) is in clear in {place}",
                    &secret[..4]
                );
            }
        }
    }
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(found) = finder.find(&logs) {
        let secret = &known[found.pattern().as_usize()];
        let start = logs[..found.start()]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let end = logs[found.end()..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(logs.len(), |i| found.end() + i);
        let line = String::from_utf8_lossy(&logs[start..end]).replace(secret.as_str(), "<SECRET>");
        panic!(
            "a secret a test used ({}…) is in the server's log: {line}",
            &secret[..4]
        );
    }
}

/// Every text (and blob, read as text) value in the database, with where it is.
async fn texts(db: &FreshDb) -> Vec<(String, String)> {
    use sqlx::{Column, Row};
    let mut out = Vec::new();
    match db.engine {
        Engine::Sqlite => {
            let Ok(pool) = sqlx::SqlitePool::connect(&db.url).await else {
                return out;
            };
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            for table in tables {
                let sql = sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\""));
                for row in sqlx::query(sql).fetch_all(&pool).await.unwrap_or_default() {
                    for (i, column) in row.columns().iter().enumerate() {
                        let value =
                            row.try_get::<Option<String>, _>(i)
                                .ok()
                                .flatten()
                                .or_else(|| {
                                    row.try_get::<Option<Vec<u8>>, _>(i)
                                        .ok()
                                        .flatten()
                                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                                });
                        if let Some(value) = value {
                            out.push((format!("{table}.{}", column.name()), value));
                        }
                    }
                }
            }
            pool.close().await;
        }
        Engine::Postgres => {
            let Ok(pool) = sqlx::PgPool::connect(&db.url).await else {
                return out;
            };
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 AND table_name NOT LIKE '\\_sqlx%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            for table in tables {
                // A whole row as text: every column, bytea as hex, JSON as written.
                let sql = sqlx::AssertSqlSafe(format!("SELECT CAST(t AS text) FROM \"{table}\" t"));
                for row in sqlx::query_scalar::<_, String>(sql)
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_default()
                {
                    out.push((table.clone(), row));
                }
            }
            pool.close().await;
        }
    }
    out
}

/// Installs, once, a log subscriber that keeps every server log line (at the level servers
/// run at, info) in memory for the scan.
fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,sqlx=warn");
        // The plain-text format operators read by default (so a control character in a
        // value would show as itself), without colours.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| Sink)
            .try_init();
    });
}

/// Appends to [`LOGS`] until the cap.
struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
        if logs.len() < LOG_CAP {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured server log lines that contain `needle` (for a test's failure message).
pub fn log_lines_with(needle: &str) -> Vec<String> {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}
