//! What each subcommand does.

use std::sync::Arc;

use crate::clock::SystemClock;
use crate::config::{Config, Sources};
use crate::server::{Server, StartupError, open_store};
use crate::telemetry;

use super::Failure;

impl From<StartupError> for Failure {
    fn from(e: StartupError) -> Self {
        Self {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

pub(super) fn load(sources: &Sources) -> Result<Config, Failure> {
    Config::load(sources).map_err(|e| Failure {
        code: 2,
        message: format!("configuration: {e}"),
    })
}

pub async fn serve(sources: &Sources) -> Result<(), Failure> {
    let config = load(sources)?;
    telemetry::init(config.log_format, &config.log_level);
    let issuer = config.issuer.clone();
    let server = Server::build(config, Arc::new(SystemClock)).await?;
    let addr = server.local_addr();
    tracing::info!(%addr, %issuer, "Gatehouse is listening");
    println!("Gatehouse is listening on http://{addr} (issuer {issuer}). Press Ctrl-C to stop.");
    server.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

pub async fn migrate(sources: &Sources) -> Result<(), Failure> {
    let config = load(sources)?;
    telemetry::init(config.log_format, &config.log_level);
    let store = open_store(&config).await?;
    store.close().await;
    println!(
        "The database at {} is up to date.",
        config.database_url_redacted()
    );
    Ok(())
}

pub fn check_config(sources: &Sources) -> Result<(), Failure> {
    let config = load(sources)?;
    println!("{}", config.redacted());
    Ok(())
}

pub async fn audit_verify(sources: &Sources) -> Result<(), Failure> {
    let config = load(sources)?;
    telemetry::init(config.log_format, &config.log_level);
    let store = open_store(&config).await?;
    let verdict = store.verify_audit_chain().await;
    store.close().await;
    match verdict {
        Ok(Ok(count)) => {
            println!("The audit trail is intact: {count} events, every hash checked.");
            Ok(())
        }
        Ok(Err(brk)) => Err(Failure {
            code: 1,
            message: format!(
                "the audit trail is broken at event {}: {}",
                brk.seq, brk.reason
            ),
        }),
        Err(e) => Err(Failure {
            code: 1,
            message: format!("cannot read the audit trail: {e}"),
        }),
    }
}

pub async fn audit_prune(sources: &Sources, dry_run: bool) -> Result<(), Failure> {
    let config = load(sources)?;
    telemetry::init(config.log_format, &config.log_level);
    let store = open_store(&config).await?;
    let clock = crate::server::open_clock(&config, &store).await?;
    let report = crate::admin::prune_audit(&store, &clock, config.audit_retention, dry_run).await;
    store.close().await;
    let report = report.map_err(|e| Failure {
        code: 1,
        message: format!("cannot prune the audit trail: {e}"),
    })?;
    let verb = if dry_run { "would blank" } else { "blanked" };
    for p in report {
        println!(
            "{}: {verb} {} events before {}",
            p.category.name(),
            p.events,
            p.before.format("%Y-%m-%d %H:%M UTC")
        );
    }
    Ok(())
}

/// `--since`: a date (midnight UTC) or an RFC 3339 time, as milliseconds.
fn since_millis(value: &str) -> Result<i64, Failure> {
    let value = value.trim();
    let parsed = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.to_utc())
        });
    parsed.map(|t| t.timestamp_millis()).ok_or_else(|| Failure {
        code: 2,
        message: format!("--since {value:?}: give a date like 2026-11-01 or an RFC 3339 time"),
    })
}

/// Events read per page while exporting.
const EXPORT_PAGE: i64 = 1000;

pub async fn audit_export(sources: &Sources, since: &str, format: &str) -> Result<(), Failure> {
    let since = since_millis(since)?;
    let format = crate::audit::ExportFormat::parse(format).ok_or_else(|| Failure {
        code: 2,
        message: format!("--format {format:?}: use jsonl or csv"),
    })?;
    let config = load(sources)?;
    telemetry::init(config.log_format, &config.log_level);
    let store = open_store(&config).await?;
    let written = async {
        let io = |e: std::io::Error| Failure {
            code: 1,
            message: format!("cannot write the export: {e}"),
        };
        let stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let mut out = crate::audit::Exporter::new(format, stdout).map_err(io)?;
        let mut after = 0;
        loop {
            let page = store
                .audit_since(after, since, EXPORT_PAGE)
                .await
                .map_err(|e| Failure {
                    code: 1,
                    message: format!("cannot read the audit trail: {e}"),
                })?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for row in &page {
                out.write(row).map_err(io)?;
            }
        }
        out.finish().map_err(io)
    }
    .await;
    store.close().await;
    written
}

/// Completes on Ctrl-C or SIGTERM, starting a graceful shutdown.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminate = async {
        match term.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
