//! The second step of a sign-in, and step-up: a half-finished sign-in is kept apart from
//! sessions (so nothing can be reached with it) until a second factor completes it, and the
//! session that results always has a new id.

use chrono::{DateTime, Duration, Utc};

use super::super::session::SessionToken;
use super::methods::Amr;
use super::recovery::typed_hash;
use super::totp::parse_code;
use super::webauthn::Asserted;
use super::{Auth, AuthError, Factors, MfaError};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::domain::{Email, UserId, UserStatus};
use crate::mail::Mail;
use crate::store::{PendingRow, Tx, UserRow};

/// How long someone has to finish the second step.
const PENDING_LIFETIME: Duration = Duration::minutes(10);
/// Wrong answers allowed for one pending sign-in before the password is needed again.
const PENDING_ATTEMPTS: i64 = 10;

/// The cookie value naming a pending sign-in (same shape and handling as a session id).
pub type PendingToken = SessionToken;

/// A sign-in waiting for its second factor, with the person and what they can use.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub id_hash: String,
    pub row: PendingRow,
    pub user: UserRow,
    pub factors: Factors,
}

impl PendingSignIn {
    /// Whether this is a signed-in person stepping up rather than someone signing in.
    pub fn is_step_up(&self) -> bool {
        self.row.session_hash.is_some()
    }
}

impl Auth {
    /// Starts waiting for a second factor inside `tx` (after a password, or for step-up).
    pub(crate) async fn open_pending(
        &self,
        tx: &mut Tx,
        user_id: &str,
        session_hash: Option<&str>,
        amr: &Amr,
        now: DateTime<Utc>,
    ) -> Result<PendingToken, AuthError> {
        let token = PendingToken::generate()?;
        self.store
            .insert_pending_sign_in(
                tx,
                &token.hash(),
                user_id,
                session_hash,
                &amr.to_json(),
                now,
                now + PENDING_LIFETIME,
            )
            .await?;
        Ok(token)
    }

