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

use gatehouse::store::{AccountQuery, AccountSort, Engine, Store};
use secrecy::SecretString;

const RUNS: usize = 200;
const ORGANISATIONS: i64 = 25_000;

const GIVEN: [&str; 40] = [
    "Ana", "Ben", "Cara", "Dev", "Ella", "Finn", "Gita", "Hugo", "Isla", "Jack", "Kira", "Liam",
    "Maya", "Noah", "Olga", "Pete", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Xena",
    "Yusuf", "Zara", "Amir", "Beth", "Cole", "Dina", "Ezra", "Faye", "Gus", "Hana", "Ivo", "Jade",
    "Kofi", "Lena", "Milo", "Nia",
];
const FIRST: [&str; 20] = [
    "Ash", "Black", "Brad", "Chad", "Clay", "Dun", "Fair", "Green", "Hart", "Holm", "Kings",
    "Lang", "Mar", "New", "Oak", "Pen", "Ray", "Stan", "West", "Wood",
];
const LAST: [&str; 25] = [
    "worth", "ley", "ford", "wick", "ton", "field", "more", "ham", "well", "by", "wood", "bridge",
    "stone", "land", "gate", "brook", "croft", "dale", "hurst", "mouth", "shaw", "thorpe", "well",
    "wright", "cott",
];

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

/// A new, empty database next to `base`'s, for this run.
async fn fresh_database(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("gatehouse_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(base).unwrap();
    url.set_path(&name);
    url.to_string()
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

async fn database_size(url: &str) -> u64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    size as u64
}

/// Fills the database in a few set-based statements.
async fn seed(url: &str, engine: Engine, users: i64) {
    use sqlx::Connection;
    let list = |words: &[&str]| -> String {
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (given, first, last) = (list(&GIVEN), list(&FIRST), list(&LAST));
    let statements: Vec<String> = match engine {
        Engine::Postgres => {
            let series = |n: i64| format!("generate_series(0, {}) AS i", n - 1);
            let name = format!(
                "(ARRAY[{first}])[1 + (i / 40) % 20] || (ARRAY[{last}])[1 + (i / 800) % 25]"
            );
            let g = format!("(ARRAY[{given}])[1 + i % 40]");
            vec![
                format!(
                    "INSERT INTO organisations (id, kind, name, name_normalised, urn, ukprn, \
                     la_code, status, source, created_at, updated_at) \
                     SELECT 'o' || i, 'school', n, lower(n), (100000 + i)::text, \
                     (10000000 + i)::text, (800 + i % 150)::text, 'open', 'gias', 0, 0 \
                     FROM (SELECT i, (ARRAY[{first}])[1 + i % 20] || (ARRAY[{last}])[1 + \
                     (i / 20) % 25] || ' Academy ' || i AS n FROM {}) s",
                    series(ORGANISATIONS)
                ),
                format!(
                    "INSERT INTO users (id, email, email_normalised, given_name, family_name, \
                     status, created_at, updated_at) \
                     SELECT 'u' || i, e, lower(e), g, f, CASE WHEN i % 50 = 0 THEN 'locked' \
                     WHEN i % 10 = 0 THEN 'invited' ELSE 'active' END, i, i \
                     FROM (SELECT i, {g} AS g, {name} AS f, {g} || '.' || {name} || i || \
                     '@school' || (i % {ORGANISATIONS}) || '.example.org' AS e FROM {}) s",
                    series(users)
                ),
                format!(
                    "INSERT INTO memberships (user_id, organisation_id, level, status, \
                     created_at, updated_at) SELECT 'u' || i, 'o' || (i % {ORGANISATIONS}), \
                     'member', 'approved', 0, 0 FROM {}",
                    series(users)
                ),
                format!(
                    "INSERT INTO totp_factors (id, user_id, name, secret_sealed, created_at, \
                     confirmed_at) SELECT 't' || i, 'u' || i, 'Phone', 'v1.bench', 0, 0 \
                     FROM {} WHERE i % 3 = 0",
                    series(users)
                ),
                "ANALYZE".to_owned(),
            ]
        }
        Engine::Sqlite => {
            let series = |n: i64| {
                format!(
                    "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s \
                     WHERE i < {}) ",
                    n - 1
                )
            };
            let pick = |list: &str, index: &str| {
                format!(
                    "json_extract('[{}]', '$[' || ({index}) || ']')",
                    list.replace('\'', "\"")
                )
            };
            let name = format!(
                "{} || {}",
                pick(&first, "(i / 40) % 20"),
                pick(&last, "(i / 800) % 25")
            );
            let g = pick(&given, "i % 40");
            vec![
                format!(
                    "{}INSERT INTO organisations (id, kind, name, name_normalised, urn, ukprn, \
                     la_code, status, source, created_at, updated_at) \
                     SELECT 'o' || i, 'school', n, lower(n), 100000 + i, 10000000 + i, \
                     800 + i % 150, 'open', 'gias', 0, 0 \
                     FROM (SELECT i, {} || {} || ' Academy ' || i AS n FROM s)",
                    series(ORGANISATIONS),
                    pick(&first, "i % 20"),
                    pick(&last, "(i / 20) % 25")
                ),
                format!(
                    "{}INSERT INTO users (id, email, email_normalised, given_name, family_name, \
                     status, created_at, updated_at) \
                     SELECT 'u' || i, e, lower(e), g, f, CASE WHEN i % 50 = 0 THEN 'locked' \
                     WHEN i % 10 = 0 THEN 'invited' ELSE 'active' END, i, i \
                     FROM (SELECT i, g, f, g || '.' || f || i || '@school' || \
                     (i % {ORGANISATIONS}) || '.example.org' AS e \
                     FROM (SELECT i, {g} AS g, {name} AS f FROM s))",
                    series(users)
                ),
                format!(
                    "{}INSERT INTO memberships (user_id, organisation_id, level, status, \
                     created_at, updated_at) SELECT 'u' || i, 'o' || (i % {ORGANISATIONS}), \
                     'member', 'approved', 0, 0 FROM s",
                    series(users)
                ),
                format!(
                    "{}INSERT INTO totp_factors (id, user_id, name, secret_sealed, created_at, \
                     confirmed_at) SELECT 't' || i, 'u' || i, 'Phone', 'v1.bench', 0, 0 \
                     FROM s WHERE i % 3 = 0",
                    series(users)
                ),
                "ANALYZE".to_owned(),
            ]
        }
    };
    match engine {
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            for sql in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            for sql in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }
}
