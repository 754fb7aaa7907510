//! Structured logs with `tracing`: human-readable for development, JSON for production.
//! Every line written while serving a request carries that request's id (see `http::observe`).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call once per process; a second call is ignored
/// (tests start many servers in one process).
pub fn init(format: LogFormat, level: &str) {
    // PostgreSQL's notices ("relation already exists, skipping") reach sqlx's INFO level;
    // they are noise to an operator unless asked for by name.
    let directive = if level.contains("sqlx") {
        level.to_owned()
    } else {
        format!("{level},sqlx=warn")
    };
    let filter = EnvFilter::try_new(directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}