    /// Asks a signed-in person for a second factor (a service needs more than a password).
    pub async fn begin_step_up(
        &self,
        current: &crate::auth::CurrentSession,
    ) -> Result<PendingToken, AuthError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let token = self
            .open_pending(
                &mut tx,
                &current.user.id,
                Some(&current.id_hash),
                &Amr::from_json(&current.session.amr),
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The pending sign-in for a cookie, if it is live and its account still active.
    pub async fn pending_sign_in(
        &self,
        token: &PendingToken,
    ) -> Result<Option<PendingSignIn>, AuthError> {
        let id_hash = token.hash();
        let Some(row) = self
            .store
            .pending_sign_in(&id_hash, self.clock.now())
            .await?
        else {
            return Ok(None);
        };
        let Some(user) = self
            .store
            .user_by_id(&UserId::from_stored(row.user_id.clone()))
            .await?
        else {
            return Ok(None);
        };
        if user.status()? != UserStatus::Active {
            return Ok(None);
        }
        let factors = self.factors(&user.id).await?;
        Ok(Some(PendingSignIn {
            id_hash,
            row,
            user,
            factors,
        }))
    }

    /// Forgets a pending sign-in (cancel, or a new sign-in replacing it).
    pub async fn abandon_pending(&self, pending: &PendingSignIn) -> Result<(), AuthError> {
        Ok(self.store.delete_pending_sign_in(&pending.id_hash).await?)
    }

    async fn count_attempt(&self, pending: &PendingSignIn) -> Result<(), MfaError> {
        let counted = self
            .store
            .pending_attempt(&pending.id_hash, PENDING_ATTEMPTS, self.clock.now())
            .await?;
        if counted {
            Ok(())
        } else {
            self.store.delete_pending_sign_in(&pending.id_hash).await?;
            Err(MfaError::TooManyAttempts)
        }
    }

    /// Records a refused second factor; returns the error for the person.
    async fn refuse(
        &self,
        user: &UserRow,
        error: MfaError,
        method: &str,
        ctx: &RequestContext,
    ) -> MfaError {
        if let MfaError::Auth(_) = error {
            return error;
        }
        let id = user.user_id();
        let event = AuditEvent::new(Action::MfaFailed)
            .failed(error.reason())
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "method": method }));
        match self.audit_one(&event).await {
            Ok(()) => error,
            Err(e) => MfaError::Auth(e),
        }
    }

    pub(super) async fn audit_one(&self, event: &AuditEvent) -> Result<(), AuthError> {
        let mut tx = self.store.begin().await?;
        self.store
            .append_audit(&mut tx, event, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finishes a sign-in (or step-up) with an authenticator-app code.
    pub async fn verify_code(
        &self,
        pending: &PendingSignIn,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<SessionToken, MfaError> {
        let user = &pending.user;
        let code = match parse_code(code) {
            Ok(code) => code,
            Err(e) => return Err(self.refuse(user, e, "otp", ctx).await),
        };
        self.count_attempt(pending).await?;
        let found = match self.app_step(user, &pending.factors.apps, &code).await {
            Ok(found) => found,
            Err(e) => return Err(self.refuse(user, e, "otp", ctx).await),
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some((app, step)) = found else {
            let (count, disabled) = self
                .store
                .totp_failed(&mut tx, &user.id, super::DISABLE_APP_AFTER, now)
                .await?;
            let id = user.user_id();
            let event = AuditEvent::new(Action::MfaFailed)
                .failed("wrong_code")
                .actor(&id)
                .subject(&id)
                .context(ctx.clone())
                .details(serde_json::json!({ "method": "otp", "consecutive_failures": count }));
            self.store.append_audit(&mut tx, &event, now).await?;
            if disabled {
                let event = AuditEvent::new(Action::MfaAppDisabled)
                    .subject(&id)
                    .reason("too_many_failures");
                self.store.append_audit(&mut tx, &event, now).await?;
                self.notify_in(&mut tx, user, "Your authenticator app was turned off after 100 wrong security codes. If this was not you, someone may know your password: reset it now.", now).await?;
            }
            tx.commit().await?;
            if disabled {
                self.mailer.nudge();
            }
            return Err(MfaError::CodeWrong);
        };
        if !self.store.use_totp_step(&mut tx, &user.id, step).await? {
            drop(tx);
            return Err(self.refuse(user, MfaError::CodeReused, "otp", ctx).await);
        }
        self.store.totp_succeeded(&mut tx, &app, now).await?;
        let token = self
            .finish(&mut tx, pending, &["otp"], "otp", ctx, now)
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Finishes a sign-in (or step-up) with a recovery code; the code is used up, and the
    /// person is told by email.
    pub async fn verify_recovery_code(
        &self,
        pending: &PendingSignIn,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<SessionToken, MfaError> {
        let user = &pending.user;
        let hash = match typed_hash(code) {
            Ok(hash) => hash,
            Err(e) => return Err(self.refuse(user, e, "recovery_code", ctx).await),
        };
        self.count_attempt(pending).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !self
            .store
            .use_recovery_code(&mut tx, &user.id, &hash, now)
            .await?
        {
            drop(tx);
            return Err(self
                .refuse(user, MfaError::RecoveryWrong, "recovery_code", ctx)
                .await);
        }
        let left = self.store.recovery_codes_left_in(&mut tx, &user.id).await?;
        let id = user.user_id();
        let event = AuditEvent::new(Action::RecoveryCodeUsed)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "codes_left": left }));
        self.store.append_audit(&mut tx, &event, now).await?;
        let sentence = format!(
            "A recovery code was used to sign in to your account. You have {left} recovery codes left. If this was not you, contact your helpdesk now."
        );
        self.notify_in(&mut tx, user, &sentence, now).await?;
        let token = self
            .finish(&mut tx, pending, &[], "recovery_code", ctx, now)
            .await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(token)
    }

    /// Finishes a sign-in (or step-up) with a security key or passkey.
    pub async fn verify_key(
        &self,
        pending: &PendingSignIn,
        handle: &str,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<SessionToken, MfaError> {
        let user = &pending.user;
        self.count_attempt(pending).await?;
        let asserted = match self
            .check_assertion(&user.id, &pending.factors.keys, handle, response)
            .await
        {
            Ok(asserted) => asserted,
            Err(e) => return Err(self.refuse(user, e, "webauthn", ctx).await),
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.key_used(&mut tx, &asserted, now).await?;
        let token = self
            .finish(
                &mut tx,
                pending,
                &asserted.amr(),
                asserted.row.kind.as_str(),
                ctx,
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub(super) async fn key_used(
        &self,
        tx: &mut Tx,
        asserted: &Asserted,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let credential = serde_json::to_string(&asserted.updated)
            .map_err(|e| AuthError::Mail(format!("webauthn credential: {e}")))?;
        self.store
            .credential_used(tx, &asserted.row.id, &credential, now)
            .await?;
        Ok(())
    }

    /// Completes the pending sign-in inside `tx`: a new session, or the stepped-up one under
    /// a new id. Whoever takes the pending row finishes; anyone else finds it expired.
    async fn finish(
        &self,
        tx: &mut Tx,
        pending: &PendingSignIn,
        methods: &[&str],
        method: &str,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<SessionToken, MfaError> {
        let row = self
            .store
            .take_pending_sign_in(tx, &pending.id_hash, now)
            .await?
            .ok_or(MfaError::Expired)?;
        let amr = Amr::from_json(&row.amr).with_factor(methods);
        let id = pending.user.user_id();
        let (token, action) = match &row.session_hash {
            Some(old) => {
                let token = SessionToken::generate().map_err(AuthError::from)?;
                if !self
                    .store
                    .renew_session(tx, old, &token.hash(), &amr.to_json(), now)
                    .await?
                {
                    return Err(MfaError::Expired);
                }
                (token, Action::StepUpSucceeded)
            }
            None => {
                self.store.record_sign_in(tx, &id, None, now).await?;
                let token = self
                    .open_session_with(tx, &id, &amr.to_json(), ctx, now)
                    .await?;
                (token, Action::SignInSucceeded)
            }
        };
        let event = AuditEvent::new(action)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "amr": amr.values(), "method": method }));
        self.store.append_audit(tx, &event, now).await?;
        Ok(token)
    }

    /// Queues a "your sign-in methods changed" message inside `tx`.
    pub(super) async fn notify_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        sentence: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let to = Email::parse(&user.email).map_err(|e| AuthError::Mail(e.to_string()))?;
        let mail = Mail::SecurityNotice {
            given_name: user.given_name.clone(),
            change: sentence.to_owned(),
        };
        self.mailer
            .queue(tx, &to, Some(&user.id), mail, now)
            .await
            .map_err(AuthError::from)?;
        Ok(())
    }
}
