//! Where a finished message goes: an SMTP relay through `lettre`, or, with no relay
//! configured, a `.eml` file in the data folder (the development default).

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailConfig, SmtpTls};

/// How long one SMTP conversation may take before the attempt counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The relay refused it for good (a 5xx reply): retrying cannot help.
    #[error("{0}")]
    Permanent(String),
    /// Worth another try later: no connection, a timeout, a 4xx reply, a full disk.
    #[error("{0}")]
    Transient(String),
}

impl Transport {
    pub fn from_config(mail: &MailConfig) -> Result<Self, String> {
        let Some(smtp) = &mail.smtp else {
            return Ok(Self::Files(mail.files_dir.clone()));
        };
        let builder = match smtp.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &smtp.host,
            )),
        }
        .map_err(|e| format!("smtp_host {}: {e}", smtp.host))?;
        let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self::Smtp(builder.build()))
    }

    /// Hands `message` over. Returns the file written, for the development transport.
    pub async fn send(
        &self,
        id: &str,
        message: &lettre::Message,
    ) -> Result<Option<PathBuf>, SendError> {
        match self {
            Self::Smtp(smtp) => match smtp.send(message.clone()).await {
                Ok(_) => Ok(None),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Transient(e.to_string())),
            },
            Self::Files(dir) => {
                let transient = |e: std::io::Error| {
                    SendError::Transient(format!("cannot write to {}: {e}", dir.display()))
                };
                tokio::fs::create_dir_all(dir).await.map_err(transient)?;
                let path = dir.join(format!("{id}.eml"));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(transient)?;
                Ok(Some(path))
            }
        }
    }
}
