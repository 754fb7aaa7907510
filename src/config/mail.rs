//! Mail settings: where email goes (an SMTP relay, or `.eml` files in the data folder when
//! none is configured) and how hard the outbox tries before it gives a message up.

use std::net::IpAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid, read_secret_file};

/// How the connection to the SMTP relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on this machine.
    None,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starttls => "starttls",
            Self::Tls => "tls",
            Self::None => "none",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// The relay email is handed to.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `None`: the development default, each message written as a `.eml` file.
    pub smtp: Option<SmtpConfig>,
    /// The `From:` of every message, such as `Gatehouse <no-reply@example.gov.uk>`.
    pub from: String,
    /// Attempts before a message becomes a dead letter.
    pub max_attempts: u32,
    /// Wait before the first retry; it doubles with each failure, up to an hour.
    pub retry_seconds: u64,
    /// Where `.eml` files go when there is no relay.
    pub files_dir: PathBuf,
}

/// The mail keys as read from the layers.
#[derive(Debug)]
pub(super) struct MailLayer {
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    pub smtp_password_file: Option<PathBuf>,
    pub mail_from: String,
    pub mail_max_attempts: u32,
    pub mail_retry_seconds: u64,
}

pub(super) fn validate(
    layer: MailLayer,
    data_dir: &std::path::Path,
) -> Result<MailConfig, ConfigError> {
    if layer.mail_from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(invalid(
            "mail_from",
            "must be an address such as \"Gatehouse <no-reply@example.gov.uk>\"",
        ));
    }
    if layer.mail_max_attempts == 0 {
        return Err(invalid("mail_max_attempts", "must be at least 1"));
    }
    if layer.mail_retry_seconds == 0 {
        return Err(invalid("mail_retry_seconds", "must be at least 1"));
    }
    let password = match (layer.smtp_password, layer.smtp_password_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "smtp_password",
                "give smtp_password or smtp_password_file, not both",
            ));
        }
        (Some(p), None) => Some(p),
        (None, Some(path)) => Some(read_secret_file("smtp_password_file", &path)?),
        (None, None) => None,
    };
    let smtp = match layer.smtp_host.map(|h| h.trim().to_owned()) {
        None => None,
        Some(host) if host.is_empty() || host.contains(['/', ' ', '\r', '\n']) => {
            return Err(invalid("smtp_host", "must be a host name or IP address"));
        }
        Some(host) => {
            if layer.smtp_tls == SmtpTls::None && !is_loopback(&host) {
                return Err(invalid(
                    "smtp_tls",
                    "\"none\" sends mail unencrypted, so it is only allowed for a relay on this machine (localhost); use \"starttls\" or \"tls\"",
                ));
            }
            if password.is_some() != layer.smtp_username.is_some() {
                return Err(invalid(
                    "smtp_username",
                    "give both smtp_username and a password, or neither",
                ));
            }
            Some(SmtpConfig {
                port: layer.smtp_port.unwrap_or(layer.smtp_tls.default_port()),
                host,
                tls: layer.smtp_tls,
                username: layer.smtp_username,
                password,
            })
        }
    };
    Ok(MailConfig {
        smtp,
        from: layer.mail_from,
        max_attempts: layer.mail_max_attempts,
        retry_seconds: layer.mail_retry_seconds,
        files_dir: data_dir.join("mail"),
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
