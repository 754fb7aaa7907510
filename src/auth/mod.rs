//! Authentication: proving who someone is and keeping them signed in. Passwords, sessions and
//! throttling, and second factors (`mfa`). No HTTP in this layer.

pub mod mfa;
pub mod password;
pub mod session;
pub mod throttle;

mod account_security;
mod sign_in;

pub use account_security::{ChangePasswordError, CurrentSession};
pub use sign_in::{SignInError, SignedIn};

use chrono::Duration;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::mail::Mailer;
use crate::policy::Policies;
use crate::store::{Store, StoreError};
use password::{HashError, HashParams, PasswordHasher};
use session::{RandomError, SessionPolicy};
use throttle::IpLimit;

/// Failures that are nobody's fault but ours: they become a 500 (or 503 when busy).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A message could not be queued (sealing or rendering failed).
    #[error("mail: {0}")]
    Mail(String),
}

impl From<crate::mail::MailError> for AuthError {
    fn from(e: crate::mail::MailError) -> Self {
        match e {
            crate::mail::MailError::Store(e) => Self::Store(e),
            other => Self::Mail(other.to_string()),
        }
    }
}

impl AuthError {
    /// Whether the failure is a full hashing queue: ask the person to try again shortly.
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Hash(HashError::Busy))
    }
}

/// The authentication use cases, with everything they need.
#[derive(Debug, Clone)]
pub struct Auth {
    store: Store,
    hasher: PasswordHasher,
    clock: SharedClock,
    sessions: SessionPolicy,
    ip_limit: IpLimit,
    mailer: Mailer,
    /// `None` when the issuer is a bare IP address, where browsers refuse WebAuthn.
    webauthn: Option<mfa::RelyingParty>,
    policies: Policies,
}

impl Auth {
    pub fn new(
        config: &Config,
        store: Store,
        clock: SharedClock,
        mailer: Mailer,
    ) -> Result<Self, HashError> {
        let params = HashParams {
            memory_kib: config.argon2_memory_kib,
            iterations: config.argon2_iterations,
            parallelism: config.argon2_parallelism,
        };
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hasher = PasswordHasher::new(
            params,
            cores,
            config.hash_queue_limit,
            std::time::Duration::from_millis(config.hash_queue_timeout_ms),
        )?;
        Ok(Self {
            policies: Policies::new(store.clone(), clock.clone()),
            store,
            hasher,
            clock,
            sessions: SessionPolicy {
                idle: Duration::minutes(i64::from(config.session_idle_minutes)),
                absolute: Duration::hours(i64::from(config.session_absolute_hours)),
            },
            ip_limit: IpLimit {
                burst: config.sign_in_ip_burst,
                per_minute: config.sign_in_ip_per_minute,
            },
            mailer,
            webauthn: mfa::RelyingParty::for_issuer(config.issuer.as_str(), "Gatehouse"),
        })
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The administrator's policy settings (password lengths, lock, link lifetimes).
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    pub fn session_policy(&self) -> SessionPolicy {
        self.sessions
    }

    /// Deletes expired sessions and refilled IP buckets; returns how many sessions ended.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        self.store.delete_expired_pending_sign_ins(now).await?;
        self.store.delete_expired_challenges(now).await?;
        // Pre-authentication state must stay bounded: watch it.
        let live = self.store.live_challenges(now).await?;
        metrics::gauge!("webauthn_challenges_live").set(live as f64);
        let pending = self.store.count_authorization_requests().await?;
        metrics::gauge!("authorization_requests_stored").set(pending as f64);
        self.store
            .delete_stale_totp_setups(now - Duration::hours(1))
            .await?;
        self.store
            .delete_expired_sessions(
                now,
                self.sessions.idle_cutoff(now),
                now - Duration::hours(1),
            )
            .await
    }
}
