//! What both benchmarks share: a real `gatehouse serve` in a temporary folder, its memory
//! figures from /proc, and latency bookkeeping.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod seed;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn environment(dir: &std::path::Path) -> Vec<(String, String)> {
    [
        ("GATEHOUSE_LISTEN", "127.0.0.1:0".to_owned()),
        ("GATEHOUSE_DATA_DIR", dir.join("data").display().to_string()),
        ("GATEHOUSE_KEYS_DIR", dir.join("keys").display().to_string()),
        ("GATEHOUSE_LOG_LEVEL", "error".to_owned()),
        // One client address drives the whole load: lift the per-IP limit for the bench.
        ("GATEHOUSE_SIGN_IN_IP_BURST", "1000000000".to_owned()),
        ("GATEHOUSE_SIGN_IN_IP_PER_MINUTE", "1000000000".to_owned()),
        // The load generator plays the balancer for journeys from many schools' addresses.
        ("GATEHOUSE_TRUSTED_PROXIES", "[\"127.0.0.1\"]".to_owned()),
        // The bench counts the migration dashboard itself, before the load; a background
        // count in the middle of a phase would distort it.
        ("GATEHOUSE_MIGRATION_COUNT_SECONDS", "86400".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn start_server(dir: &std::path::Path, env: &[(String, String)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    (child, base)
}

pub fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[derive(Default)]
pub struct Load {
    pub ok: u64,
    pub refused: u64,
    pub busy: u64,
    pub errors: u64,
    pub latencies_ms: Vec<f64>,
    pub elapsed: Duration,
}

impl Load {
    pub fn p(&self, q: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    }

    pub fn add(&mut self, other: Load) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.busy += other.busy;
        self.errors += other.errors;
        self.latencies_ms.extend(other.latencies_ms);
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` of a cookie the response sets, if any.
pub fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// Loads the sign-in form; returns the CSRF cookie to send back and the form's token.
pub async fn sign_in_form(
    client: &reqwest::Client,
    base: &str,
) -> Result<(String, String), reqwest::Error> {
    let form = client.get(format!("{base}/sign-in")).send().await?;
    let csrf = cookie(&form, "gatehouse_csrf").unwrap_or_default();
    form.bytes().await?;
    let token = csrf.trim_start_matches("gatehouse_csrf=").to_owned();
    Ok((csrf, token))
}

/// The sign-in POST as our own page sends it.
pub fn sign_in_post(
    client: &reqwest::Client,
    base: &str,
    (csrf, token): &(String, String),
    email: &str,
    password: &str,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/sign-in"))
        .header("cookie", csrf)
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
            ("return_to", "/account"),
        ])
}

/// A response's status, after reading its body as a client must.
pub async fn status(response: reqwest::Response) -> Result<u16, reqwest::Error> {
    let status = response.status().as_u16();
    response.bytes().await?;
    Ok(status)
}
