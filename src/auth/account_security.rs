//! What a signed-in person does about their own security: find their session, sign out,
//! end their other sessions, change their password.

use super::password::{Password, PersonalDetails, PolicyViolation, check_new_password};
use super::session::SessionToken;
use super::{Auth, AuthError};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::domain::{Email, UserStatus};
use crate::mail::Mail;
use crate::store::{SessionRow, StoreError, UserRow};

/// A live session and the active account it belongs to.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub id_hash: String,
    pub session: SessionRow,
    pub user: UserRow,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("The current password is wrong")]
    WrongCurrent,
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<StoreError> for ChangePasswordError {
    fn from(e: StoreError) -> Self {
        Self::Auth(e.into())
    }
}

impl Auth {
    /// The live session for a cookie, if any; refreshes its last-seen time now and then.
    /// A session whose account is no longer active counts as signed out.
    pub async fn current_session(
        &self,
        token: &SessionToken,
    ) -> Result<Option<CurrentSession>, AuthError> {
        let now = self.clock.now();
        let id_hash = token.hash();
        let Some(session) = self
            .store
            .live_session(&id_hash, now, self.sessions.idle_cutoff(now))
            .await?
        else {
            return Ok(None);
        };
        let Some(user) = self
            .store
            .user_by_id(&crate::domain::UserId::from_stored(session.user_id.clone()))
            .await?
        else {
            return Ok(None);
        };
        if user.status()? != UserStatus::Active {
            return Ok(None);
        }
        if session.last_seen_at < self.sessions.touch_after(now).timestamp_millis() {
            self.store
                .touch_session(&id_hash, now, self.sessions.touch_after(now))
                .await?;
        }
        Ok(Some(CurrentSession {
            id_hash,
            session,
            user,
        }))
    }

    /// The person's live sessions, most recent first.
    pub async fn sessions_of(
        &self,
        current: &CurrentSession,
    ) -> Result<Vec<SessionRow>, AuthError> {
        let now = self.clock.now();
        Ok(self
            .store
            .sessions_for_user(&current.user.user_id(), now, self.sessions.idle_cutoff(now))
            .await?)
    }

    /// Ends a session that is being replaced by a new sign-in (no session survives a change
    /// of who is signed in, so a planted cookie cannot be upgraded).
    pub async fn discard_session(&self, current: &CurrentSession) -> Result<(), AuthError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .delete_session(&mut tx, &current.id_hash, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends this session on the server; the cookie is worthless afterwards.
    pub async fn sign_out(
        &self,
        current: &CurrentSession,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let now = self.clock.now();
        let id = current.user.user_id();
        let mut tx = self.store.begin().await?;
        self.store
            .delete_session(&mut tx, &current.id_hash, now)
            .await?;
        let event = AuditEvent::new(Action::SignedOut)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone());
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every other session of this person; returns how many ended.
    pub async fn sign_out_others(
        &self,
        current: &CurrentSession,
        ctx: &RequestContext,
    ) -> Result<u64, AuthError> {
        let now = self.clock.now();
        let id = current.user.user_id();
        let mut tx = self.store.begin().await?;
        let ended = self
            .store
            .delete_other_sessions(&mut tx, &id, &current.id_hash, now)
            .await?;
        let event = AuditEvent::new(Action::SessionsRevoked)
            .actor(&id)
            .subject(&id)
            .reason("signed_out_elsewhere")
            .context(ctx.clone())
            .details(serde_json::json!({ "sessions_ended": ended }));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Checks a signed-in person's password again before a sensitive change. A wrong one
    /// counts as a failed sign-in (towards the lock) and is audited as a failed `action`.
    pub async fn confirm_password(
        &self,
        user: &UserRow,
        password: &Password,
        action: Action,
        ctx: &RequestContext,
    ) -> Result<bool, AuthError> {
        let verification = self
            .hasher
            .verify(password, user.password_hash.as_deref())
            .await?;
        if verification.matches {
            return Ok(true);
        }
        let id = user.user_id();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let limit = self.policies.current().await?.lock_after_failures();
        self.store
            .record_failed_sign_in(&mut tx, &id, limit, now)
            .await?;
        let event = AuditEvent::new(action)
            .failed("wrong_password")
            .actor(&id)
            .subject(&id)
            .context(ctx.clone());
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(false)
    }

    /// Replaces the password after checking the current one, and signs out every other
    /// session, all in one transaction. A wrong current password counts as a failed sign-in.
    pub async fn change_password(
        &self,
        current: &CurrentSession,
        old: &Password,
        new: &Password,
        ctx: &RequestContext,
    ) -> Result<u64, ChangePasswordError> {
        let id = current.user.user_id();
        let user = &current.user;
        let details = PersonalDetails {
            email: &user.email,
            given_name: &user.given_name,
            family_name: &user.family_name,
            organisations: &[],
        };
        if !self
            .confirm_password(user, old, Action::PasswordChanged, ctx)
            .await?
        {
            return Err(ChangePasswordError::WrongCurrent);
        }
        let now = self.clock.now();
        let has_mfa = self.factors(&user.id).await?.has_mfa();
        let min = self.policies.current().await?.password_min(has_mfa);
        check_new_password(new, min, &details)?;
        let phc = self.hasher.hash(new).await.map_err(AuthError::from)?;
        let mut tx = self.store.begin().await?;
        self.store
            .set_password_hash(&mut tx, &id, &phc, now)
            .await?;
        let ended = self
            .store
            .delete_other_sessions(&mut tx, &id, &current.id_hash, now)
            .await?;
        // Any password change supersedes an outstanding reset link.
        self.store
            .delete_account_token(&mut tx, id.as_str(), crate::account::purpose::RESET)
            .await?;
        let event = AuditEvent::new(Action::PasswordChanged)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "other_sessions_ended": ended }));
        self.store.append_audit(&mut tx, &event, now).await?;
        let to = Email::parse(&user.email).map_err(|e| AuthError::Mail(e.to_string()))?;
        let mail = Mail::PasswordChanged {
            given_name: user.given_name.clone(),
        };
        self.mailer
            .queue(&mut tx, &to, Some(id.as_str()), mail, now)
            .await
            .map_err(AuthError::from)?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(ended)
    }
}
