//! The email-driven account journeys (invitation and activation, forgotten password, change of
//! email) share one handle with what they all need, and one error type.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Semaphore;

use crate::audit::RequestContext;
use crate::domain::Email;

use crate::auth::password::PolicyViolation;
use crate::auth::session::{RandomError, hash_secret, random_hex_256};
use crate::auth::{Auth, AuthError};
use crate::clock::SharedClock;
use crate::mail::Mail;
use crate::mail::{MailError, Mailer};
use crate::store::{ClientRow, Store, StoreError, Tx, UserRow};

/// How long an email-change code works, and how many tries it allows.
pub const EMAIL_CODE_LIFETIME: Duration = Duration::hours(1);
pub const EMAIL_CODE_ATTEMPTS: i64 = 5;

/// Stored `purpose` of each kind of link or code.
pub const ACTIVATION: &str = "activation";
pub const RESET: &str = "reset";
pub const EMAIL_CHANGE: &str = "email_change";

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// A field is wrong; `field` names the form input.
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    /// The link is unknown, used, superseded or expired: one answer for all four.
    #[error("This link has expired")]
    LinkExpired,
    #[error("An account with that email address already exists")]
    EmailTaken,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
    #[error(transparent)]
    Internal(#[from] AuthError),
}

impl FlowError {
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Field {
            field,
            message: message.into(),
        }
    }
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::EmailTaken,
            other => Self::Internal(other.into()),
        }
    }
}

impl From<MailError> for FlowError {
    fn from(e: MailError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<RandomError> for FlowError {
    fn from(e: RandomError) -> Self {
        Self::Internal(e.into())
    }
}

/// Invitations, activation, password reset and change of email, for pages, the CLI and
/// (later) approvers and the helpdesk.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) auth: Auth,
    pub(crate) mailer: Mailer,
    /// Bounds reset requests being worked on after their page was answered.
    background: Arc<Semaphore>,
}

/// Reset requests that may be in progress at once on one node; beyond it they are dropped
/// (and counted), so a flood cannot pile up work.
const BACKGROUND_LIMIT: usize = 64;

impl Lifecycle {
    pub fn new(store: Store, clock: SharedClock, auth: Auth, mailer: Mailer) -> Self {
        Self {
            store,
            clock,
            auth,
            mailer,
            background: Arc::new(Semaphore::new(BACKGROUND_LIMIT)),
        }
    }

    /// Runs [`Lifecycle::request_reset`] after the caller has answered, so the answer's
    /// timing cannot tell whether the address has an account.
    pub fn request_reset_in_background(&self, email: Email, ctx: RequestContext) {
        let Ok(permit) = self.background.clone().try_acquire_owned() else {
            metrics::counter!("password_reset_dropped_total").increment(1);
            tracing::warn!("too many password reset requests in progress; one was dropped");
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.request_reset(&email, &ctx).await {
                tracing::error!(error = %e, "a password reset request failed");
            }
            drop(permit);
        });
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Removes expired links and codes, and sent messages older than a week (they keep no
    /// content, only the record that they went).
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store.delete_expired_account_tokens(now).await?;
        self.store
            .delete_sent_outbox(now - Duration::days(7))
            .await?;
        Ok(())
    }
}

impl Lifecycle {
    /// Queues `mail` to `user`'s own address inside `tx`.
    pub(crate) async fn mail_user(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        mail: Mail,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let email = stored_email(user)?;
        self.mailer
            .queue(tx, &email, Some(user.id.as_str()), mail, now)
            .await?;
        Ok(())
    }

    /// The service that registers `url` as a redirect URI, compared exactly.
    pub(crate) async fn service_registering(
        &self,
        url: &str,
    ) -> Result<Option<ClientRow>, FlowError> {
        for client in self.store.list_clients().await? {
            let uris: Vec<String> = serde_json::from_str(&client.redirect_uris).unwrap_or_default();
            if uris.iter().any(|u| u == url) {
                return Ok(Some(client));
            }
        }
        Ok(None)
    }
}

/// An account's address as a parsed [`Email`] (it was checked when stored).
pub(crate) fn stored_email(user: &UserRow) -> Result<Email, FlowError> {
    Email::parse(&user.email).map_err(|e| FlowError::Refused(format!("stored email address: {e}")))
}

/// A fresh 256-bit link secret and the hash that is stored.
pub(crate) fn new_link_secret() -> Result<(String, String), RandomError> {
    let secret = random_hex_256()?;
    let hash = hash_secret(&secret);
    Ok((secret, hash))
}

/// Whether `value` could be a link secret or handle we issued (64 lower-case hex digits).
pub fn plausible_secret(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
