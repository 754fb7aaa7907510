//! Layered configuration: defaults, then `gatehouse.toml`, then `GATEHOUSE_*` environment
//! variables, then command-line flags. Unknown keys are errors; secrets stay redacted.

mod display;
mod issuer;
mod mail;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::audit::Retention;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use issuer::Issuer;
pub use mail::{MailConfig, SmtpConfig, SmtpTls};

/// Where the configuration file is looked for when neither `--config` nor
/// `GATEHOUSE_CONFIG` names one. A missing default file is fine; a missing named file is not.
pub const DEFAULT_CONFIG_FILE: &str = "gatehouse.toml";

/// The effective configuration of one Gatehouse process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Socket address the HTTP server binds.
    pub listen: SocketAddr,
    /// Public issuer URL, exactly as services will see it.
    pub issuer: Issuer,
    /// `sqlite://…` or `postgres://…`; may carry a password, so it is a secret.
    pub database_url: SecretString,
    /// Upper bound on pooled database connections.
    pub database_max_connections: u32,
    /// Folder for the SQLite database and development mail.
    pub data_dir: PathBuf,
    /// Folder for signing keys and the data-encryption key.
    pub keys_dir: PathBuf,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `gatehouse=debug,sqlx=warn`.
    pub log_level: String,
    /// Largest accepted request body in bytes; larger bodies get 413.
    pub body_limit: usize,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_seconds: u64,
    /// Argon2id cost for new password hashes (older hashes are upgraded at sign-in).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes that may wait for a free core before sign-in answers 503.
    pub hash_queue_limit: usize,
    /// Milliseconds a password hash may wait for a free core before sign-in answers 503.
    pub hash_queue_timeout_ms: u64,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, however active.
    pub session_absolute_hours: u32,
    /// Sign-in attempts one IP address may make in a burst…
    pub sign_in_ip_burst: u32,
    /// …and per minute after that.
    pub sign_in_ip_per_minute: u32,
    /// Load balancers whose `X-Forwarded-For` is believed; from anyone else it is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// Whose clock the node keeps time by (decision 0020).
    pub time_source: TimeSource,
    /// Seconds between readings of the database's clock.
    pub time_check_seconds: u64,
    /// Seconds between counts of the Authentix migration dashboard (decision 0021).
    pub migration_count_seconds: u64,
    /// Where email goes and how the outbox retries.
    pub mail: MailConfig,
    /// Days each category of audit event is kept whole (`gatehouse audit prune`).
    pub audit_retention: Retention,
}

/// Whose clock a node keeps time by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeSource {
    /// The database's, read every `time_check_seconds`: every node agrees, however far its
    /// own clock has drifted.
    Database,
    /// This machine's own clock, unchecked.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// What the configuration file, the environment and the flags may say. Every key is optional
/// here; [`Defaults`] fills the gaps.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layered {
    listen: String,
    issuer: String,
    database_url: Option<SecretString>,
    database_url_file: Option<PathBuf>,
    database_max_connections: u32,
    data_dir: PathBuf,
    keys_dir: PathBuf,
    log_format: LogFormat,
    log_level: String,
    body_limit: usize,
    request_timeout_seconds: u64,
    argon2_memory_kib: u32,
    argon2_iterations: u32,
    argon2_parallelism: u32,
    hash_queue_limit: usize,
    hash_queue_timeout_ms: u64,
    session_idle_minutes: u32,
    session_absolute_hours: u32,
    sign_in_ip_burst: u32,
    sign_in_ip_per_minute: u32,
    trusted_proxies: Vec<String>,
    time_source: TimeSource,
    time_check_seconds: u64,
    migration_count_seconds: u64,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: SmtpTls,
    smtp_username: Option<String>,
    smtp_password: Option<SecretString>,
    smtp_password_file: Option<PathBuf>,
    mail_from: String,
    mail_max_attempts: u32,
    mail_retry_seconds: u64,
    audit_keep_sign_ins_days: u32,
    audit_keep_mail_days: u32,
    audit_keep_staff_reads_days: u32,
}

