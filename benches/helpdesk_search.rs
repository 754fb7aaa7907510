//! How fast the helpdesk finds an account among a million, on SQLite and (with `PG_URL`) on
//! PostgreSQL: seeds 1,000,000 accounts in 25,000 organisations (a third with an
//! authenticator app), then runs each kind of search the console offers 200 times through
//! the same store calls the page makes (organisation term resolved, one page of 51 rows,
//! their organisations) and prints p50/p95/max, the seeding time and the database size.
//! Figures are printed, never asserted.
//!
//!   cargo bench --bench helpdesk_search
//!   USERS=100000 PG_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench helpdesk_search
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use gatehouse::store::{AccountQuery, AccountSort, Store};
use secrecy::SecretString;

mod support;
use support::seed::{ORGANISATIONS, database_size, fresh_database, seed};

const RUNS: usize = 200;
fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let users: i64 = std::env::var("USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/gatehouse.db", dir.path().display());
    bench(&sqlite, users, Some(dir.path().join("gatehouse.db"))).await;
    if let Ok(base) = std::env::var("PG_URL") {
        bench(&fresh_database(&base).await, users, None).await;
    }
}

async fn bench(url: &str, users: i64, file: Option<std::path::PathBuf>) {
    let store = Store::connect(&SecretString::from(url.to_owned()), "bench", 8)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let engine = store.engine();
    println!("\n== {engine:?}: {users} accounts in {ORGANISATIONS} organisations");
    let started = Instant::now();
    seed(url, engine, users).await;
    let size = match &file {
        Some(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        None => database_size(url).await,
    };
    println!(
        "seeded in {:.1} s; database {} MiB",
        started.elapsed().as_secs_f64(),
        size / 1_048_576
    );

    let q = |f: &dyn Fn(&mut AccountQuery)| {
        let mut query = AccountQuery::default();
        f(&mut query);
        query
    };
    let searches: Vec<(&str, &str, AccountQuery)> = vec![
        (
            "email prefix",
            "",
            q(&|q| q.email_prefix = Some("maya.oakwell".into())),
        ),
        (
            "one name",
            "",
            q(&|q| q.name_words = vec!["Hartbro".into()]),
        ),
        (
            "given + family",
            "",
            q(&|q| q.name_words = vec!["ana".into(), "westg".into()]),
        ),
        ("organisation URN", "100123", AccountQuery::default()),
        (
            "organisation name",
            "oakwood academy 12",
            AccountQuery::default(),
        ),
        (
            "locked, by name",
            "",
            q(&|q| q.status = Some("locked".into())),
        ),
        (
            "name + has MFA",
            "",
            q(&|q| {
                q.name_words = vec!["lena".into()];
                q.has_mfa = Some(true);
            }),
        ),
        (
            "schools, by email",
            "",
            q(&|q| {
                q.organisation_kind = Some("school".into());
                q.sort = Some(AccountSort::Email);
            }),
        ),
        (
            "nothing matches",
            "",
            q(&|q| q.email_prefix = Some("%@".into())),
        ),
    ];
    println!(
        "{:<20} {:>8} {:>9} {:>9} {:>9}",
        "search", "rows", "p50 ms", "p95 ms", "max ms"
    );
    for (name, organisation, mut query) in searches {
        let mut times = Vec::with_capacity(RUNS);
        let mut rows = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            if !organisation.is_empty() {
                let found = store.organisations_named(organisation, 50).await.unwrap();
                query.organisation_ids = Some(found.into_iter().map(|(id, _)| id).collect());
            }
            let hits = store.search_accounts(&query, 51, 0).await.unwrap();
            let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
            store.organisation_names_of(&ids).await.unwrap();
            rows = hits.len();
            times.push(t.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<20} {rows:>8} {:>9.2} {:>9.2} {:>9.2}",
            ms(times[RUNS / 2]),
            ms(times[RUNS * 95 / 100]),
            ms(times[RUNS - 1])
        );
    }
}
