//! Validating an authorization request (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636 §4.3)
//! and deciding what it needs next: sign-in, consent, or a code.
//!
//! The client and its exact redirect URI are checked before anything else; until both are
//! known good, errors are shown to the person and never redirected (RFC 6749 §4.1.2.1,
//! RFC 9700 §4.1.1), so Gatehouse cannot be used as an open redirector.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Client, OAuthError, OAuthErrorCode, Oidc, PENDING_PER_IP, PENDING_REQUEST_TTL,
    authorization_for, requested_client_id,
};
use crate::auth::CurrentSession;
use crate::auth::mfa::Amr;
use crate::auth::session::{hash_secret, random_hex_256};
use crate::crypto::verify_jwt;
use crate::domain::Scopes;
use crate::store::OrganisationRow;
use crate::store::StoreError;

/// How the code goes back to the service (OAuth 2.0 Multiple Response Types §2.1,
/// Form Post Response Mode §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// The `prompt` values (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A validated authorization request, as kept while the person signs in and consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    /// The `sub` of a valid `id_token_hint`.
    pub hint_sub: Option<String>,
    /// With the `organisation` scope: the organisation the person chose to act for.
    #[serde(default)]
    pub organisation_id: Option<String>,
}

impl AuthorizationRequest {
    /// Whether `acr_values` asks for the multi-factor level (step-up, OIDC Core §3.1.2.1).
    pub fn asks_for_mfa(&self) -> bool {
        self.acr_values
            .as_deref()
            .is_some_and(|v| v.split(' ').any(|acr| acr == super::codes::ACR_MFA))
    }

    pub fn scopes(&self) -> Scopes {
        Scopes::from_stored(
            self.scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        )
    }
}

/// Why a request failed, and so how the failure is shown.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI is not trustworthy: show an error page, never redirect.
    Page(String),
    /// Send the error back to the service's redirect URI.
    Redirect {
        redirect_uri: String,
        response_mode: ResponseMode,
        state: Option<String>,
        error: OAuthError,
    },
    /// Too many requests from one address: try again after this many seconds.
    Throttled(u64),
    Internal(StoreError),
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e)
    }
}

/// What happens next with a pending request.
#[derive(Debug)]
pub enum Next {
    SignIn,
    /// The person has access to the service at several organisations: they choose one.
    ChooseOrganisation(Vec<OrganisationRow>),
    /// The person has no access to the service at any organisation: no token.
    NoAccess,
    /// Signed in, but the service needs a second factor the session has not shown.
    SecondFactor,
    Consent,
    Issue,
    Fail(OAuthError),
}

impl Oidc {
    /// Validates the parameters of GET or POST /authorize: the service first (so nothing is
    /// redirected anywhere it did not register), then the rest (`authorize_params`).
    pub async fn validate_authorization(
        &self,
        params: &[(String, String)],
    ) -> Result<(Client, AuthorizationRequest), AuthorizeError> {
        let client_id = requested_client_id(params)?;
        let client = self.client(client_id).await?.ok_or_else(|| {
            AuthorizeError::Page("The service that sent you here is not registered with us.".into())
        })?;
        let request = authorization_for(&client, params, |hint| {
            self.id_token_hint_subject(hint, &client.id)
        })?;
        Ok((client, request))
    }

    /// The subject of an ID token we issued to `client_id`; expiry does not matter for a
    /// hint (OIDC Core §3.1.2.1).
    pub fn id_token_hint_subject(&self, token: &str, client_id: &str) -> Option<String> {
        let verified = verify_jwt(token, &self.keys, None).ok()?;
        let claims = verified.claims;
        if claims.get("iss")?.as_str()? != self.issuer.as_str() {
            return None;
        }
        let aud_ok = match claims.get("aud")? {
            serde_json::Value::String(a) => a == client_id,
            serde_json::Value::Array(a) => a.iter().any(|v| v.as_str() == Some(client_id)),
            _ => false,
        };
        aud_ok.then(|| claims.get("sub")?.as_str().map(str::to_owned))?
    }

    /// Keeps a request while the person signs in; returns the opaque id for the browser.
    pub async fn save_pending(
        &self,
        request: &AuthorizationRequest,
        ip: Option<&str>,
    ) -> Result<String, AuthorizeError> {
        let now = self.clock.now();
        if let Some(ip) = ip {
            let limit = PENDING_PER_IP;
            let left = self
                .store
                .take_ip_token(
                    &format!("authorize:{ip}"),
                    f64::from(limit.burst),
                    limit.per_milli(),
                    now,
                )
                .await?;
            if left < 0.0 {
                metrics::counter!("authorize_throttled_total").increment(1);
                return Err(AuthorizeError::Throttled(limit.retry_after_seconds(left)));
            }
        }
        let id = random_hex_256().map_err(|e| AuthorizeError::Page(e.to_string()))?;
        let json = serde_json::to_string(request)
            .map_err(|e| AuthorizeError::Internal(StoreError::Corrupt(e.to_string())))?;
        self.store
            .insert_authorization_request(
                &hash_secret(&id),
                &request.client_id,
                &json,
                now,
                now + PENDING_REQUEST_TTL,
            )
            .await?;
        Ok(id)
    }

