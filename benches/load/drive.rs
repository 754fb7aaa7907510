//! The load generator: many keep-alive HTTP clients calling one operation as fast as the
//! server answers, for a fixed time or until the prepared work runs out, while the server's
//! CPU time and peak memory are read from /proc.

use std::future::Future;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::{Load, client, rss_kib};

/// What one call reports: a status, or `DONE` when there is no prepared work left.
pub const DONE: u16 = 0;

/// One operation's figures.
pub struct Phase {
    pub name: String,
    pub load: Load,
    /// Server CPU seconds per wall second (2.0 = two cores busy).
    pub cores: f64,
    pub peak_rss_kib: u64,
}

impl Phase {
    pub fn rate(&self) -> f64 {
        self.load.ok as f64 / self.load.elapsed.as_secs_f64()
    }
}

/// Runs `call` from `clients` workers for `run_for` (or until a call answers [`DONE`]);
/// a 200 counts as done, anything else as an error.
pub async fn saturate<F, Fut>(
    name: &str,
    pid: u32,
    base: &str,
    clients: usize,
    run_for: Duration,
    call: F,
) -> Phase
where
    F: Fn(reqwest::Client, String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<u16, reqwest::Error>> + Send,
{
    let base = base.to_owned();
    measured(name, pid, move |started| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                let (base, call) = (base.clone(), call.clone());
                tokio::spawn(async move {
                    let client = client();
                    let mut load = Load::default();
                    while started.elapsed() < run_for {
                        let t = Instant::now();
                        match call(client.clone(), base.clone()).await {
                            Ok(DONE) => break,
                            Ok(200) => {
                                load.ok += 1;
                                load.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                            }
                            Ok(_) => load.refused += 1,
                            Err(_) => load.errors += 1,
                        }
                    }
                    load
                })
            })
            .collect();
        gather(workers)
    })
    .await
}

/// Every worker's figures, added up.
pub async fn gather(workers: Vec<tokio::task::JoinHandle<Load>>) -> Load {
    let mut load = Load::default();
    for w in workers {
        load.add(w.await.unwrap());
    }
    load
}

/// Runs the load `run` starts (given its start time) and measures the server `pid` meanwhile:
/// CPU seconds per wall second and peak memory.
pub async fn measured<R, Fut>(name: &str, pid: u32, run: R) -> Phase
where
    R: FnOnce(Instant) -> Fut,
    Fut: Future<Output = Load>,
{
    eprintln!("   {name}");
    let perf = profile(name, pid);
    reset_peak(pid);
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let mut load = run(started).await;
    load.elapsed = started.elapsed();
    let cores = (cpu_seconds(pid) - cpu_before) / load.elapsed.as_secs_f64();
    if let Some(mut perf) = perf {
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    Phase {
        name: name.to_owned(),
        load,
        cores,
        peak_rss_kib: rss_kib(pid, "VmHWM"),
    }
}

/// With `BENCH_PERF` set to the start of `name`, records the server's stacks during the
/// phase with `perf record` into `perf-<phase>.data` in the working directory.
fn profile(name: &str, pid: u32) -> Option<std::process::Child> {
    let wanted = std::env::var("BENCH_PERF").ok()?;
    if wanted.is_empty() || !name.starts_with(&wanted) {
        return None;
    }
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Command::new("perf")
        .args(["record", "-g", "-F", "997", "-p", &pid.to_string(), "-o"])
        .arg(format!("perf-{file}.data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()
}

/// Starts a new peak-memory window for `pid` (Linux: writing 5 to clear_refs resets VmHWM).
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// User plus system CPU seconds `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15: indexes 11 and 12 after the state.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
