//! Signing in with an email address and password: throttled per IP and per account, timed
//! the same whether or not the account exists, audited, and ending in a fresh session.

use chrono::{DateTime, Utc};

use super::mfa::Amr;
use super::password::{HashError, Password};
use super::session::SessionToken;
use super::throttle::account_delay;
use super::{Auth, AuthError};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::domain::{Email, UserId, UserStatus};
use crate::store::{NewSession, Tx, UserRow};

/// Why a sign-in did not happen. People see one message for every `Refused` reason.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email or password, or an account that may not sign in. Never say which.
    #[error("sign-in refused ({0})")]
    Refused(&'static str),
    /// Too many attempts from this address: try again after this many seconds.
    #[error("too many sign-in attempts from this address")]
    Throttled { retry_after_seconds: u64 },
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<HashError> for SignInError {
    fn from(e: HashError) -> Self {
        Self::Auth(e.into())
    }
}

impl From<crate::store::StoreError> for SignInError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Auth(e.into())
    }
}

/// A correct password: the account, and either a session or (when the person has a second
/// factor) a pending sign-in that still needs it.
#[derive(Debug)]
pub struct SignedIn {
    pub user_id: UserId,
    /// The session's cookie value, or the pending sign-in's when `second_step` is set.
    pub token: SessionToken,
    pub second_step: bool,
    /// Policy requires a second factor this person has not set up: set-up comes next.
    pub must_set_up_mfa: bool,
}

