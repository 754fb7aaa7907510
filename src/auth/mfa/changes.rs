//! Changing sign-in methods: adding an app, a security key or a passkey, removing one,
//! replacing recovery codes. Each needs a recent authentication, is audited, and is emailed
//! to the person; the first method added also brings recovery codes.

use chrono::{DateTime, Utc};

use super::super::session::SessionToken;
use super::methods::Amr;
use super::recovery::RecoveryCodes;
use super::totp::parse_code;
use super::webauthn::credential_key;
use super::{Auth, AuthError, MfaError, factor_name};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::auth::CurrentSession;
use crate::auth::password::Password;
use crate::store::{NewCredential, Tx, UserRow};

/// The result of adding a method: the session, now under a new id and counted as MFA, and the
/// recovery codes to show once if this was the person's first method.
#[derive(Debug)]
pub struct Change {
    pub session: SessionToken,
    pub recovery_codes: Option<RecoveryCodes>,
}

impl Auth {
    fn require_recent(&self, current: &CurrentSession) -> Result<(), MfaError> {
        if self.is_recent(current.session.auth_time) {
            Ok(())
        } else {
            Err(MfaError::NeedsRecentAuthentication)
        }
    }

    /// Whether policy says this person must use a second factor (PRODUCT.md "Policies"):
    /// approvers of any organisation and Gatehouse staff (helpdesk, admin, auditor) must.
    pub async fn mfa_required_for(&self, user: &UserRow) -> Result<bool, AuthError> {
        Ok(self.store.is_approver(&user.id).await?
            || !self.store.staff_roles(&user.id).await?.is_empty())
    }

