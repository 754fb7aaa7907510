//! Operators' probes: liveness, readiness (including recovery after a database outage) and
//! Prometheus metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::{Engine, FreshDb, TestApp};

both_engines!(
    healthz_and_readyz_answer,
    metrics_count_requests_by_route_and_status,
    key_and_data_folders_are_private_to_the_service,
);

/// A fresh clone checks `keys/` out as 0755; the server makes it (and the data folder) 0700.
async fn key_and_data_folders_are_private_to_the_service(engine: Engine) {
    use std::os::unix::fs::PermissionsExt;
    let db = FreshDb::new(engine).await;
    std::fs::create_dir_all(db.keys_dir()).unwrap();
    std::fs::set_permissions(db.keys_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let keys = db.keys_dir();
    let data = db.data_dir();
    let _app = TestApp::spawn_on(db, "").await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    if engine == Engine::Sqlite {
        assert_eq!(mode(&data), 0o700);
    }
}

async fn healthz_and_readyz_answer(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

async fn metrics_count_requests_by_route_and_status(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    assert_eq!(app.get("/no-such-page").await.status(), 404);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let content_type = metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = metrics.text().await.unwrap();
    let healthz_count = counter(&text, "route=\"/healthz\"", "status=\"200\"");
    assert!(
        healthz_count >= 3.0,
        "healthz counted {healthz_count} times:\n{text}"
    );
    assert!(counter(&text, "route=\"unmatched\"", "status=\"404\"") >= 1.0);
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("db_pool_connections{state=\"open\"}"),
        "{text}"
    );
    assert!(text.contains("db_pool_max_connections"), "{text}");
}

/// The value of the `http_requests_total` sample whose labels contain both fragments.
fn counter(text: &str, a: &str, b: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("http_requests_total{") && l.contains(a) && l.contains(b))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Stopping PostgreSQL turns /readyz to 503 while /healthz stays 200; when it comes back,
/// /readyz returns to 200 without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database_down_and_back_up() {
    if !common::postgres_wanted() {
        return;
    }
    let (db, relay) = common::proxy::postgres_behind_relay().await;
    let app = TestApp::spawn_on(db, "").await;

    assert_eq!(app.get("/readyz").await.status(), 200);

    relay.cut();
    let down = app.get("/readyz").await;
    assert_eq!(down.status(), 503);
    let body: serde_json::Value = down.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the process itself is fine"
    );

    relay.restore();
    let mut status = 0;
    for _ in 0..20 {
        status = app.get("/readyz").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "readiness came back without a restart");
}
