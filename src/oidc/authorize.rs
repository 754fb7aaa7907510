//! Validating an authorization request (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636 §4.3)
//! and deciding what it needs next: sign-in, consent, or a code.
//!
//! The client and its exact redirect URI are checked before anything else; until both are
//! known good, errors are shown to the person and never redirected (RFC 6749 §4.1.2.1,
//! RFC 9700 §4.1.1), so Gatehouse cannot be used as an open redirector.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Client, GrantType, OAuthError, OAuthErrorCode, Oidc, PENDING_REQUEST_TTL};
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

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;

impl Oidc {
    /// Validates the parameters of GET or POST /authorize.
    pub async fn validate_authorization(
        &self,
        params: &[(String, String)],
    ) -> Result<(Client, AuthorizationRequest), AuthorizeError> {
        let mut seen: HashMap<&str, Vec<&str>> = HashMap::new();
        for (k, v) in params {
            seen.entry(k.as_str()).or_default().push(v.as_str());
        }
        // RFC 6749 §3.1: parameters must not be sent more than once.
        let single = |name: &str| -> Result<Option<&str>, ()> {
            match seen.get(name).map(Vec::as_slice) {
                None => Ok(None),
                Some([one]) => Ok(Some(*one)),
                Some(_) => Err(()),
            }
        };
        let page = |why: &str| AuthorizeError::Page(why.to_owned());
        let client_id = single("client_id")
            .map_err(|()| page("The request named more than one service."))?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| page("The request did not say which service it came from."))?;
        let client = self
            .client(client_id)
            .await?
            .ok_or_else(|| page("The service that sent you here is not registered with us."))?;
        let redirect_uri = single("redirect_uri")
            .map_err(|()| page("The request named more than one return address."))?
            .ok_or_else(|| page("The request did not include the service's return address."))?;
        let redirect_uri = client
            .redirect_uri(redirect_uri)
            .ok_or_else(|| page("The service's return address is not one it registered."))?
            .as_str()
            .to_owned();

        // From here on errors go back to the service.
        let state = single("state").ok().flatten().map(str::to_owned);
        let response_mode = match single("response_mode") {
            Ok(None | Some("query")) => Ok(ResponseMode::Query),
            Ok(Some("form_post")) => Ok(ResponseMode::FormPost),
            _ => Err("response_mode must be query or form_post"),
        };
        let fail = |error: OAuthError, mode: ResponseMode| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            response_mode: mode,
            state: state.clone(),
            error,
        };
        let response_mode = response_mode
            .map_err(|why| fail(OAuthError::invalid_request(why), ResponseMode::Query))?;
        let fail = |error: OAuthError| fail(error, response_mode);
        let invalid = |why: &str| fail(OAuthError::invalid_request(why));

        if let Some((name, _)) = seen.iter().find(|(_, v)| v.len() > 1) {
            return Err(invalid(&format!("{name} was sent more than once")));
        }
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(invalid("state is too long"));
        }
        if seen.contains_key("request") {
            return Err(fail(OAuthError::new(
                OAuthErrorCode::RequestNotSupported,
                "request objects are not supported",
            )));
        }
        if seen.contains_key("request_uri") {
            return Err(fail(OAuthError::new(
                OAuthErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            )));
        }
        match single("response_type").ok().flatten() {
            None | Some("") => return Err(invalid("response_type is required")),
            Some("code") => {}
            Some(_) => {
                return Err(fail(OAuthError::new(
                    OAuthErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )));
            }
        }
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(fail(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "this service may not use the authorization code flow",
            )));
        }
        let asked = single("scope").ok().flatten().unwrap_or_default();
        let scopes = Scopes::requested_for_person(asked, &client.scopes);
        if !scopes.contains("openid") {
            return Err(fail(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "scope must include openid, and only scopes this service may use",
            )));
        }
        // RFC 7636 §4.3, RFC 9700 §2.1.1: PKCE with S256 for every client.
        let code_challenge = single("code_challenge")
            .ok()
            .flatten()
            .ok_or_else(|| invalid("code_challenge is required (PKCE with S256)"))?;
        if single("code_challenge_method").ok().flatten() != Some("S256") {
            return Err(invalid("code_challenge_method must be S256"));
        }
        if code_challenge.len() != 43
            || !code_challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("code_challenge must be a base64url SHA-256 value"));
        }
        let prompt =
            parse_prompt(single("prompt").ok().flatten().unwrap_or_default()).map_err(&invalid)?;
        let max_age = match single("max_age").ok().flatten() {
            None => None,
            Some(v) => Some(
                v.parse::<u32>()
                    .map_err(|_| invalid("max_age must be a whole number of seconds"))?,
            ),
        };
        let nonce = single("nonce").ok().flatten().map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(invalid("nonce is too long"));
        }
        let login_hint = single("login_hint")
            .ok()
            .flatten()
            .filter(|h| h.len() <= 254)
            .map(str::to_owned);
        let acr_values = single("acr_values")
            .ok()
            .flatten()
            .filter(|a| a.len() <= 200)
            .map(str::to_owned);
        let hint_sub =
            match single("id_token_hint").ok().flatten() {
                None => None,
                Some(hint) => Some(self.id_token_hint_subject(hint, &client.id).ok_or_else(
                    || invalid("id_token_hint is not an ID token we issued to this service"),
                )?),
            };
        Ok((
            client.clone(),
            AuthorizationRequest {
                client_id: client.id.clone(),
                redirect_uri,
                response_mode,
                scope: scopes.to_string(),
                state,
                nonce,
                code_challenge: code_challenge.to_owned(),
                prompt,
                max_age: max_age.map(i64::from),
                login_hint,
                acr_values,
                hint_sub,
                organisation_id: None,
            },
        ))
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
    ) -> Result<String, AuthorizeError> {
        let id = random_hex_256().map_err(|e| AuthorizeError::Page(e.to_string()))?;
        let now = self.clock.now();
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

fn parse_prompt(value: &str) -> Result<Prompt, &'static str> {
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