    /// Re-enters the password to allow a change of sign-in methods for five minutes.
    pub async fn reauthenticate(
        &self,
        current: &CurrentSession,
        password: &Password,
        ctx: &RequestContext,
    ) -> Result<bool, AuthError> {
        if !self
            .confirm_password(&current.user, password, Action::Reauthenticated, ctx)
            .await?
        {
            return Ok(false);
        }
        let now = self.clock.now();
        self.store
            .session_reauthenticated(&current.id_hash, now)
            .await?;
        let id = current.user.user_id();
        let event = AuditEvent::new(Action::Reauthenticated)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone());
        let mut tx = self.store.begin().await?;
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Confirms an authenticator-app set-up with its first code.
    pub async fn confirm_app(
        &self,
        current: &CurrentSession,
        setup_id: &str,
        name: &str,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Change, MfaError> {
        self.require_recent(current)?;
        let name = factor_name(name)?;
        let code = parse_code(code)?;
        let user = &current.user;
        let step = self.setup_step(user, setup_id, &code).await?;
        let first = !self.factors(&user.id).await?.has_mfa();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !self
            .store
            .confirm_totp(&mut tx, setup_id, &user.id, &name, now)
            .await?
        {
            return Err(MfaError::Expired);
        }
        if !self.store.use_totp_step(&mut tx, &user.id, step).await? {
            return Err(MfaError::CodeReused);
        }
        let change = self
            .added(
                &mut tx,
                current,
                "authenticator_app",
                &name,
                &["otp"],
                first,
                ctx,
                now,
            )
            .await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(change)
    }

    /// Registers a security key or passkey from a WebAuthn registration response.
    pub async fn add_key(
        &self,
        current: &CurrentSession,
        handle: &str,
        response: &str,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<Change, MfaError> {
        self.require_recent(current)?;
        let name = factor_name(name)?;
        let user = &current.user;
        let (kind, credential) = match self.check_registration(user, handle, response).await {
            Ok(checked) => checked,
            Err(MfaError::Auth(e)) => return Err(MfaError::Auth(e)),
            Err(e) => {
                let uid = user.user_id();
                let event = AuditEvent::new(Action::MfaAdded)
                    .failed(e.reason())
                    .actor(&uid)
                    .subject(&uid)
                    .context(ctx.clone());
                self.audit_one_event(&event).await?;
                return Err(e);
            }
        };
        let first = !self.factors(&user.id).await?.has_mfa();
        let json = serde_json::to_string(&credential)
            .map_err(|e| AuthError::Mail(format!("webauthn credential: {e}")))?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let credential_id = credential_key(credential.cred_id.as_ref());
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let new = NewCredential {
            id: &id,
            user_id: &user.id,
            credential_id: &credential_id,
            kind: kind.as_str(),
            name: &name,
            credential: &json,
        };
        if !self.store.insert_credential(&mut tx, &new, now).await? {
            drop(tx);
            let uid = user.user_id();
            let event = AuditEvent::new(Action::MfaAdded)
                .failed("credential_taken")
                .actor(&uid)
                .subject(&uid)
                .context(ctx.clone());
            self.audit_one_event(&event).await?;
            return Err(MfaError::KeyAlreadyRegistered);
        }
        let hardware = if credential.backup_eligible {
            "swk"
        } else {
            "hwk"
        };
        let mut methods = vec![hardware];
        if credential.user_verified {
            methods.push("user");
        }
        let change = self
            .added(
                &mut tx,
                current,
                kind.as_str(),
                &name,
                &methods,
                first,
                ctx,
                now,
            )
            .await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(change)
    }

    async fn audit_one_event(&self, event: &AuditEvent) -> Result<(), AuthError> {
        let mut tx = self.store.begin().await?;
        self.store
            .append_audit(&mut tx, event, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The common end of adding a method, inside `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn added(
        &self,
        tx: &mut Tx,
        current: &CurrentSession,
        kind: &str,
        name: &str,
        methods: &[&str],
        first: bool,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<Change, MfaError> {
        let user = &current.user;
        let id = user.user_id();
        let recovery_codes = if first {
            let (codes, hashes) = RecoveryCodes::generate()?;
            self.store
                .replace_recovery_codes(tx, &user.id, &hashes, now)
                .await?;
            let event = AuditEvent::new(Action::RecoveryCodesGenerated)
                .actor(&id)
                .subject(&id)
                .context(ctx.clone());
            self.store.append_audit(tx, &event, now).await?;
            Some(codes)
        } else {
            None
        };
        self.store.clear_mfa_setup_required(tx, &user.id).await?;
        let event = AuditEvent::new(Action::MfaAdded)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "kind": kind, "name": name }));
        self.store.append_audit(tx, &event, now).await?;
        let sentence = format!(
            "{} called \u{201c}{name}\u{201d} was added to your account. If this was not you, contact your helpdesk now.",
            kind_phrase(kind)
        );
        self.notify_in(tx, user, &sentence, now).await?;
        // Proving the new method counts as a second factor for this session.
        let amr = Amr::from_json(&current.session.amr).with_factor(methods);
        let session = SessionToken::generate().map_err(AuthError::from)?;
        if !self
            .store
            .renew_session(tx, &current.id_hash, &session.hash(), &amr.to_json(), now)
            .await?
        {
            return Err(MfaError::Expired);
        }
        Ok(Change {
            session,
            recovery_codes,
        })
    }

    /// Removes an authenticator app (`kind` "authenticator_app") or a key by id.
    pub async fn remove_factor(
        &self,
        current: &CurrentSession,
        kind: &str,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<String, MfaError> {
        self.require_recent(current)?;
        let user = &current.user;
        let required = self.mfa_required_for(user).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let removed = if kind == "authenticator_app" {
            self.store.delete_totp(&mut tx, id, &user.id).await?
        } else {
            self.store.delete_credential(&mut tx, id, &user.id).await?
        };
        let Some(name) = removed else {
            return Err(MfaError::NotFound);
        };
        let apps_left = self
            .store
            .totp_factors_in(&mut tx, &user.id)
            .await?
            .iter()
            .any(|a| a.confirmed_at.is_some());
        let keys_left = !self
            .store
            .credentials_in(&mut tx, &user.id)
            .await?
            .is_empty();
        if !apps_left && !keys_left {
            if required {
                return Err(MfaError::LastFactorRequired);
            }
            // Recovery codes only recover a second factor; with none left they go too.
            self.store
                .replace_recovery_codes(&mut tx, &user.id, &[], now)
                .await?;
        }
        let uid = user.user_id();
        let event = AuditEvent::new(Action::MfaRemoved)
            .actor(&uid)
            .subject(&uid)
            .context(ctx.clone())
            .details(serde_json::json!({ "kind": kind, "name": name }));
        self.store.append_audit(&mut tx, &event, now).await?;
        let sentence = format!(
            "{} called \u{201c}{name}\u{201d} was removed from your account. If this was not you, contact your helpdesk now.",
            kind_phrase(kind)
        );
        self.notify_in(&mut tx, user, &sentence, now).await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(name)
    }

    /// Replaces every recovery code with ten new ones, shown once.
    pub async fn regenerate_recovery_codes(
        &self,
        current: &CurrentSession,
        ctx: &RequestContext,
    ) -> Result<RecoveryCodes, MfaError> {
        self.require_recent(current)?;
        let user = &current.user;
        if !self.factors(&user.id).await?.has_mfa() {
            return Err(MfaError::NotFound);
        }
        let (codes, hashes) = RecoveryCodes::generate()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .replace_recovery_codes(&mut tx, &user.id, &hashes, now)
            .await?;
        let id = user.user_id();
        let event = AuditEvent::new(Action::RecoveryCodesGenerated)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone());
        self.store.append_audit(&mut tx, &event, now).await?;
        self.notify_in(
            &mut tx,
            user,
            "New recovery codes were made for your account, and the old ones no longer work. If this was not you, contact your helpdesk now.",
            now,
        )
        .await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(codes)
    }
}

fn kind_phrase(kind: &str) -> &'static str {
    match kind {
        "authenticator_app" => "An authenticator app",
        "passkey" => "A passkey",
        _ => "A security key",
    }
}
