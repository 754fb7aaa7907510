//! "Sign in with a passkey": a discoverable credential with user verification proves two
//! factors at once, so it opens a session without a password. Anyone may start the ceremony,
//! so starting one is throttled per address.

use super::methods::Amr;
use super::{Auth, CeremonyOptions, MfaError};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::auth::session::SessionToken;
use crate::domain::{UserId, UserStatus};

impl Auth {
    /// Signs someone in with a passkey alone (it proves possession and, by user
    /// verification, the person: two factors).
    pub async fn sign_in_with_passkey(
        &self,
        handle: &str,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<(UserId, SessionToken), MfaError> {
        let asserted = match self.check_passkey_sign_in(handle, response).await {
            Ok(asserted) => asserted,
            Err(e) => {
                if !matches!(e, MfaError::Auth(_)) {
                    let event = AuditEvent::new(Action::SignInFailed)
                        .failed(e.reason())
                        .context(ctx.clone())
                        .details(serde_json::json!({ "method": "passkey" }));
                    self.audit_one(&event).await?;
                }
                return Err(e);
            }
        };
        if !asserted.result.user_verified() {
            return Err(MfaError::KeyRefused(
                "user verification is required".to_owned(),
            ));
        }
        let id = UserId::from_stored(asserted.row.user_id.clone());
        let active = self
            .store
            .user_by_id(&id)
            .await?
            .map(|u| u.status())
            .transpose()?
            == Some(UserStatus::Active);
        if !active {
            let event = AuditEvent::new(Action::SignInFailed)
                .failed("not_active")
                .subject(&id)
                .context(ctx.clone())
                .details(serde_json::json!({ "method": "passkey" }));
            self.audit_one(&event).await?;
            return Err(MfaError::KeyRefused("the account is not active".to_owned()));
        }
        let now = self.clock.now();
        let amr = Amr::default().with_factor(&asserted.amr());
        let mut tx = self.store.begin().await?;
        self.key_used(&mut tx, &asserted, now).await?;
        self.store.record_sign_in(&mut tx, &id, None, now).await?;
        let token = self
            .open_session_with(&mut tx, &id, &amr.to_json(), ctx, now)
            .await?;
        let event = AuditEvent::new(Action::SignInSucceeded)
            .actor(&id)
            .subject(&id)
            .context(ctx.clone())
            .details(serde_json::json!({ "amr": amr.values(), "method": "passkey" }));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok((id, token))
    }

    /// Options for "Sign in with a passkey". Anyone may ask, so asking is throttled per IP
    /// like password attempts, and every ceremony expires in two minutes.
    pub async fn passkey_options(&self, ctx: &RequestContext) -> Result<CeremonyOptions, MfaError> {
        if let Some(ip) = ctx.ip.as_deref() {
            let left = self
                .store
                .take_ip_token(
                    &format!("passkey:{ip}"),
                    f64::from(self.ip_limit.burst),
                    self.ip_limit.per_milli(),
                    self.clock.now(),
                )
                .await?;
            if left < 0.0 {
                let wait = self.ip_limit.retry_after_seconds(left);
                return Err(MfaError::Throttled(i64::try_from(wait).unwrap_or(i64::MAX)));
            }
        }
        self.start_passkey_sign_in().await
    }
}
