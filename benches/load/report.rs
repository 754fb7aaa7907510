//! Prints the tables: the machine, each engine's operations against their bounds, the peer
//! side by side, the footprint, and each of issue 10's targets with the figure that meets or
//! misses it.

use std::time::Duration;

use crate::Settings;
use crate::drive::Phase;
use crate::estate::Seeded;
use crate::peer::PeerRun;

/// The raw rate that caps an operation, and how many raw units one operation spends.
pub struct Bound {
    pub name: &'static str,
    pub per_second: f64,
    pub per_operation: f64,
}

impl Bound {
    pub fn new(name: &'static str, per_second: f64, per_operation: f64) -> Self {
        Self {
            name,
            per_second,
            per_operation,
        }
    }

    pub fn ratio(&self, rate: f64) -> f64 {
        rate / (self.per_second / self.per_operation)
    }
}

pub struct Row {
    pub phase: Phase,
    pub bound: Option<Bound>,
}

pub struct EngineRun {
    pub engine: &'static str,
    pub seeded: Option<Seeded>,
    pub rows: Vec<Row>,
    pub raw_rs256: f64,
    pub raw_es256: f64,
    pub raw_argon2: f64,
    pub startup: Duration,
    pub idle_rss_kib: u64,
}

impl EngineRun {
    pub fn phase(&self, prefix: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.phase.name.starts_with(prefix))
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub fn machine(s: &Settings) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    println!(
        "Gatehouse load benchmark: {} cores ({cpu}), {} s per operation, {} concurrent clients \
         (the load generator shares the machine)\n",
        s.cores,
        s.run_for.as_secs(),
        s.clients
    );
}

pub fn table(run: &EngineRun) {
    match &run.seeded {
        None => println!("### {}, empty database\n", run.engine),
        Some(s) => println!(
            "### {}, {} accounts in 25,000 organisations (seeded in {:.1} s; database {:.0} MiB)\n",
            run.engine,
            s.users,
            s.took.as_secs_f64(),
            s.bytes as f64 / 1_048_576.0
        ),
    }
    println!(
        "Raw costs on every core, no HTTP: {:.0} RS256 and {:.0} ES256 access-token signatures/s \
         with the server's keys; {:.1} Argon2id verifications/s with the server's parameters.\n",
        run.raw_rs256, run.raw_es256, run.raw_argon2
    );
    println!(
        "| operation | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU (cores) | peak RSS MiB | bound (raw/s) | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    for row in &run.rows {
        let p = &row.phase;
        let (bound, ratio) = match &row.bound {
            Some(b) => (
                format!("{} ({:.0})", b.name, b.per_second),
                format!("{:.2}", b.ratio(p.rate())),
            ),
            None => ("—".to_owned(), "—".to_owned()),
        };
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.1} | {bound} | {ratio} |",
            p.name,
            p.rate(),
            p.load.p(0.50),
            p.load.p(0.99),
            p.load.p(0.999),
            p.load.refused + p.load.errors,
            p.cores,
            mib(p.peak_rss_kib),
        );
    }
    println!();
}

pub fn peers(ours: &EngineRun, peers: &[(&str, PeerRun)]) {
    if peers.is_empty() {
        return;
    }
    println!("### Against oidc-provider (Node.js), client_credentials with JWT access tokens\n");
    println!(
        "| | tokens/s | p99 ms | server CPU (cores) | idle RSS MiB | peak RSS MiB | Gatehouse ÷ peer |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (alg, peer) in peers {
        let Some(row) = ours.phase(&format!("client_credentials {alg}")) else {
            continue;
        };
        for (who, phase, idle) in [
            (
                format!("Gatehouse ({}) {alg}", ours.engine),
                &row.phase,
                ours.idle_rss_kib,
            ),
            (
                format!("oidc-provider {alg}"),
                &peer.tokens,
                peer.idle_rss_kib,
            ),
        ] {
            println!(
                "| {who} | {:.0} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
                phase.rate(),
                phase.load.p(0.99),
                phase.cores,
                mib(idle),
                mib(phase.peak_rss_kib),
                if std::ptr::eq(phase, &peer.tokens) {
                    String::new()
                } else {
                    format!("{:.1}×", phase.rate() / peer.tokens.rate())
                }
            );
        }
    }
    println!();
}

