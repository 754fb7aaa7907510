//! Consents a person has given, and withdrawing them from /account: the service's grants
//! (and so its refresh and access tokens) are revoked at once.

use super::Oidc;
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::domain::UserId;
use crate::store::{ConsentRow, StoreError};

impl Oidc {
    pub async fn consents_of(&self, user: &UserId) -> Result<Vec<ConsentRow>, StoreError> {
        self.store.consents_of(user.as_str()).await
    }

    /// Forgets the consent and revokes every grant the person gave the service; returns
    /// whether there was a consent to withdraw.
    pub async fn withdraw_consent(
        &self,
        user: &UserId,
        client_id: &str,
        ctx: &RequestContext,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !self
            .store
            .delete_consent(&mut tx, user.as_str(), client_id)
            .await?
        {
            return Ok(false);
        }
        let revoked = self
            .store
            .revoke_user_client_grants(&mut tx, user.as_str(), client_id, "consent_withdrawn", now)
            .await?;
        let event = AuditEvent::new(Action::ConsentWithdrawn)
            .actor(user)
            .subject(user)
            .client(client_id)
            .context(ctx.clone())
            .details(serde_json::json!({ "grants_revoked": revoked }));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
