//! A national estate in a few set-based statements, for benchmarks at scale: organisations,
//! accounts (a tenth invited, one in fifty locked), a membership each, an authenticator app
//! for a third, each brought over from Authentix (nine in ten invited), with access to every
//! service already registered, on SQLite or PostgreSQL.

use gatehouse::store::Engine;

pub const ORGANISATIONS: i64 = 25_000;

/// Every seeded account may use every service already registered.
const SERVICE_ACCESS: &str = "INSERT INTO service_access (user_id, organisation_id, client_id, \
     created_at) SELECT m.user_id, m.organisation_id, c.id, 0 FROM memberships m CROSS JOIN \
     clients c WHERE m.user_id LIKE 'u%'";

pub const GIVEN: [&str; 40] = [
    "Ana", "Ben", "Cara", "Dev", "Ella", "Finn", "Gita", "Hugo", "Isla", "Jack", "Kira", "Liam",
    "Maya", "Noah", "Olga", "Pete", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Xena",
    "Yusuf", "Zara", "Amir", "Beth", "Cole", "Dina", "Ezra", "Faye", "Gus", "Hana", "Ivo", "Jade",
    "Kofi", "Lena", "Milo", "Nia",
];
pub const FIRST: [&str; 20] = [
    "Ash", "Black", "Brad", "Chad", "Clay", "Dun", "Fair", "Green", "Hart", "Holm", "Kings",
    "Lang", "Mar", "New", "Oak", "Pen", "Ray", "Stan", "West", "Wood",
];
pub const LAST: [&str; 25] = [
    "worth", "ley", "ford", "wick", "ton", "field", "more", "ham", "well", "by", "wood", "bridge",
    "stone", "land", "gate", "brook", "croft", "dale", "hurst", "mouth", "shaw", "thorpe", "well",
    "wright", "cott",
];

/// A new, empty database next to `base`'s, for this run.
pub async fn fresh_database(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("gatehouse_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let mut url = url::Url::parse(base).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// Drops the database [`fresh_database`] made for `url`, on the server at `base`.
pub async fn drop_database(base: &str, url: &str) {
    use sqlx::Connection;
    let name = url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
}

pub async fn database_size(url: &str) -> u64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    size as u64
}

/// Fills the database in a few set-based statements.
pub async fn seed(url: &str, engine: Engine, users: i64) {
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
                format!(
                    "INSERT INTO migration_contacts (user_id, source, imported_at, invited_at) \
                     SELECT 'u' || i, 'authentix', 0, CASE WHEN i % 10 < 9 THEN i END FROM {}",
                    series(users)
                ),
                SERVICE_ACCESS.to_owned(),
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
                format!(
                    "{}INSERT INTO migration_contacts (user_id, source, imported_at, invited_at) \
                     SELECT 'u' || i, 'authentix', 0, CASE WHEN i % 10 < 9 THEN i END FROM s",
                    series(users)
                ),
                SERVICE_ACCESS.to_owned(),
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