/// Each operation's throughput and p99 with the seeded accounts beside the empty database.
pub fn scale(empty: &EngineRun, full: &EngineRun) {
    let users = full.seeded.as_ref().map_or(0, |s| s.users);
    println!(
        "### {}: {users} accounts against an empty database\n",
        empty.engine
    );
    if let Some(s) = &full.seeded {
        println!(
            "Migration dashboard over {users} imported contacts: the page reads the saved \
             count in {:.1} ms (median of 5; slowest {:.1} ms; target under 1 s: {}); a \
             full count, made in the background, took {:.1} s.\n",
            s.dashboard_ms[s.dashboard_ms.len() / 2],
            s.dashboard_ms.last().copied().unwrap_or(0.0),
            if s.dashboard_ms.last().is_some_and(|ms| *ms < 1000.0) {
                "met"
            } else {
                "not met"
            },
            s.count_ms / 1000.0
        );
    }
    println!(
        "| operation | req/s empty | req/s seeded | seeded ÷ empty | p99 ms empty | p99 ms seeded |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for row in &empty.rows {
        let Some(other) = full.phase(&row.phase.name) else {
            continue;
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
            row.phase.name,
            row.phase.rate(),
            other.phase.rate(),
            other.phase.rate() / row.phase.rate(),
            row.phase.load.p(0.99),
            other.phase.load.p(0.99)
        );
    }
    println!();
}

pub fn footprint(runs: &[EngineRun]) {
    let binary = std::fs::metadata(env!("CARGO_BIN_EXE_gatehouse")).map_or(0, |m| m.len());
    println!("### Footprint\n");
    println!("| | value |");
    println!("|---|---:|");
    println!("| binary size | {:.1} MiB |", binary as f64 / 1_048_576.0);
    for run in runs {
        let busiest = run
            .rows
            .iter()
            .map(|r| r.phase.peak_rss_kib)
            .max()
            .unwrap_or(0);
        println!(
            "| {}: start-up to ready, existing database | {:.0} ms |",
            run.engine,
            run.startup.as_secs_f64() * 1000.0
        );
        println!(
            "| {}: idle RSS | {:.1} MiB |",
            run.engine,
            mib(run.idle_rss_kib)
        );
        println!(
            "| {}: highest peak RSS under load | {:.1} MiB |",
            run.engine,
            mib(busiest)
        );
    }
    println!();
}

/// Issue 10's targets, each with the figure measured against it.
pub fn targets(run: &EngineRun, peers: &[(&str, PeerRun)], s: &Settings) {
    println!("### Targets ({})\n", run.engine);
    println!("| target | measured | met |");
    println!("|---|---|---|");
    let line = |target: &str, measured: String, met: bool| {
        println!(
            "| {target} | {measured} | {} |",
            if met { "yes" } else { "no" }
        );
    };
    // The configured algorithm is RS256 (the default for every service); ES256's bound is
    // shown in the table but sits far above what HTTP can carry on this machine.
    for (prefix, bound) in [
        ("client_credentials RS256", 0.8),
        ("refresh", 0.8),
        ("password sign-in", 0.85),
    ] {
        if let Some(Row {
            phase,
            bound: Some(b),
        }) = run.phase(prefix)
        {
            let ratio = b.ratio(phase.rate());
            line(
                &format!("{prefix} ≥ {bound} of its bound"),
                format!(
                    "{ratio:.2} ({:.0}/s of {:.0}/s)",
                    phase.rate(),
                    b.per_second / b.per_operation
                ),
                ratio >= bound,
            );
        }
    }
    for (alg, peer) in peers {
        let Some(row) = run.phase(&format!("client_credentials {alg}")) else {
            continue;
        };
        let want = if *alg == "RS256" { 2.0 } else { 5.0 };
        let times = row.phase.rate() / peer.tokens.rate();
        line(
            &format!("{want}× oidc-provider's {alg} client_credentials throughput"),
            format!("{times:.1}×"),
            times >= want,
        );
        line(
            &format!("lower p99 than oidc-provider ({alg})"),
            format!(
                "{:.2} ms vs {:.2} ms",
                row.phase.load.p(0.99),
                peer.tokens.load.p(0.99)
            ),
            row.phase.load.p(0.99) < peer.tokens.load.p(0.99),
        );
        line(
            &format!("a third of oidc-provider's memory ({alg}, peak under the same load)"),
            format!(
                "{:.1} MiB vs {:.1} MiB",
                mib(row.phase.peak_rss_kib),
                mib(peer.tokens.peak_rss_kib)
            ),
            row.phase.peak_rss_kib * 3 <= peer.tokens.peak_rss_kib,
        );
    }
    line(
        "idle RSS under 25 MiB",
        format!("{:.1} MiB", mib(run.idle_rss_kib)),
        run.idle_rss_kib < 25 * 1024,
    );
    // Each core hashing holds one Argon2id working area (19 MiB by default).
    let argon2_kib = 19_456 * s.cores as u64;
    let busiest = run
        .rows
        .iter()
        .map(|r| r.phase.peak_rss_kib)
        .max()
        .unwrap_or(0);
    line(
        "RSS under load under 150 MiB + Argon2 working memory",
        format!(
            "{:.1} MiB (limit {:.1} MiB)",
            mib(busiest),
            mib(150 * 1024 + argon2_kib)
        ),
        busiest < 150 * 1024 + argon2_kib,
    );
    line(
        "start-up to ready under 1 s on an existing database",
        format!("{:.0} ms", run.startup.as_secs_f64() * 1000.0),
        run.startup < Duration::from_secs(1),
    );
    println!();
}