#[derive(Debug, Serialize)]
struct Defaults {
    listen: &'static str,
    issuer: &'static str,
    database_max_connections: u32,
    data_dir: &'static str,
    keys_dir: &'static str,
    log_format: LogFormat,
    log_level: &'static str,
    body_limit: usize,
    request_timeout_seconds: u64,
    argon2_memory_kib: u32,
    argon2_iterations: u32,
    argon2_parallelism: u32,
    hash_queue_limit: usize,
    hash_queue_timeout_ms: u64,
    session_idle_minutes: u32,
    session_absolute_hours: u32,
    sign_in_ip_burst: u32,
    sign_in_ip_per_minute: u32,
    trusted_proxies: [&'static str; 0],
    time_source: TimeSource,
    time_check_seconds: u64,
    migration_count_seconds: u64,
    smtp_tls: SmtpTls,
    mail_from: &'static str,
    mail_max_attempts: u32,
    mail_retry_seconds: u64,
    audit_keep_sign_ins_days: u32,
    audit_keep_mail_days: u32,
    audit_keep_staff_reads_days: u32,
}

const DEFAULTS: Defaults = Defaults {
    listen: "127.0.0.1:8080",
    issuer: "http://localhost:8080",
    database_max_connections: 16,
    data_dir: "data",
    keys_dir: "keys",
    log_format: LogFormat::Pretty,
    log_level: "info",
    body_limit: 64 * 1024,
    request_timeout_seconds: 30,
    argon2_memory_kib: 19_456,
    argon2_iterations: 2,
    argon2_parallelism: 1,
    hash_queue_limit: 256,
    hash_queue_timeout_ms: 5_000,
    session_idle_minutes: 30,
    session_absolute_hours: 12,
    // A school's staff often share one address: allow a morning rush from one building.
    sign_in_ip_burst: 100,
    sign_in_ip_per_minute: 60,
    trusted_proxies: [],
    time_source: TimeSource::Database,
    time_check_seconds: 60,
    // A full count reads every imported contact: at a million, tens of seconds of one core.
    migration_count_seconds: 600,
    smtp_tls: SmtpTls::Starttls,
    mail_from: "Gatehouse <no-reply@localhost>",
    mail_max_attempts: 10,
    mail_retry_seconds: 30,
    // Sign-ins carry addresses and browsers: kept 13 months, long enough to compare a year.
    audit_keep_sign_ins_days: 400,
    audit_keep_mail_days: 180,
    // Who looked at whom is kept two years, as staff accountability.
    audit_keep_staff_reads_days: 730,
};

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

/// Which configuration file to read.
#[derive(Debug, Default, Clone)]
pub enum ConfigFile {
    /// `./gatehouse.toml` if it exists.
    #[default]
    Default,
    /// A file named by `--config` or `GATEHOUSE_CONFIG`: it must exist.
    Named(PathBuf),
    /// No file at all.
    None,
}

/// Which layers to read.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub file: ConfigFile,
    /// Read `GATEHOUSE_*` environment variables (tests switch this off).
    pub environment: bool,
    pub overrides: Overrides,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist; create it or point --config elsewhere")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Layer(String),
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("{key}: cannot read {path}: {source}")]
    SecretFile {
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Config {
    /// Reads every layer and validates the result.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(DEFAULTS));
        match &sources.file {
            ConfigFile::Named(path) if !path.exists() => {
                return Err(ConfigError::MissingFile(path.clone()));
            }
            ConfigFile::Named(path) => figment = figment.merge(Toml::file_exact(path)),
            ConfigFile::Default if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            ConfigFile::Default | ConfigFile::None => {}
        }
        if sources.environment {
            // GATEHOUSE_CONFIG names the file itself and is not a configuration key.
            figment = figment.merge(Env::prefixed("GATEHOUSE_").ignore(&["CONFIG"]));
        }
        figment = figment.merge(Serialized::globals(&sources.overrides));
        let layered: Layered = figment
            .extract()
            .map_err(|e| ConfigError::Layer(first_error(e)))?;
        Self::validate(layered)
    }

    fn validate(layered: Layered) -> Result<Self, ConfigError> {
        let listen = layered.listen.parse().map_err(|_| {
            invalid(
                "listen",
                "must be an address and port such as 127.0.0.1:8080",
            )
        })?;
        let issuer = Issuer::parse(&layered.issuer).map_err(|m| invalid("issuer", m))?;
        let database_url = match (layered.database_url, layered.database_url_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "database_url",
                    "give database_url or database_url_file, not both",
                ));
            }
            (Some(url), None) => url,
            (None, Some(path)) => read_secret_file("database_url_file", &path)?,
            (None, None) => default_database_url(&layered.data_dir),
        };
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|p| database_url.expose_secret().starts_with(p));
        if !scheme_ok {
            return Err(invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&layered.log_level).map_err(|_| {
            invalid(
                "log_level",
                "must be a level (error, warn, info, debug, trace) or a tracing filter",
            )
        })?;
        if layered.body_limit < 1024 {
            return Err(invalid("body_limit", "must be at least 1024 bytes"));
        }
        if layered.request_timeout_seconds == 0 {
            return Err(invalid("request_timeout_seconds", "must be at least 1"));
        }
        if !(1..=3600).contains(&layered.time_check_seconds) {
            return Err(invalid("time_check_seconds", "must be between 1 and 3600"));
        }
        if !(10..=86_400).contains(&layered.migration_count_seconds) {
            return Err(invalid(
                "migration_count_seconds",
                "must be between 10 and 86400",
            ));
        }
        if layered.database_max_connections < 2 {
            return Err(invalid("database_max_connections", "must be at least 2"));
        }
        if layered.argon2_memory_kib < 19_456 || layered.argon2_iterations < 2 {
            return Err(invalid(
                "argon2_memory_kib",
                "Argon2id must use at least OWASP's minimum: 19456 KiB and 2 iterations",
            ));
        }
        if layered.argon2_parallelism == 0 {
            return Err(invalid("argon2_parallelism", "must be at least 1"));
        }
        if layered.session_idle_minutes == 0 || layered.session_absolute_hours == 0 {
            return Err(invalid(
                "session_idle_minutes",
                "session lifetimes must be at least 1",
            ));
        }
        let trusted_proxies = layered
            .trusted_proxies
            .iter()
            .map(|p| p.trim().parse::<IpAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| invalid("trusted_proxies", "must be a list of IP addresses"))?;
        if layered.sign_in_ip_burst == 0 || layered.sign_in_ip_per_minute == 0 {
            return Err(invalid(
                "sign_in_ip_burst",
                "sign-in rate limits must be at least 1",
            ));
        }
        let mail = mail::validate(
            mail::MailLayer {
                smtp_host: layered.smtp_host,
                smtp_port: layered.smtp_port,
                smtp_tls: layered.smtp_tls,
                smtp_username: layered.smtp_username,
                smtp_password: layered.smtp_password,
                smtp_password_file: layered.smtp_password_file,
                mail_from: layered.mail_from,
                mail_max_attempts: layered.mail_max_attempts,
                mail_retry_seconds: layered.mail_retry_seconds,
            },
            &layered.data_dir,
        )?;
        Ok(Self {
            listen,
            issuer,
            database_url,
            database_max_connections: layered.database_max_connections,
            data_dir: layered.data_dir,
            keys_dir: layered.keys_dir,
            log_format: layered.log_format,
            log_level: layered.log_level,
            body_limit: layered.body_limit,
            request_timeout_seconds: layered.request_timeout_seconds,
            argon2_memory_kib: layered.argon2_memory_kib,
            argon2_iterations: layered.argon2_iterations,
            argon2_parallelism: layered.argon2_parallelism,
            hash_queue_limit: layered.hash_queue_limit,
            hash_queue_timeout_ms: layered.hash_queue_timeout_ms,
            session_idle_minutes: layered.session_idle_minutes,
            session_absolute_hours: layered.session_absolute_hours,
            sign_in_ip_burst: layered.sign_in_ip_burst,
            sign_in_ip_per_minute: layered.sign_in_ip_per_minute,
            trusted_proxies,
            time_source: layered.time_source,
            time_check_seconds: layered.time_check_seconds,
            migration_count_seconds: layered.migration_count_seconds,
            mail,
            audit_retention: Retention {
                sign_ins_days: layered.audit_keep_sign_ins_days,
                mail_days: layered.audit_keep_mail_days,
                staff_reads_days: layered.audit_keep_staff_reads_days,
            },
        })
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn default_database_url(data_dir: &Path) -> SecretString {
    SecretString::from(format!("sqlite://{}/gatehouse.db", data_dir.display()))
}

/// Reads a secret from a `*_FILE` path, dropping the trailing newline editors add.
fn read_secret_file(key: &'static str, path: &Path) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        key,
        path: path.to_path_buf(),
        source,
    })?;
    Ok(SecretString::from(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// Figment can report several problems; one readable line is what an operator needs first.
fn first_error(error: figment::Error) -> String {
    error
        .into_iter()
        .next()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "invalid configuration".to_owned())
}
