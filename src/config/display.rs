//! `gatehouse check-config` output: every effective setting, with secrets redacted.

use std::fmt;

use secrecy::ExposeSecret;
use url::Url;

use super::{Config, LogFormat};

impl Config {
    /// The database URL with any password replaced, safe to print or log.
    pub fn database_url_redacted(&self) -> String {
        redact_url(self.database_url.expose_secret())
    }

    /// The effective configuration as TOML-style lines, secrets redacted.
    pub fn redacted(&self) -> impl fmt::Display + '_ {
        Redacted(self)
    }
}

struct Redacted<'a>(&'a Config);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let format = match c.log_format {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        };
        writeln!(f, "listen = \"{}\"", c.listen)?;
        writeln!(f, "issuer = \"{}\"", c.issuer)?;
        writeln!(f, "database_url = \"{}\"", c.database_url_redacted())?;
        writeln!(
            f,
            "database_max_connections = {}",
            c.database_max_connections
        )?;
        writeln!(f, "data_dir = \"{}\"", c.data_dir.display())?;
        writeln!(f, "keys_dir = \"{}\"", c.keys_dir.display())?;
        writeln!(f, "log_format = \"{format}\"")?;
        writeln!(f, "log_level = \"{}\"", c.log_level)?;
        writeln!(f, "body_limit = {}", c.body_limit)?;
        writeln!(f, "request_timeout_seconds = {}", c.request_timeout_seconds)?;
        writeln!(f, "argon2_memory_kib = {}", c.argon2_memory_kib)?;
        writeln!(f, "argon2_iterations = {}", c.argon2_iterations)?;
        writeln!(f, "argon2_parallelism = {}", c.argon2_parallelism)?;
        writeln!(f, "hash_queue_limit = {}", c.hash_queue_limit)?;
        writeln!(f, "hash_queue_timeout_ms = {}", c.hash_queue_timeout_ms)?;
        writeln!(f, "session_idle_minutes = {}", c.session_idle_minutes)?;
        writeln!(f, "session_absolute_hours = {}", c.session_absolute_hours)?;
        writeln!(f, "sign_in_ip_burst = {}", c.sign_in_ip_burst)?;
        writeln!(f, "sign_in_ip_per_minute = {}", c.sign_in_ip_per_minute)?;
        let proxies: Vec<String> = c
            .trusted_proxies
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect();
        writeln!(f, "trusted_proxies = [{}]", proxies.join(", "))?;
        let source = match c.time_source {
            super::TimeSource::Database => "database",
            super::TimeSource::Local => "local",
        };
        writeln!(f, "time_source = \"{source}\"")?;
        writeln!(f, "time_check_seconds = {}", c.time_check_seconds)?;
        writeln!(f, "migration_count_seconds = {}", c.migration_count_seconds)?;
        let r = &c.audit_retention;
        writeln!(f, "audit_keep_sign_ins_days = {}", r.sign_ins_days)?;
        writeln!(f, "audit_keep_mail_days = {}", r.mail_days)?;
        writeln!(f, "audit_keep_staff_reads_days = {}", r.staff_reads_days)?;
        let m = &c.mail;
        match &m.smtp {
            Some(smtp) => {
                writeln!(f, "smtp_host = \"{}\"", smtp.host)?;
                writeln!(f, "smtp_port = {}", smtp.port)?;
                writeln!(f, "smtp_tls = \"{}\"", smtp.tls.as_str())?;
                if let Some(user) = &smtp.username {
                    writeln!(f, "smtp_username = \"{user}\"")?;
                    writeln!(f, "smtp_password = \"REDACTED\"")?;
                }
            }
            None => writeln!(
                f,
                "# no smtp_host: mail is written as .eml files to {}",
                m.files_dir.display()
            )?,
        }
        writeln!(f, "mail_from = {:?}", m.from)?;
        writeln!(f, "mail_max_attempts = {}", m.max_attempts)?;
        write!(f, "mail_retry_seconds = {}", m.retry_seconds)
    }
}

/// Replaces the password (and any `password=` query parameter) in a database URL.
pub(crate) fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "(unparseable URL, not shown)".to_owned();
    };
    if url.password().is_some() {
        // Url only refuses a password on URLs that cannot carry one, which we just read one from.
        let _ = url.set_password(Some("REDACTED"));
    }
    let has_secret_param = url.query_pairs().any(|(k, _)| k == "password");
    if has_secret_param {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "REDACTED".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn hides_passwords_in_database_urls() {
        let shown = redact_url("postgres://gate:hunter2hunter2@db.internal:5432/gatehouse");
        assert_eq!(shown, "postgres://gate:REDACTED@db.internal:5432/gatehouse");
        let shown = redact_url("postgres://db.internal/gatehouse?user=gate&password=s3cret");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(
            redact_url("sqlite://data/gatehouse.db"),
            "sqlite://data/gatehouse.db"
        );
    }
}
