//! `cargo bench --bench load`: issue 10's table in one run on one machine.
//!
//! Starts the release `gatehouse serve` on SQLite (and, given `PG_URL`, on a new PostgreSQL
//! database), seeds it, and drives each operation at saturation for a fixed time: discovery,
//! JWKS, `client_credentials` (RS256 and ES256), refresh, the full authorize → sign-in → token
//! journey, /userinfo, /introspect, password sign-in and TOTP verification. For each:
//! requests/s, p50/p99/p99.9 latency, errors, server CPU and peak RSS. In the same run it
//! measures the raw costs that bound them (Argon2id verifications and signatures per second)
//! and each operation's ratio to its bound; then the same load against panva's
//! `oidc-provider` (bench/peer); then the footprint. Figures are printed, never asserted.
//!
//!   cargo bench --bench load
//!   PG_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench load
//!   BENCH_SECONDS=8 BENCH_CLIENTS=32 BENCH_TOTP_USERS=300 (the defaults)
//!   BENCH_USERS=1000000: each engine again with that many accounts seeded, side by side
//!   BENCH_PERF=client_credentials: `perf record` the server during the phases so named
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_debug_implementations
)]

#[path = "../support/mod.rs"]
mod support;

mod drive;
mod estate;
mod lean;
mod operations;
mod peer;
mod raw;
mod report;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse::crypto::SigningAlg;

use drive::{Phase, saturate};
use estate::{Estate, Services, add_app, next_step, totp_email, wait_at_second_step};
use lean::{Fixed, saturate_fixed};
use report::{Bound, EngineRun, Row};
use support::{rss_kib, start_server};

pub struct Settings {
    /// Accounts seeded for the second run of each engine (0: none).
    pub users: i64,
    pub run_for: Duration,
    pub clients: usize,
    pub totp_users: usize,
    pub cores: usize,
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let settings = Settings {
        users: i64::try_from(setting("BENCH_USERS", 0)).unwrap(),
        run_for: Duration::from_secs(setting("BENCH_SECONDS", 8)),
        clients: usize::try_from(setting("BENCH_CLIENTS", 32)).unwrap(),
        totp_users: usize::try_from(setting("BENCH_TOTP_USERS", 300)).unwrap(),
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    };
    report::machine(&settings);
    let pg = std::env::var("PG_URL").ok();
    let mut runs = Vec::new();
    let mut scaled = Vec::new();
    let engines = std::iter::once(None).chain(pg.as_deref().map(Some));
    // Each engine's tables are printed as soon as it is done: a long run keeps what it found.
    for engine in engines {
        let empty = engine_run(&settings, engine, 0).await;
        report::table(&empty);
        if settings.users > 0 {
            let full = engine_run(&settings, engine, settings.users).await;
            report::table(&full);
            report::scale(&empty, &full);
            scaled.push(full);
        }
        runs.push(empty);
    }
    let peers = match peer::prepare() {
        Some(dir) => {
            let mut peers = Vec::new();
            for alg in ["RS256", "ES256"] {
                peers.push((
                    alg,
                    peer::run(&dir, alg, settings.clients, settings.run_for).await,
                ));
            }
            peers
        }
        None => Vec::new(),
    };
    report::peers(&runs[0], &peers);
    report::footprint(&runs);
    report::targets(&runs[0], &peers, &settings);
}

async fn engine_run(settings: &Settings, pg_url: Option<&str>, users: i64) -> EngineRun {
    let engine = if pg_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!("== {engine}, {users} accounts seeded: preparing");
    let estate = Estate::new(pg_url).await;
    estate.create_user(estate::EMAIL);
    let services = estate.services();
    let seeded = estate.seed(users).await;
    for i in 0..settings.totp_users {
        estate.create_user(&totp_email(i));
    }
    let keys = estate.dir.path().join("keys");
    let raw_rs256 =
        raw::signatures_per_second(&keys, SigningAlg::Rs256, settings.cores, settings.run_for);
    let raw_es256 =
        raw::signatures_per_second(&keys, SigningAlg::Es256, settings.cores, settings.run_for);
    let raw_argon2 =
        raw::argon2_per_second(settings.cores, estate::PASSWORD, settings.run_for).await;

    let started = Instant::now();
    let (mut server, base) = start_server(estate.dir.path(), &estate.env);
    let client = support::client();
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let startup = started.elapsed();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let pid = server.id();
    let idle_rss_kib = rss_kib(pid, "VmRSS");

    eprintln!("== {engine}: measuring");
    let phases = phases(settings, pid, &base, &services).await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();
    estate.drop_database().await;
    let bounds = |name: &str| -> Option<Bound> {
        match name {
            n if n.contains("client_credentials RS256") => {
                Some(Bound::new("RS256 signatures", raw_rs256, 1.0))
            }
            n if n.contains("client_credentials ES256") => {
                Some(Bound::new("ES256 signatures", raw_es256, 1.0))
            }
            // A refresh signs a new access token and ID token.
            n if n.starts_with("refresh") => {
                Some(Bound::new("RS256 signatures ÷ 2", raw_rs256, 2.0))
            }
            n if n.starts_with("password sign-in") || n.starts_with("authorize") => {
                Some(Bound::new("Argon2id verifications", raw_argon2, 1.0))
            }
            _ => None,
        }
    };
    EngineRun {
        engine,
        seeded,
        rows: phases
            .into_iter()
            .map(|phase| Row {
                bound: bounds(&phase.name),
                phase,
            })
            .collect(),
        raw_rs256,
        raw_es256,
        raw_argon2,
        startup,
        idle_rss_kib,
    }
}

