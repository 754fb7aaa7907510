//! The peer: panva's certified `oidc-provider` (Node.js, pinned in `bench/peer/`) issuing JWT
//! access tokens to a `client_credentials` client, driven by the same load generator.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::drive::Phase;
use crate::lean::{Fixed, saturate_fixed};
use crate::support::rss_kib;

const SECRET: &str = "bench-secret-bench-secret";

/// The peer's figures for one algorithm.
pub struct PeerRun {
    pub idle_rss_kib: u64,
    pub tokens: Phase,
}

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peer")
}

/// Installs the pinned packages once; `None` (with the reason printed) when Node.js or npm is
/// missing, so the rest of the table is still produced.
pub fn prepare() -> Option<PathBuf> {
    let dir = folder();
    if !dir.join("node_modules/oidc-provider").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status();
        if !installed.is_ok_and(|s| s.success()) {
            eprintln!("peer skipped: `npm ci` in bench/peer failed");
            return None;
        }
    }
    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => Some(dir),
        _ => {
            eprintln!("peer skipped: no `node` on PATH");
            None
        }
    }
}

fn start(dir: &Path, alg: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("node")
        .arg("server.mjs")
        .env("PORT", port.to_string())
        .env("ALG", alg)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().trim_start_matches("ready ").to_owned();
    assert!(base.starts_with("http://"), "peer said {line:?}");
    (child, base)
}

/// Starts the peer with `alg`, reads its idle memory, and saturates its token endpoint.
pub async fn run(dir: &Path, alg: &str, clients: usize, run_for: Duration) -> PeerRun {
    let (mut child, base) = start(dir, alg);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let pid = child.id();
    let idle_rss_kib = rss_kib(pid, "VmRSS");
    let request =
        Fixed::form("/token", "grant_type=client_credentials&scope=api").basic("bench", SECRET);
    let name = format!("oidc-provider client_credentials {alg}");
    let tokens = saturate_fixed(&name, pid, &base, clients, run_for, request).await;
    let _ = child.kill();
    let _ = child.wait();
    PeerRun {
        idle_rss_kib,
        tokens,
    }
}
