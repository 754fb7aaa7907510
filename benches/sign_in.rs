//! Sign-in throughput against its bound.
//!
//! In one run on one machine: (a) raw Argon2id verifications per second with the configured
//! parameters on every core; (b) successful end-to-end sign-ins per second over HTTP at
//! saturation (GET the form, POST it, get the 303), with p50/p99 latency; the ratio (b)/(a);
//! and the server's peak RSS while 200 sign-ins are in flight at once. Also start-up time and
//! idle RSS. Figures are printed, never asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::auth::password::{HashParams, Password, PasswordHasher};

mod support;
use support::{Load, client, environment, rss_kib, sign_in_form, sign_in_post, start_server};

const EMAIL: &str = "bench.user@school100000.example.org";
const PASSWORD: &str = "marble kettle orbit saxophone";
const RUN_FOR: Duration = Duration::from_secs(10);
const CLIENTS: usize = 16;
const IN_FLIGHT: usize = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "Gatehouse sign-in benchmark: {cores} cores, Argon2id m=19456 KiB t=2 p=1, {}s per phase\n",
        RUN_FOR.as_secs()
    );

    let raw = raw_argon2_per_second(cores).await;

    let dir = tempfile::tempdir().unwrap();
    let env = environment(dir.path());
    let created = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "user",
            "create",
            "--email",
            EMAIL,
            "--given-name",
            "Bench",
            "--family-name",
            "User",
            "--password-stdin",
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{PASSWORD}\n").as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(created.success());

    let started = Instant::now();
    let (mut server, base) = start_server(dir.path(), &env);
    let startup = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = rss_kib(server.id(), "VmRSS");

    let load = sign_in_load(&base).await;
    let after_load_peak = rss_kib(server.id(), "VmHWM");
    let burst = burst(&base, server.id()).await;

    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    let per_second = load.ok as f64 / load.elapsed.as_secs_f64();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| start-up to listening | {:.0} ms |",
        startup.as_secs_f64() * 1000.0
    );
    println!("| idle RSS | {:.1} MiB |", idle_rss as f64 / 1024.0);
    println!("| (a) raw Argon2id verifications/s, {cores} cores | {raw:.1} |");
    println!("| (b) HTTP sign-ins/s at saturation ({CLIENTS} clients) | {per_second:.1} |");
    println!("| ratio (b)/(a) | {:.2} |", per_second / raw);
    println!(
        "| sign-in POST latency p50 / p99 | {:.0} ms / {:.0} ms |",
        load.p(0.50),
        load.p(0.99)
    );
    println!(
        "| sign-ins completed / refused / busy (503) / errors | {} / {} / {} / {} |",
        load.ok, load.refused, load.busy, load.errors
    );
    println!(
        "| peak RSS (VmHWM) after the saturation phase | {:.1} MiB |",
        after_load_peak as f64 / 1024.0
    );
    println!(
        "| {IN_FLIGHT} sign-ins in flight: completed / busy (503) | {} / {} |",
        burst.ok, burst.busy
    );
    println!(
        "| {IN_FLIGHT} in flight: wall time | {:.1} s |",
        burst.elapsed.as_secs_f64()
    );
    println!(
        "| peak RSS (VmHWM) after {IN_FLIGHT} in flight | {:.1} MiB |",
        burst.peak_kib as f64 / 1024.0
    );
}

/// Verifications per second with every core busy, through the same hasher the server uses.
async fn raw_argon2_per_second(cores: usize) -> f64 {
    let hasher =
        PasswordHasher::new(HashParams::default(), cores, 1024, Duration::from_secs(60)).unwrap();
    let password = Password::from_input(PASSWORD).unwrap();
    let phc = Arc::new(hasher.hash(&password).await.unwrap());
    let started = Instant::now();
    let workers: Vec<_> = (0..cores * 2)
        .map(|_| {
            let hasher = hasher.clone();
            let phc = phc.clone();
            tokio::spawn(async move {
                let password = Password::from_input(PASSWORD).unwrap();
                let mut n = 0u64;
                while started.elapsed() < RUN_FOR {
                    assert!(hasher.verify(&password, Some(&phc)).await.unwrap().matches);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// One full sign-in as a browser does it; returns the POST's status and latency.
async fn sign_in_once(
    client: &reqwest::Client,
    base: &str,
) -> Result<(u16, Duration), reqwest::Error> {
    let form = sign_in_form(client, base).await?;
    let started = Instant::now();
    let response = sign_in_post(client, base, &form, EMAIL, PASSWORD)
        .send()
        .await?;
    let status = response.status().as_u16();
    response.bytes().await?;
    Ok((status, started.elapsed()))
}

fn tally(load: &mut Load, outcome: Result<(u16, Duration), reqwest::Error>) {
    match outcome {
        Ok((303, latency)) => {
            load.ok += 1;
            load.latencies_ms.push(latency.as_secs_f64() * 1000.0);
        }
        Ok((503, _)) => load.busy += 1,
        Ok(_) => load.refused += 1,
        Err(_) => load.errors += 1,
    }
}

async fn sign_in_load(base: &str) -> Load {
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let base = base.to_owned();
            tokio::spawn(async move {
                let client = client();
                let mut load = Load::default();
                while started.elapsed() < RUN_FOR {
                    tally(&mut load, sign_in_once(&client, &base).await);
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

struct Burst {
    ok: u64,
    busy: u64,
    elapsed: Duration,
    peak_kib: u64,
}

/// Fires 200 sign-ins at once and reads the server's peak memory afterwards.
async fn burst(base: &str, pid: u32) -> Burst {
    let started = Instant::now();
    let attempts: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let base = base.to_owned();
            tokio::spawn(async move { sign_in_once(&client(), &base).await })
        })
        .collect();
    let mut load = Load::default();
    for a in attempts {
        tally(&mut load, a.await.unwrap());
    }
    Burst {
        ok: load.ok,
        busy: load.busy,
        elapsed: started.elapsed(),
        peak_kib: rss_kib(pid, "VmHWM"),
    }
}