impl Auth {
    /// Checks `email` and `password` and, if they are right, starts a session.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(
        &self,
        email: &Email,
        password: &Password,
        ctx: &RequestContext,
    ) -> Result<SignedIn, SignInError> {
        let now = self.clock.now();
        if let Some(ip) = ctx.ip.as_deref() {
            let left = self
                .store
                .take_ip_token(
                    ip,
                    f64::from(self.ip_limit.burst),
                    self.ip_limit.per_milli(),
                    now,
                )
                .await?;
            if left < 0.0 {
                tracing::warn!("sign-in throttled for an IP address");
                metrics::counter!("sign_in_throttled_total", "by" => "ip").increment(1);
                return Err(SignInError::Throttled {
                    retry_after_seconds: self.ip_limit.retry_after_seconds(left),
                });
            }
        }
        let user = self.store.user_by_email(email).await?;
        let throttled = user.as_ref().is_some_and(|u| account_waiting(u, now));
        // Always one Argon2 verification, so timing says nothing about the account.
        let stored = user
            .as_ref()
            .filter(|_| !throttled)
            .and_then(|u| u.password_hash.as_deref());
        let verification = self.hasher.verify(password, stored).await?;

        let Some(user) = user else {
            self.audit_failure(None, "unknown_user", ctx, now).await?;
            return Err(SignInError::Refused("unknown_user"));
        };
        let id = user.user_id();
        let refusal = match user.status()? {
            UserStatus::Deactivated => "deactivated",
            UserStatus::Locked => "locked",
            UserStatus::Invited => "not_activated",
            // Attempts made while the account must wait count as failures too, so parallel
            // guesses are all counted and lead to the lock just the same.
            UserStatus::Active if throttled => {
                return self.count_failure(&user, "throttled", ctx, now).await;
            }
            UserStatus::Active if !verification.matches => {
                return self.count_failure(&user, "wrong_password", ctx, now).await;
            }
            UserStatus::Active => {
                return self
                    .start_session(&id, verification.needs_rehash.then_some(password), ctx, now)
                    .await;
            }
        };
        self.audit_failure(Some(&id), refusal, ctx, now).await?;
        Err(SignInError::Refused(refusal))
    }

    /// Counts a failed attempt, locking the account at the limit, and refuses the sign-in.
    async fn count_failure(
        &self,
        user: &UserRow,
        reason: &'static str,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, SignInError> {
        let id = &user.user_id();
        let limit = self.policies.current().await?.lock_after_failures();
        let mut tx = self.store.begin().await?;
        let (count, status) = self
            .store
            .record_failed_sign_in(&mut tx, id, limit, now)
            .await?;
        let failure = failure_event(Some(id), reason, ctx)
            .details(serde_json::json!({ "consecutive_failures": count }));
        self.store.append_audit(&mut tx, &failure, now).await?;
        // This failure locked it: the count reached the limit, or (the limit having been
        // lowered since) passed it now. A concurrent failure that lands after the lock
        // finds a higher count and records no second lock.
        if status == UserStatus::Locked && count == limit.max(user.failed_sign_ins + 1) {
            let locked = AuditEvent::new(Action::AccountLocked)
                .actor(id)
                .subject(id)
                .reason("too_many_failures")
                .context(ctx.clone());
            self.store.append_audit(&mut tx, &locked, now).await?;
        }
        tx.commit().await?;
        Err(SignInError::Refused(reason))
    }

    async fn start_session(
        &self,
        id: &UserId,
        rehash: Option<&Password>,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, SignInError> {
        let rehashed = match rehash {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        let has_mfa = self.factors(id.as_str()).await?.has_mfa();
        let must_set_up_mfa = !has_mfa
            && (self.store.is_approver(id.as_str()).await?
                || self.store.mfa_setup_required(id.as_str()).await?);
        let mut tx = self.store.begin().await?;
        if has_mfa {
            // The password was right, but nothing is reachable until the second factor.
            self.store
                .record_password_verified(&mut tx, id, rehashed.as_deref(), now)
                .await?;
            let token = self
                .open_pending(&mut tx, id.as_str(), None, &Amr::password(), now)
                .await?;
            tx.commit().await?;
            return Ok(SignedIn {
                user_id: id.clone(),
                token,
                second_step: true,
                must_set_up_mfa: false,
            });
        }
        self.store
            .record_sign_in(&mut tx, id, rehashed.as_deref(), now)
            .await?;
        let token = self.open_session(&mut tx, id, ctx, now).await?;
        let event = AuditEvent::new(Action::SignInSucceeded)
            .actor(id)
            .subject(id)
            .context(ctx.clone())
            .details(serde_json::json!({ "amr": ["pwd"], "rehashed": rehashed.is_some() }));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(SignedIn {
            user_id: id.clone(),
            token,
            second_step: false,
            must_set_up_mfa,
        })
    }

    /// Starts a password-authenticated session inside `tx` (sign-in, and activation, which
    /// proves the password just chosen and the email address at once).
    pub(crate) async fn open_session(
        &self,
        tx: &mut Tx,
        id: &UserId,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<SessionToken, AuthError> {
        self.open_session_with(tx, id, r#"["pwd"]"#, ctx, now).await
    }

    /// Starts a session inside `tx` with what the person proved (`amr`, a JSON array).
    pub(crate) async fn open_session_with(
        &self,
        tx: &mut Tx,
        id: &UserId,
        amr: &str,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<SessionToken, AuthError> {
        let token = SessionToken::generate()?;
        let id_hash = token.hash();
        let session = NewSession {
            id_hash: &id_hash,
            user_id: id,
            expires_at: now + self.sessions.absolute,
            amr,
            ip: ctx.ip.as_deref(),
            user_agent: ctx.user_agent.as_deref(),
        };
        self.store.insert_session(tx, &session, now).await?;
        Ok(token)
    }

    async fn audit_failure(
        &self,
        id: Option<&UserId>,
        reason: &'static str,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<(), SignInError> {
        let mut tx = self.store.begin().await?;
        self.store
            .append_audit(&mut tx, &failure_event(id, reason, ctx), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn failure_event(id: Option<&UserId>, reason: &'static str, ctx: &RequestContext) -> AuditEvent {
    let event = AuditEvent::new(Action::SignInFailed)
        .failed(reason)
        .context(ctx.clone());
    match id {
        Some(id) => event.actor(id).subject(id),
        None => event,
    }
}

/// Whether the account's recent failures mean this attempt must not even be checked yet.
fn account_waiting(user: &UserRow, now: DateTime<Utc>) -> bool {
    let Some(last) = user.last_failed_sign_in_at else {
        return false;
    };
    let delay = account_delay(user.failed_sign_ins);
    now.timestamp_millis() < last + delay.num_milliseconds()
}