async fn phases(settings: &Settings, pid: u32, base: &str, services: &Services) -> Vec<Phase> {
    let (run_for, clients) = (settings.run_for, settings.clients);
    let mut out = Vec::new();
    for (name, path) in [
        ("discovery", "/.well-known/openid-configuration"),
        ("JWKS", "/jwks"),
    ] {
        let request = Fixed::get(path);
        out.push(saturate_fixed(name, pid, base, clients, run_for, request).await);
    }
    for (alg, id, secret) in [
        ("RS256", "machine-rs256", services.machine_rs256.clone()),
        ("ES256", "machine-es256", services.machine_es256.clone()),
    ] {
        let request = Fixed::form("/token", "grant_type=client_credentials").basic(id, &secret);
        let name = format!("client_credentials {alg}");
        out.push(saturate_fixed(&name, pid, base, clients, run_for, request).await);
    }

    let client = support::client();
    let session = operations::session(&client, base).await;
    let portal = Arc::new(services.portal.clone());
    let mut chains = Vec::new();
    for _ in 0..clients {
        let tokens = operations::tokens_for_session(&client, base, &portal, &session).await;
        chains.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    let user_token =
        operations::tokens_for_session(&client, base, &portal, &session).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
    let pool = Arc::new(Mutex::new(chains));
    let secret = portal.clone();
    out.push(
        saturate(
            "refresh (RS256)",
            pid,
            base,
            clients,
            run_for,
            move |c, b| {
                let (secret, pool) = (secret.clone(), pool.clone());
                async move { operations::refresh(c, b, &secret, pool).await }
            },
        )
        .await,
    );
    let secret = portal.clone();
    out.push(
        saturate(
            "authorize → sign-in → token",
            pid,
            base,
            clients,
            run_for,
            move |c, b| {
                let secret = secret.clone();
                async move { operations::full_flow(c, b, &secret).await }
            },
        )
        .await,
    );
    let token = user_token;
    let request = Fixed::get("/userinfo").bearer(&token);
    out.push(saturate_fixed("/userinfo", pid, base, clients, run_for, request).await);
    // A JWT is base64url and dots: nothing in it needs form encoding.
    let request = Fixed::form("/introspect", &format!("token={token}")).basic("portal", &portal);
    out.push(saturate_fixed("/introspect", pid, base, clients, run_for, request).await);
    out.push(
        saturate(
            "password sign-in",
            pid,
            base,
            clients,
            run_for,
            operations::password_sign_in,
        )
        .await,
    );
    // A crowd far larger than the cores: the hashing queue must keep memory bounded.
    out.push(
        saturate(
            "password sign-in, 200 at once",
            pid,
            base,
            200,
            run_for,
            operations::password_sign_in,
        )
        .await,
    );
    out.push(totp_phase(settings, pid, base).await);
    out
}

/// People with an authenticator app, each stopped at the second step, give their codes as
/// fast as the server takes them (a step works once per person, so this phase ends when
/// everyone has signed in).
async fn totp_phase(settings: &Settings, pid: u32, base: &str) -> Phase {
    eprintln!("   setting up {} authenticator apps", settings.totp_users);
    let mut secrets = Vec::new();
    for i in 0..settings.totp_users {
        secrets.push(add_app(base, &totp_email(i)).await);
    }
    next_step(&secrets[0]).await;
    let mut waiting = Vec::new();
    for (i, secret) in secrets.into_iter().enumerate() {
        waiting.push(wait_at_second_step(base, &totp_email(i), secret).await);
    }
    let queue = Arc::new(Mutex::new(waiting));
    saturate(
        &format!("TOTP verification ({} people)", settings.totp_users),
        pid,
        base,
        settings.clients,
        settings.run_for * 4,
        move |c, b| operations::totp(c, b, queue.clone()),
    )
    .await
}
