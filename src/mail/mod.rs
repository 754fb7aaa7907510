//! Email that never gets lost: every message is written to the outbox in the same
//! transaction as the change that causes it, then sent by a background worker on any node,
//! with retries, back-off and a dead-letter state. See docs/decisions/0008.

mod message;
mod transport;
mod worker;

pub use message::{Mail, Rendered, lifetime_in_words};
pub use transport::{SendError, Transport};
pub use worker::run_worker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::config::{Config, MailConfig};
use crate::crypto::{DataKey, SealError};
use crate::domain::Email;
use crate::store::{Store, StoreError, Tx};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("cannot render the message: {0}")]
    Render(#[from] askama::Error),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// What the outbox keeps sealed: who the message is for and what it says.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    to: String,
    mail: Mail,
}

/// Queues messages and sends them; cheap to clone, shared by every use case that mails.
#[derive(Debug, Clone)]
pub struct Mailer {
    store: Store,
    clock: SharedClock,
    key: DataKey,
    transport: Transport,
    from: Mailbox,
    /// The issuer URL without a trailing slash: the base of every link.
    site: String,
    /// The host part of every Message-ID.
    host: String,
    max_attempts: u32,
    retry_seconds: u64,
    wake: Arc<Notify>,
}

impl Mailer {
    pub fn new(
        config: &Config,
        store: Store,
        clock: SharedClock,
        key: DataKey,
    ) -> Result<Self, String> {
        let mail: &MailConfig = &config.mail;
        let from = mail
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("mail_from: {e}"))?;
        let site = config.issuer.as_str().trim_end_matches('/').to_owned();
        let host = url::Url::parse(&site)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "gatehouse.invalid".to_owned());
        Ok(Self {
            store,
            clock,
            key,
            transport: Transport::from_config(mail)?,
            from,
            site,
            host,
            max_attempts: mail.max_attempts,
            retry_seconds: mail.retry_seconds,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The key that seals queued mail, also used for other secrets kept at rest.
    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// The base of every link in a message: the configured issuer, never a request header.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// Queues `mail` for `to` inside `tx`. Call [`Mailer::nudge`] after the commit.
    pub async fn queue(
        &self,
        tx: &mut Tx,
        to: &Email,
        user_id: Option<&str>,
        mail: Mail,
        now: DateTime<Utc>,
    ) -> Result<(), MailError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let kind = mail.kind();
        let envelope = Envelope {
            to: to.as_str().to_owned(),
            mail,
        };
        let plain = serde_json::to_vec(&envelope).map_err(|e| MailError::Build(e.to_string()))?;
        let sealed = self.key.seal(&plain, &id)?;
        self.store
            .insert_outbox(tx, &id, kind, user_id, &sealed, now)
            .await?;
        Ok(())
    }

    /// Wakes this node's worker so a message just committed goes out at once.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Sends one message straight away, bypassing the outbox (`gatehouse mail test`).
    pub async fn send_now(
        &self,
        to: &Email,
        mail: &Mail,
    ) -> Result<Option<std::path::PathBuf>, MailError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let message = self.build(&id, to.as_str(), mail)?;
        Ok(self.transport.send(&id, &message).await?)
    }

    /// Renders `mail` into a MIME message whose Message-ID is the outbox id, so a receiver
    /// that sees a retry of a message it already has can tell.
    fn build(&self, id: &str, to: &str, mail: &Mail) -> Result<lettre::Message, MailError> {
        let rendered = mail.render(&self.site)?;
        let to: Mailbox = to
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
        lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(format!("<{id}@{}>", self.host)))
            .date(self.clock.now().into())
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| MailError::Build(e.to_string()))
    }
}
