//! "Forgotten your password?": a reset link by email, the same answer whether or not the
//! account exists, and a reset that ends every session in one transaction.

use sha2::{Digest, Sha256};

use super::activation::details;
use super::flows::{FlowError, Lifecycle, RESET, new_link_secret, stored_email};
use super::invitations::with_actor;
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::auth::AuthError;
use crate::auth::password::{Password, check_new_password};
use crate::auth::session::hash_secret;
use crate::domain::{Email, UserStatus};
use crate::mail::{Mail, lifetime_in_words};
use crate::store::{NewAccountToken, Tx, UserRow};

/// Reset emails one address may be sent in a burst, and per hour after that.
const PER_ADDRESS_BURST: f64 = 3.0;
const PER_ADDRESS_PER_HOUR: f64 = 4.0;
/// Reset requests one network address may make in a burst, and per minute after that (a
/// school's staff share one address).
const PER_IP_BURST: f64 = 30.0;
const PER_IP_PER_MINUTE: f64 = 10.0;

impl Lifecycle {
    /// Handles a reset request. It returns nothing a visitor could learn from: what happened
    /// is in the audit trail. An invited person gets their invitation again instead.
    pub async fn request_reset(
        &self,
        email: &Email,
        ctx: &RequestContext,
    ) -> Result<(), FlowError> {
        let now = self.clock.now();
        let requested = || AuditEvent::new(Action::PasswordResetRequested).context(ctx.clone());
        if let Some(ip) = ctx.ip.as_deref() {
            let left = self
                .store
                .take_ip_token(
                    &format!("reset-ip:{ip}"),
                    PER_IP_BURST,
                    PER_IP_PER_MINUTE / 60_000.0,
                    now,
                )
                .await?;
            if left < 0.0 {
                metrics::counter!("password_reset_throttled_total", "by" => "ip").increment(1);
                return self
                    .audit_only(requested().failed("throttled_ip"), now)
                    .await;
            }
        }
        let address_key = hex::encode(Sha256::digest(email.normalised().as_bytes()));
        let left = self
            .store
            .take_ip_token(
                &format!("reset-address:{address_key}"),
                PER_ADDRESS_BURST,
                PER_ADDRESS_PER_HOUR / 3_600_000.0,
                now,
            )
            .await?;
        let user = self.store.user_by_email(email).await?;
        let Some(user) = user else {
            let event = requested()
                .failed("no_account")
                .details(serde_json::json!({ "email": email.as_str() }));
            return self.audit_only(event, now).await;
        };
        let id = user.user_id();
        if left < 0.0 {
            metrics::counter!("password_reset_throttled_total", "by" => "address").increment(1);
            let event = with_actor(
                requested().failed("throttled_address"),
                Actor::User(id.clone()),
            )
            .subject(&id);
            return self.audit_only(event, now).await;
        }
        match user.status()? {
            UserStatus::Invited => {
                return self
                    .resend_invitation(&user, Actor::User(id.clone()), ctx)
                    .await;
            }
            UserStatus::Deactivated => {
                let event = with_actor(requested().failed("deactivated"), Actor::User(id.clone()))
                    .subject(&id);
                return self.audit_only(event, now).await;
            }
            UserStatus::Active | UserStatus::Locked => {}
        }
        let mut tx = self.store.begin().await?;
        let event = with_actor(requested(), Actor::User(id.clone())).subject(&id);
        self.send_reset_in(&mut tx, &user, event).await?;
        tx.commit().await?;
        self.mailer.nudge();
        Ok(())
    }

    /// Queues a reset link for `user` inside `tx` (superseding any earlier one) and appends
    /// `event`. The caller has decided the account may have one; it commits and nudges.
    pub async fn send_reset_in(
        &self,
        tx: &mut Tx,
        user: &UserRow,
        event: AuditEvent,
    ) -> Result<(), FlowError> {
        let now = self.clock.now();
        let id = user.user_id();
        let email = stored_email(user)?;
        let (secret, hash) = new_link_secret()?;
        let lifetime = self.auth.policies().current().await?.reset_lifetime();
        self.store
            .replace_account_token(
                tx,
                &NewAccountToken {
                    user_id: id.as_str(),
                    purpose: RESET,
                    token_hash: &hash,
                    new_email: None,
                    client_id: None,
                    return_to: None,
                    expires_at: now + lifetime,
                },
                now,
            )
            .await?;
        let mail = Mail::PasswordReset {
            given_name: user.given_name.clone(),
            link: format!("{}/reset-password/{secret}", self.mailer.site()),
            expires_in: lifetime_in_words(lifetime),
        };
        self.mailer
            .queue(tx, &email, Some(id.as_str()), mail, now)
            .await?;
        self.store.append_audit(tx, &event, now).await?;
        Ok(())
    }

    /// Sets a new password from a reset link. In one transaction: uses the link, stores the
    /// hash, unlocks a locked account, ends every session (revoking refresh tokens and
    /// telling services), queues the "password changed" email and audits it. It never signs
    /// the person in, so any second factor still stands between the link and the account.
    pub async fn complete_reset(
        &self,
        handle: &str,
        password: &Password,
        ctx: &RequestContext,
    ) -> Result<(), FlowError> {
        let (_, user) = self.link_for(RESET, handle).await?;
        if !matches!(user.status()?, UserStatus::Active | UserStatus::Locked) {
            return Err(FlowError::LinkExpired);
        }
        // With a second factor, shorter passwords are allowed (PRODUCT.md "Policies").
        let has_mfa = self.auth.factors(&user.id).await?.has_mfa();
        let min = self.auth.policies().current().await?.password_min(has_mfa);
        check_new_password(password, min, &details(&user))?;
        let phc = self
            .auth
            .hasher()
            .hash(password)
            .await
            .map_err(AuthError::from)?;
        let id = user.user_id();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let used = self
            .store
            .consume_account_token(&mut tx, &hash_secret(handle), RESET, now)
            .await?;
        let status = match self.store.user_in(&mut tx, &id).await? {
            Some(current) => current.status()?,
            None => return Err(FlowError::LinkExpired),
        };
        if used.is_none() || !matches!(status, UserStatus::Active | UserStatus::Locked) {
            return Err(FlowError::LinkExpired);
        }
        crate::fault::point("reset.link_consumed");
        self.store
            .set_password_hash(&mut tx, &id, &phc, now)
            .await?;
        crate::fault::point("reset.password_set");
        // Also clears the failure count, and lifts a lock from too many failures.
        self.store
            .set_user_status(&mut tx, &id, UserStatus::Active, None, now)
            .await?;
        let ended = self.store.delete_user_sessions(&mut tx, &id, now).await?;
        crate::fault::point("reset.sessions_ended");
        let event = AuditEvent::new(Action::PasswordReset)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({
                "sessions_ended": ended,
                "unlocked": status == UserStatus::Locked,
            }));
        self.store.append_audit(&mut tx, &event, now).await?;
        let mail = Mail::PasswordChanged {
            given_name: user.given_name.clone(),
        };
        self.mail_user(&mut tx, &user, mail, now).await?;
        crate::fault::point("reset.before_commit");
        tx.commit().await?;
        crate::fault::point("reset.committed");
        self.mailer.nudge();
        Ok(())
    }

    async fn audit_only(
        &self,
        event: AuditEvent,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), FlowError> {
        let mut tx = self.store.begin().await?;
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