    /// A pending request by its browser-held id, with when it was made; `None` once it has
    /// expired or been used.
    pub async fn pending(
        &self,
        id: &str,
    ) -> Result<Option<(Client, AuthorizationRequest, DateTime<Utc>)>, StoreError> {
        let now = self.clock.now();
        let Some((json, created_at)) = self
            .store
            .authorization_request(&hash_secret(id), now)
            .await?
        else {
            return Ok(None);
        };
        let request: AuthorizationRequest =
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let Some(client) = self.client(&request.client_id).await? else {
            return Ok(None);
        };
        let created_at = DateTime::from_timestamp_millis(created_at).unwrap_or(now);
        Ok(Some((client, request, created_at)))
    }

    /// Records the organisation the person chose for a pending request, if they may act for
    /// it there; false otherwise (or when the request has gone).
    pub async fn choose_organisation(
        &self,
        id: &str,
        client: &Client,
        request: &AuthorizationRequest,
        user_id: &str,
        organisation_id: &str,
    ) -> Result<bool, StoreError> {
        let access = self.store.access_organisations(user_id, &client.id).await?;
        if !access.iter().any(|o| o.id == organisation_id) {
            return Ok(false);
        }
        let mut chosen = request.clone();
        chosen.organisation_id = Some(organisation_id.to_owned());
        let json =
            serde_json::to_string(&chosen).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store
            .update_authorization_request(&hash_secret(id), &json, self.clock.now())
            .await
    }

    /// Given who is signed in, what the request needs next (OIDC Core §3.1.2.3–§3.1.2.4).
    pub async fn next_step(
        &self,
        client: &Client,
        request: &AuthorizationRequest,
        requested_at: DateTime<Utc>,
        session: Option<&CurrentSession>,
    ) -> Result<Next, StoreError> {
        let login_required = |why: &str| {
            if request.prompt.none {
                Next::Fail(OAuthError::new(OAuthErrorCode::LoginRequired, why))
            } else {
                Next::SignIn
            }
        };
        let Some(session) = session else {
            return Ok(login_required("the person is not signed in"));
        };
        let auth_time = session.session.auth_time;
        if request.prompt.login && auth_time < requested_at.timestamp_millis() {
            return Ok(Next::SignIn);
        }
        if let Some(max_age) = request.max_age {
            let age_ms = self.clock.now().timestamp_millis() - auth_time;
            if age_ms > max_age.saturating_mul(1000) {
                return Ok(login_required("the sign-in is older than max_age"));
            }
        }
        if let Some(sub) = &request.hint_sub
            && *sub != session.user.id
        {
            return Ok(Next::Fail(OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "the person signed in is not the one in id_token_hint",
            )));
        }
        let wants_mfa = client.mfa_required
            || request.asks_for_mfa()
            || self.store.is_approver(&session.user.id).await?;
        if wants_mfa && !Amr::from_json(&session.session.amr).is_mfa() {
            return Ok(if request.prompt.none {
                Next::Fail(OAuthError::new(
                    OAuthErrorCode::InteractionRequired,
                    "the service needs a second factor the sign-in has not shown",
                ))
            } else {
                Next::SecondFactor
            });
        }
        if request.scopes().contains("organisation") {
            let access = self
                .store
                .access_organisations(&session.user.id, &client.id)
                .await?;
            let chosen = request
                .organisation_id
                .as_deref()
                .is_some_and(|id| access.iter().any(|o| o.id == id));
            let must_choose = access.len() > 1 || request.prompt.select_account;
            if access.is_empty() || (!chosen && must_choose) {
                if request.prompt.none {
                    return Ok(Next::Fail(OAuthError::new(
                        if access.is_empty() {
                            OAuthErrorCode::AccessDenied
                        } else {
                            OAuthErrorCode::InteractionRequired
                        },
                        "the person must choose an organisation, or has no access",
                    )));
                }
                return Ok(if access.is_empty() {
                    Next::NoAccess
                } else {
                    Next::ChooseOrganisation(access)
                });
            }
        }
        let scopes = request.scopes();
        let consented = if request.prompt.consent {
            false
        } else if client.first_party {
            true
        } else {
            self.store
                .consent(&session.user.id, &client.id)
                .await?
                .is_some_and(|granted| scopes.is_subset(&granted))
        };
        if consented {
            Ok(Next::Issue)
        } else if request.prompt.none {
            Ok(Next::Fail(OAuthError::new(
                OAuthErrorCode::ConsentRequired,
                "the person has not agreed to share this with the service",
            )))
        } else {
            Ok(Next::Consent)
        }
    }
}

pub(super) fn parse_prompt(value: &str) -> Result<Prompt, &'static str> {
    let mut prompt = Prompt::default();
    for p in value.split(' ').filter(|p| !p.is_empty()) {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => prompt.select_account = true,
            _ => return Err("prompt may only hold none, login, consent or select_account"),
        }
    }
    if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(prompt)
}
