//! Registering and changing services. Secrets are 256-bit random, shown once and stored
//! only as SHA-256; a rotation keeps the old secret working for a grace period so a
//! service can switch without an outage. Every change is audited.

use chrono::Duration;
use secrecy::SecretString;

use super::{AuthMethod, Client, Oidc};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::auth::session::{hash_secret, random_hex_256};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClientAdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("no service has client id {0:?}")]
    NotFound(String),
    #[error("a service with client id {0:?} already exists")]
    Exists(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ClientAdminError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl Oidc {
    pub async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        self.store
            .client_by_id(id)
            .await?
            .map(Client::from_row)
            .transpose()
    }

    pub async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        self.store
            .list_clients()
            .await?
            .into_iter()
            .map(Client::from_row)
            .collect()
    }

    /// Registers a service; returns its secret (shown once) when it authenticates with one.
    pub async fn register_client(
        &self,
        mut client: Client,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(Client, Option<SecretString>), ClientAdminError> {
        client.validate().map_err(ClientAdminError::Invalid)?;
        let now = self.clock.now();
        client.created_at = now.timestamp_millis();
        client.updated_at = client.created_at;
        let secret = needs_secret(client.auth_method)
            .then(random_hex_256)
            .transpose()
            .map_err(|e| ClientAdminError::Internal(e.to_string()))?;
        let mut tx = self.store.begin().await?;
        self.store
            .insert_client(&mut tx, &client.to_row())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ClientAdminError::Exists(client.id.clone()),
                e => e.into(),
            })?;
        if let Some(secret) = &secret {
            self.store
                .add_client_secret(&mut tx, &client.id, &hash_secret(secret), now, now)
                .await?;
        }
        let event = event(Action::ClientCreated, &actor, &client, ctx).details(describe(&client));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        self.client_cache.clear();
        Ok((client, secret.map(SecretString::from)))
    }

    /// Saves a changed registration (the id and creation time cannot change). Returns a
    /// new secret when the change moved the service onto secret-based authentication.
    pub async fn update_client(
        &self,
        mut client: Client,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(Client, Option<SecretString>), ClientAdminError> {
        client.validate().map_err(ClientAdminError::Invalid)?;
        let before = self
            .client(&client.id)
            .await?
            .ok_or_else(|| ClientAdminError::NotFound(client.id.clone()))?;
        let now = self.clock.now();
        client.created_at = before.created_at;
        client.updated_at = now.timestamp_millis();
        let secret = (needs_secret(client.auth_method) && !needs_secret(before.auth_method))
            .then(random_hex_256)
            .transpose()
            .map_err(|e| ClientAdminError::Internal(e.to_string()))?;
        let mut tx = self.store.begin().await?;
        self.store.update_client(&mut tx, &client.to_row()).await?;
        if let Some(secret) = &secret {
            self.store
                .add_client_secret(&mut tx, &client.id, &hash_secret(secret), now, now)
                .await?;
        }
        let event = event(Action::ClientUpdated, &actor, &client, ctx)
            .diff(describe(&before), describe(&client));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        self.client_cache.clear();
        Ok((client, secret.map(SecretString::from)))
    }

    /// Issues a new secret; the previous one keeps working for `grace`, then stops.
    pub async fn rotate_client_secret(
        &self,
        id: &str,
        grace: Duration,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<SecretString, ClientAdminError> {
        let client = self
            .client(id)
            .await?
            .ok_or_else(|| ClientAdminError::NotFound(id.to_owned()))?;
        if !needs_secret(client.auth_method) {
            return Err(ClientAdminError::Invalid(format!(
                "{id} authenticates with {}, not a secret",
                client.auth_method.as_str()
            )));
        }
        let secret = random_hex_256().map_err(|e| ClientAdminError::Internal(e.to_string()))?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .add_client_secret(&mut tx, id, &hash_secret(&secret), now, now + grace)
            .await?;
        let event = event(Action::ClientSecretRotated, &actor, &client, ctx)
            .details(serde_json::json!({ "old_secret_valid_until": (now + grace).to_rfc3339() }));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        self.client_cache.clear();
        Ok(SecretString::from(secret))
    }

    /// Removes a service and everything issued to it.
    pub async fn delete_client(
        &self,
        id: &str,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<(), ClientAdminError> {
        let client = self
            .client(id)
            .await?
            .ok_or_else(|| ClientAdminError::NotFound(id.to_owned()))?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store.delete_client(&mut tx, id).await?;
        let event = event(Action::ClientDeleted, &actor, &client, ctx).details(describe(&client));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;
        self.client_cache.clear();
        Ok(())
    }
}

fn needs_secret(method: AuthMethod) -> bool {
    matches!(
        method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    )
}

fn event(action: Action, actor: &Actor, client: &Client, ctx: &RequestContext) -> AuditEvent {
    let mut event = AuditEvent::new(action)
        .client(&client.id)
        .context(ctx.clone());
    event.actor = actor.clone();
    event
}

/// The registration as the audit trail and `client show --json` describe it (no secrets).
pub fn describe(client: &Client) -> serde_json::Value {
    let uris = |v: &[crate::domain::RedirectUri]| {
        v.iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>()
    };
    serde_json::json!({
        "client_id": client.id,
        "name": client.name,
        "type": client.kind.as_str(),
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "redirect_uris": uris(&client.redirect_uris),
        "post_logout_redirect_uris": uris(&client.post_logout_redirect_uris),
        "scopes": client.scopes.to_vec(),
        "backchannel_logout_uri": client.backchannel_logout_uri.as_ref().map(|u| u.as_str()),
        "jwks": client.jwks.as_ref().map(|_| "registered"),
        "first_party": client.first_party,
        "mfa_required": client.mfa_required,
        "refresh_tokens": client.refresh_tokens,
        "id_token_signed_response_alg": client.id_token_alg.as_str(),
        "access_token_signed_response_alg": client.access_token_alg.as_str(),
        "access_token_lifetime_seconds": client.access_token_ttl.as_secs(),
        "id_token_lifetime_seconds": client.id_token_ttl.as_secs(),
        "refresh_token_lifetime_seconds": client.refresh_token_ttl.as_secs(),
    })
}
