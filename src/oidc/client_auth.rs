//! Who is calling the token, introspection and revocation endpoints (RFC 6749 §2.3,
//! OIDC Core §9): a secret in the Basic header or the form, a JWT signed with a key the
//! service registered (RFC 7523 §2.2), or — for public services — just the client id.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey;
use openidconnect::core::CoreJsonWebKey;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::client_cache::CachedClient;
use super::{AuthMethod, Client, Oidc};
use crate::auth::session::hash_secret;
use crate::crypto::{SigningAlg, decode_unverified_header};
use crate::store::StoreError;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Everything a request offered as client authentication.
#[derive(Debug, Default)]
pub struct ClientCredentials {
    pub basic: Option<(String, SecretString)>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub assertion_type: Option<String>,
    pub assertion: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// RFC 6749 §5.2 `invalid_client`; the description is safe to show.
    #[error("{0}")]
    Failed(&'static str),
    /// `invalid_client` too: a `private_key_jwt` assertion's `jti` seen before.
    #[error("client_assertion has already been used")]
    Replayed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Oidc {
    /// The service that is calling, if its credentials are right.
    pub async fn authenticate_client(
        &self,
        creds: &ClientCredentials,
        audience: &str,
    ) -> Result<Client, ClientAuthError> {
        let fail = ClientAuthError::Failed;
        let methods = usize::from(creds.basic.is_some())
            + usize::from(creds.client_secret.is_some())
            + usize::from(creds.assertion.is_some());
        if methods > 1 {
            return Err(fail("use exactly one client authentication method"));
        }
        let assertion_id = match &creds.assertion {
            Some(assertion) => Some(
                assertion_subject(assertion).ok_or(fail("client_assertion is not a valid JWT"))?,
            ),
            None => None,
        };
        let id = creds
            .basic
            .as_ref()
            .map(|(id, _)| id.clone())
            .or(assertion_id)
            .or_else(|| creds.client_id.clone())
            .ok_or(fail("client authentication is required"))?;
        if let Some(form_id) = &creds.client_id
            && *form_id != id
        {
            return Err(fail("client_id does not match the client authentication"));
        }
        let now = self.clock.now();
        let cached = self
            .authenticating_client(&id, false)
            .await?
            .ok_or(fail("client authentication failed"))?;
        match self.check_credentials(&cached, creds, audience, now).await {
            // Perhaps a new secret or key another writer added this last second: read the
            // service afresh once before refusing.
            Err(ClientAuthError::Failed(_)) => {
                let fresh = self
                    .authenticating_client(&id, true)
                    .await?
                    .ok_or(fail("client authentication failed"))?;
                self.check_credentials(&fresh, creds, audience, now).await
            }
            checked => checked,
        }
    }

    async fn check_credentials(
        &self,
        cached: &CachedClient,
        creds: &ClientCredentials,
        audience: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Client, ClientAuthError> {
        let fail = ClientAuthError::Failed;
        let client = cached.client.clone();
        match client.auth_method {
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
                let secret = match (client.auth_method, &creds.basic, &creds.client_secret) {
                    (AuthMethod::ClientSecretBasic, Some((_, s)), None) => s,
                    (AuthMethod::ClientSecretPost, None, Some(s)) => s,
                    _ => return Err(fail("client authentication failed")),
                };
                let presented = hash_secret(secret.expose_secret());
                let matched = cached
                    .live_secrets(now)
                    .fold(subtle::Choice::from(0), |acc, h| {
                        acc | h.as_bytes().ct_eq(presented.as_bytes())
                    });
                if bool::from(matched) {
                    Ok(client)
                } else {
                    Err(fail("client authentication failed"))
                }
            }
            AuthMethod::PrivateKeyJwt => {
                let assertion = creds
                    .assertion
                    .as_deref()
                    .filter(|_| creds.assertion_type.as_deref() == Some(JWT_BEARER))
                    .ok_or(fail("client authentication failed"))?;
                let Some((jti, exp)) =
                    assertion_claims(&client, assertion, audience, self.issuer.as_str(), now)
                else {
                    return Err(fail("client authentication failed"));
                };
                if self
                    .store
                    .use_client_assertion(&client.id, &jti, exp * 1000, now)
                    .await?
                {
                    Ok(client)
                } else {
                    Err(ClientAuthError::Replayed)
                }
            }
            AuthMethod::None => {
                if creds.basic.is_some()
                    || creds.client_secret.is_some()
                    || creds.assertion.is_some()
                {
                    return Err(fail("client authentication failed"));
                }
                Ok(client)
            }
        }
    }
}

/// RFC 7523 §3: `iss` and `sub` are the client id, `aud` names us, it has not expired,
/// it has a `jti`, and it is signed by one of the service's registered keys. Returns the
/// `jti` and `exp` for the replay check. `audience` is the endpoint's URL; the issuer is
/// accepted too. Pure, so it is fuzzed (`fuzz/fuzz_targets/client_assertion.rs`).
pub fn assertion_claims(
    client: &Client,
    assertion: &str,
    audience: &str,
    issuer: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(String, i64)> {
    let Some(jwks) = &client.jwks else {
        return None;
    };
    let Ok(header) = decode_unverified_header(assertion) else {
        return None;
    };
    let Ok(alg) = header.alg.parse::<SigningAlg>() else {
        return None;
    };
    let mut parts = assertion.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (Ok(claims), Ok(signature)) = (URL_SAFE_NO_PAD.decode(c), URL_SAFE_NO_PAD.decode(s)) else {
        return None;
    };
    let message = &assertion[..h.len() + 1 + c.len()];
    let signed = jwks.keys().iter().any(|key: &CoreJsonWebKey| {
        let kid_ok = match (&header.kid, key.key_id()) {
            (Some(want), Some(have)) => want == have.as_str(),
            _ => true,
        };
        kid_ok
            && key
                .verify_signature(&alg.core(), message.as_bytes(), &signature)
                .is_ok()
    });
    if !signed {
        return None;
    }
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&claims) else {
        return None;
    };
    let str_claim = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => a == audience || a == issuer,
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .any(|v| v.as_str() == Some(audience) || v.as_str() == Some(issuer)),
        _ => false,
    };
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .filter(|exp| *exp > now.timestamp() && *exp <= now.timestamp() + 600)?;
    let jti = str_claim("jti").filter(|j| !j.is_empty() && j.len() <= 200)?;
    (str_claim("iss") == Some(&client.id) && str_claim("sub") == Some(&client.id) && aud_ok)
        .then(|| (jti.to_owned(), exp))
}

/// The `sub` of a client assertion, read before its signature is checked, only to find
/// which service's keys to check it with.
pub fn assertion_subject(assertion: &str) -> Option<String> {
    let claims = assertion.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}
