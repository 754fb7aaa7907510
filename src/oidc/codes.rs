//! Approving an authorization request: the grant and its single-use code are created, the
//! pending request is consumed and consent is remembered, in one transaction
//! (RFC 6749 §4.1.2; RFC 9207 adds `iss` to the response).

use super::claims::session_sid;
use super::{
    AuthorizationRequest, CODE_TTL, Client, OAuthError, OAuthErrorCode, Oidc, ResponseMode,
};
use crate::audit::{Action, AuditEvent, RequestContext};
use crate::auth::CurrentSession;
use crate::auth::session::{hash_secret, random_hex_256};
use crate::store::{GrantRow, StoreError};

/// Where the browser goes next and what it carries.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl IssuedCode {
    /// The error response for a request (RFC 6749 §4.1.2.1), delivered like a code.
    pub fn error(request: &AuthorizationRequest, error: &OAuthError, issuer: &str) -> Self {
        Self::error_to(
            &request.redirect_uri,
            request.response_mode,
            request.state.as_deref(),
            error,
            issuer,
        )
    }

    pub fn error_to(
        redirect_uri: &str,
        response_mode: ResponseMode,
        state: Option<&str>,
        error: &OAuthError,
        issuer: &str,
    ) -> Self {
        let mut params = vec![
            ("error".to_owned(), error.error.as_str().to_owned()),
            (
                "error_description".to_owned(),
                error.error_description.clone(),
            ),
        ];
        if let Some(state) = state {
            params.push(("state".to_owned(), state.to_owned()));
        }
        params.push(("iss".to_owned(), issuer.to_owned()));
        Self {
            redirect_uri: redirect_uri.to_owned(),
            response_mode,
            params,
        }
    }

    /// The redirect URL for `response_mode=query`, keeping any query the URI already has.
    pub fn query_url(&self) -> String {
        let Ok(mut url) = url::Url::parse(&self.redirect_uri) else {
            return self.redirect_uri.clone();
        };
        url.query_pairs_mut().extend_pairs(&self.params);
        url.to_string()
    }
}

/// The level reached with a password alone.
pub const ACR_PASSWORD: &str = "urn:gatehouse:acr:password";
/// The level reached with a second factor (or a passkey with user verification); services
/// ask for it with `acr_values` to make a signed-in person step up.
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";

/// The authentication context class the sign-in achieved (OIDC Core §2 `acr`).
pub fn achieved_acr(amr_json: &str) -> &'static str {
    if crate::auth::mfa::Amr::from_json(amr_json).is_mfa() {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

impl Oidc {
    /// Issues a code for a pending request the person may complete now. `consented` is
    /// true when they have just agreed on the consent page.
    pub async fn approve(
        &self,
        request_id: &str,
        client: &Client,
        request: &AuthorizationRequest,
        session: &CurrentSession,
        consented: bool,
        ctx: &RequestContext,
    ) -> Result<IssuedCode, OAuthError> {
        let now = self.clock.now();
        let code = random_hex_256().map_err(|_| OAuthError::server_error())?;
        let grant_id = random_hex_256().map_err(|_| OAuthError::server_error())?;
        let scopes = request.scopes();
        let user = session.user.user_id();
        let organisation_id = if scopes.contains("organisation") {
            // Checked again here: access may have ended since the choice was made.
            let access = self
                .store
                .access_organisations(&session.user.id, &client.id)
                .await?;
            match request.organisation_id.as_deref() {
                Some(id) if access.iter().any(|o| o.id == id) => Some(id.to_owned()),
                None if access.len() == 1 => Some(access[0].id.clone()),
                _ => {
                    return Err(OAuthError::new(
                        OAuthErrorCode::AccessDenied,
                        "the person has no access to this service at that organisation",
                    ));
                }
            }
        } else {
            None
        };
        let grant = GrantRow {
            id: grant_id[..32].to_owned(),
            client_id: client.id.clone(),
            user_id: session.user.id.clone(),
            session_hash: session.id_hash.clone(),
            sid: session_sid(&session.id_hash),
            scopes: serde_json::to_string(&scopes.to_vec())
                .map_err(|_| OAuthError::server_error())?,
            offline: scopes.contains("offline_access"),
            auth_time: session.session.auth_time,
            amr: session.session.amr.clone(),
            acr: Some(achieved_acr(&session.session.amr).to_owned()),
            created_at: now.timestamp_millis(),
            expires_at: (now
                + chrono::Duration::from_std(client.refresh_token_ttl).unwrap_or_default())
            .timestamp_millis(),
            revoked_at: None,
            organisation_id,
        };
        let mut tx = self.store.begin().await?;
        if !self
            .store
            .take_authorization_request(&mut tx, &hash_secret(request_id), now)
            .await?
        {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "this authorization request has already been completed or has expired",
            ));
        }
        if consented {
            let previous = self
                .store
                .consent_in(&mut tx, &session.user.id, &client.id)
                .await?
                .unwrap_or_default();
            let all = previous.union(&scopes);
            self.store
                .save_consent(&mut tx, &session.user.id, &client.id, &all, now)
                .await?;
            let event = AuditEvent::new(Action::ConsentGranted)
                .actor(&user)
                .subject(&user)
                .client(&client.id)
                .context(ctx.clone())
                .details(serde_json::json!({ "scopes": all.to_vec() }));
            self.store.append_audit(&mut tx, &event, now).await?;
        }
        self.store.insert_grant(&mut tx, &grant).await?;
        self.store
            .insert_code(
                &mut tx,
                &hash_secret(&code),
                &grant.id,
                &client.id,
                &request.redirect_uri,
                &request.code_challenge,
                request.nonce.as_deref(),
                now,
                now + CODE_TTL,
            )
            .await?;
        let event = AuditEvent::new(Action::AuthorizationGranted)
            .actor(&user)
            .subject(&user)
            .client(&client.id)
            .context(ctx.clone())
            .details(serde_json::json!({
                "scopes": scopes.to_vec(),
                "grant": grant.id,
                "acr_values_requested": request.acr_values,
            }));
        self.store.append_audit(&mut tx, &event, now).await?;
        tx.commit().await?;

        let mut params = vec![("code".to_owned(), code)];
        if let Some(state) = &request.state {
            params.push(("state".to_owned(), state.clone()));
        }
        params.push(("iss".to_owned(), self.issuer.as_str().to_owned()));
        Ok(IssuedCode {
            redirect_uri: request.redirect_uri.clone(),
            response_mode: request.response_mode,
            params,
        })
    }

    /// The person said no: consume the request and tell the service `access_denied`.
    pub async fn deny(
        &self,
        request_id: &str,
        request: &AuthorizationRequest,
    ) -> Result<IssuedCode, StoreError> {
        let error = OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "the person chose not to continue",
        );
        self.fail(request_id, request, &error).await
    }

    /// Ends a pending request with an error for the service.
    pub async fn fail(
        &self,
        request_id: &str,
        request: &AuthorizationRequest,
        error: &OAuthError,
    ) -> Result<IssuedCode, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.store
            .take_authorization_request(&mut tx, &hash_secret(request_id), now)
            .await?;
        tx.commit().await?;
        Ok(IssuedCode::error(request, error, self.issuer.as_str()))
    }
}
