//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6) and the tokens they mint:
//! ID tokens built by the `openidconnect` crate (OIDC Core §2, §3.1.3.6), access tokens as
//! RFC 9068 JWTs and opaque refresh tokens rotated on every use (RFC 9700 §4.14.2).

use chrono::{DateTime, Duration, Utc};
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, Audience, AuthenticationContextClass, AuthenticationMethodReference, EndUserEmail,
    EndUserFamilyName, EndUserGivenName, EndUserName, IdTokenClaims, IssuerUrl, LocalizedClaim,
    Nonce, StandardClaims, SubjectIdentifier,
};
use serde::Serialize;

use super::claims::{IdClaims, email_verified};
use super::{Client, GrantType, OAuthError, OAuthErrorCode, Oidc};
use crate::audit::{Action, AuditEvent};
use crate::auth::session::{hash_secret, random_hex_256};
use crate::crypto::sign_jwt;
use crate::domain::{Scopes, UserId, UserStatus};
use crate::store::{GrantRow, Redemption, StoreError, UserRow};

/// ID tokens with Gatehouse's own claims (`sid`).
type GatehouseIdToken = openidconnect::IdToken<
    IdClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// RFC 9068 §2.2 claims, plus `gid` (the grant, so revoking a grant revokes its access
/// tokens) and `sid` for tokens issued to a person.
#[derive(Debug, Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    exp: i64,
    iat: i64,
    jti: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<&'a str>,
}

fn invalid_grant(why: &str) -> OAuthError {
    OAuthError::invalid_grant(why)
}

fn is_token_shaped(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Oidc {
    /// Exchanges a code (RFC 6749 §4.1.3, RFC 7636 §4.6). A code presented twice revokes
    /// everything issued from its first use (RFC 6749 §4.1.2).
    pub async fn exchange_code(
        &self,
        client: &Client,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(unauthorized_client());
        }
        let code = code.ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        if !is_token_shaped(code) {
            return Err(invalid_grant("the code is not valid"));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let row = match self
            .store
            .consume_code(&mut tx, &hash_secret(code), &client.id, now)
            .await?
        {
            Redemption::Won(row) => row,
            Redemption::Unknown => return Err(invalid_grant("the code is not valid")),
            Redemption::Replayed(grant_id) => {
                self.revoke_for_reuse(tx, &grant_id, client, "code_reused", now)
                    .await?;
                return Err(invalid_grant("the code has already been used"));
            }
        };
        // The code is now spent whatever happens next.
        let failure = if row.expires_at <= now.timestamp_millis() {
            Some("the code has expired")
        } else if redirect_uri != Some(row.redirect_uri.as_str()) {
            Some("redirect_uri does not match the authorization request")
        } else if !pkce_matches(verifier, &row.code_challenge) {
            Some("code_verifier does not match the code_challenge")
        } else {
            None
        };
        if let Some(why) = failure {
            self.store
                .revoke_grant(&mut tx, &row.grant_id, "code_misused", now)
                .await?;
            tx.commit().await?;
            return Err(invalid_grant(why));
        }
        let grant = self.live_grant(&mut tx, &row.grant_id, client, now).await?;
        let user = self.active_user(&mut tx, &grant.user_id).await?;
        let refresh = self.new_refresh_token(&mut tx, client, &grant, now).await?;
        tx.commit().await?;
        self.mint(
            client,
            &grant,
            &user,
            row.nonce.as_deref(),
            refresh,
            None,
            now,
        )
        .await
    }

    /// Rotates a refresh token (RFC 6749 §6, RFC 9700 §4.14.2): a rotated token presented
    /// again revokes the whole family.
    pub async fn refresh(
        &self,
        client: &Client,
        token: Option<&str>,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows(GrantType::RefreshToken) {
            return Err(unauthorized_client());
        }
        let token =
            token.ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        if !is_token_shaped(token) {
            return Err(invalid_grant("the refresh token is not valid"));
        }
        let now = self.clock.now();
        let hash = hash_secret(token);
        // Everything that only reads is checked first, outside the transaction, so the write
        // (on SQLite, the one writer) is held for two statements only.
        let (grant_id, used) = self
            .store
            .refresh_token_state(&hash, &client.id)
            .await?
            .ok_or_else(|| invalid_grant("the refresh token is not valid"))?;
        let checked = match used {
            true => None,
            false => Some(self.refreshable(client, &grant_id, scope, now).await?),
        };
        let mut tx = self.store.begin().await?;
        match self
            .store
            .use_refresh_token(&mut tx, &hash, &client.id, now)
            .await?
        {
            Redemption::Won(won) if won == grant_id => {}
            Redemption::Won(_) | Redemption::Unknown => {
                return Err(invalid_grant("the refresh token is not valid"));
            }
            Redemption::Replayed(grant_id) => {
                self.revoke_for_reuse(tx, &grant_id, client, "refresh_token_reused", now)
                    .await?;
                return Err(invalid_grant("the refresh token has already been used"));
            }
        }
        let Some((grant, user, narrowed)) = checked else {
            return Err(invalid_grant("the refresh token is not valid"));
        };
        let refresh = self.new_refresh_token(&mut tx, client, &grant, now).await?;
        tx.commit().await?;
        self.mint(client, &grant, &user, None, refresh, narrowed, now)
            .await
    }

    /// The grant, person and scopes a refresh would issue for, if the grant is live, its
    /// session (unless offline) still exists, the person is active and `scope` asks for no
    /// more than was granted.
    async fn refreshable(
        &self,
        client: &Client,
        grant_id: &str,
        scope: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(GrantRow, UserRow, Option<Scopes>), OAuthError> {
        let grant = live(self.store.grant(grant_id).await?, client, now)?;
        if !grant.offline && !self.store.session_alive(&grant.session_hash, now).await? {
            return Err(invalid_grant(
                "the sign-in session this token belongs to has ended",
            ));
        }
        let user = active(
            self.store
                .user_by_id(&UserId::from_stored(grant.user_id.clone()))
                .await?,
        )?;
        let granted = grant_scopes(&grant)?;
        let narrowed = match scope {
            None => None,
            Some(asked) => {
                let asked = Scopes::parse_known(asked)
                    .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;
                if !asked.is_subset(&granted) {
                    return Err(OAuthError::new(
                        OAuthErrorCode::InvalidScope,
                        "a refresh cannot add scopes the person did not grant",
                    ));
                }
                Some(asked)
            }
        };
        Ok((grant, user, narrowed))
    }

    /// A token for the service itself (RFC 6749 §4.4); `sub` is its client id
    /// (RFC 9068 §2.2). Nothing is written to the database.
    pub fn client_credentials(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows(GrantType::ClientCredentials) {
            return Err(unauthorized_client());
        }
        let scopes = match scope {
            None => Scopes::default(),
            Some(asked) => {
                let asked = Scopes::parse_known(asked)
                    .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;
                if !asked.is_subset(&client.scopes) || asked.contains("openid") {
                    return Err(OAuthError::new(
                        OAuthErrorCode::InvalidScope,
                        "the service may not ask for these scopes",
                    ));
                }
                asked
            }
        };
        let now = self.clock.now();
        let access_token = self.access_token(client, &client.id, &scopes, None, now)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_token_ttl.as_secs(),
            scope: scopes.to_string(),
            refresh_token: None,
            id_token: None,
        })
    }

    async fn revoke_for_reuse(
        &self,
        mut tx: crate::store::Tx,
        grant_id: &str,
        client: &Client,
        reason: &'static str,
        now: DateTime<Utc>,
    ) -> Result<(), OAuthError> {
        let revoked = self
            .store
            .revoke_grant(&mut tx, grant_id, reason, now)
            .await?;
        if revoked {
            let mut event = AuditEvent::new(Action::TokenReuseDetected)
                .failed(reason)
                .client(&client.id)
                .details(serde_json::json!({ "grant": grant_id }));
            if let Some(grant) = self.store.grant_in(&mut tx, grant_id).await? {
                event = event.subject(&UserId::from_stored(grant.user_id));
            }
            event.actor = crate::audit::Actor::System;
            self.store.append_audit(&mut tx, &event, now).await?;
        }
        tx.commit().await?;
        tracing::warn!(client_id = %client.id, reason, "replayed credential; grant revoked");
        Ok(())
    }

    async fn live_grant(
        &self,
        tx: &mut crate::store::Tx,
        grant_id: &str,
        client: &Client,
        now: DateTime<Utc>,
    ) -> Result<GrantRow, OAuthError> {
        live(self.store.grant_in(tx, grant_id).await?, client, now)
    }

    async fn active_user(
        &self,
        tx: &mut crate::store::Tx,
        user_id: &str,
    ) -> Result<UserRow, OAuthError> {
        active(
            self.store
                .user_in(tx, &UserId::from_stored(user_id.to_owned()))
                .await?,
        )
    }

    /// A new refresh token for the grant, if the service gets them (RFC 6749 §1.5; OIDC
    /// Core §11: `offline_access`, or the service is configured for session-bound ones).
    async fn new_refresh_token(
        &self,
        tx: &mut crate::store::Tx,
        client: &Client,
        grant: &GrantRow,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, OAuthError> {
        if !client.allows(GrantType::RefreshToken) || !(grant.offline || client.refresh_tokens) {
            return Ok(None);
        }
        let token = random_hex_256().map_err(|_| OAuthError::server_error())?;
        self.store
            .insert_refresh_token(tx, &hash_secret(&token), &grant.id, now, grant.expires_at)
            .await?;
        Ok(Some(token))
    }

    #[allow(clippy::too_many_arguments)]
    async fn mint(
        &self,
        client: &Client,
        grant: &GrantRow,
        user: &UserRow,
        nonce: Option<&str>,
        refresh_token: Option<String>,
        narrowed: Option<Scopes>,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let scopes = match narrowed {
            Some(s) => s,
            None => grant_scopes(grant)?,
        };
        let organisation = if scopes.contains("organisation") {
            self.organisation_claims(grant).await?
        } else {
            None
        };
        let access_token = self.access_token(client, &user.id, &scopes, Some(grant), now)?;
        let id_token = if scopes.contains("openid") {
            let ids = (nonce, access_token.as_str());
            Some(self.id_token(client, grant, user, &scopes, ids, organisation, now)?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_token_ttl.as_secs(),
            scope: scopes.to_string(),
            refresh_token,
            id_token,
        })
    }

    fn access_token(
        &self,
        client: &Client,
        sub: &str,
        scopes: &Scopes,
        grant: Option<&GrantRow>,
        now: DateTime<Utc>,
    ) -> Result<String, OAuthError> {
        let key = self
            .keys
            .signing_key(client.access_token_alg)
            .ok_or_else(OAuthError::server_error)?;
        let jti = random_hex_256().map_err(|_| OAuthError::server_error())?;
        let claims = AccessClaims {
            iss: self.issuer.as_str(),
            sub,
            aud: &client.id,
            client_id: &client.id,
            exp: now.timestamp() + secs(client.access_token_ttl),
            iat: now.timestamp(),
            jti: jti[..32].to_owned(),
            scope: scopes.to_string(),
            auth_time: grant.map(|g| g.auth_time / 1000),
            acr: grant.and_then(|g| g.acr.as_deref()),
            amr: grant.map(amr_of),
            sid: grant.map(|g| g.sid.as_str()),
            gid: grant.map(|g| g.id.as_str()),
        };
        sign_jwt("at+jwt", &claims, &key).map_err(|_| OAuthError::server_error())
    }

    #[allow(clippy::too_many_arguments)]
    fn id_token(
        &self,
        client: &Client,
        grant: &GrantRow,
        user: &UserRow,
        scopes: &Scopes,
        (nonce, access_token): (Option<&str>, &str),
        organisation: Option<super::OrganisationClaims>,
        now: DateTime<Utc>,
    ) -> Result<String, OAuthError> {
        let key = self
            .keys
            .signing_key(client.id_token_alg)
            .ok_or_else(OAuthError::server_error)?;
        let issuer = IssuerUrl::new(self.issuer.as_str().to_owned())
            .map_err(|_| OAuthError::server_error())?;
        let mut standard =
            StandardClaims::<CoreGenderClaim>::new(SubjectIdentifier::new(user.id.clone()));
        if scopes.contains("email") {
            standard = standard
                .set_email(Some(EndUserEmail::new(user.email.clone())))
                .set_email_verified(Some(email_verified(user)));
        }
        if scopes.contains("profile") {
            standard = standard
                .set_given_name(Some(LocalizedClaim::from(EndUserGivenName::new(
                    user.given_name.clone(),
                ))))
                .set_family_name(Some(LocalizedClaim::from(EndUserFamilyName::new(
                    user.family_name.clone(),
                ))))
                .set_name(Some(LocalizedClaim::from(EndUserName::new(format!(
                    "{} {}",
                    user.given_name, user.family_name
                )))));
        }
        let claims = IdTokenClaims::new(
            issuer,
            vec![Audience::new(client.id.clone())],
            now + Duration::seconds(secs(client.id_token_ttl)),
            now,
            standard,
            IdClaims {
                sid: Some(grant.sid.clone()),
                roles: organisation.as_ref().map(|o| o.roles.clone()),
                organisation: organisation.map(|o| o.organisation),
            },
        )
        .set_authorized_party(Some(openidconnect::ClientId::new(client.id.clone())))
        .set_auth_time(DateTime::from_timestamp_millis(grant.auth_time))
        .set_nonce(nonce.map(|n| Nonce::new(n.to_owned())))
        .set_auth_context_ref(grant.acr.clone().map(AuthenticationContextClass::new))
        .set_auth_method_refs(Some(
            amr_of(grant)
                .into_iter()
                .map(AuthenticationMethodReference::new)
                .collect(),
        ));
        let token = GatehouseIdToken::new(
            claims,
            key.as_ref(),
            client.id_token_alg.core(),
            Some(&AccessToken::new(access_token.to_owned())),
            None,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "could not sign an ID token");
            OAuthError::server_error()
        })?;
        Ok(token.to_string())
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn amr_of(grant: &GrantRow) -> Vec<String> {
    serde_json::from_str(&grant.amr).unwrap_or_default()
}

pub(super) fn grant_scopes(grant: &GrantRow) -> Result<Scopes, StoreError> {
    serde_json::from_str::<Vec<String>>(&grant.scopes)
        .map(Scopes::from_stored)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn unauthorized_client() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::UnauthorizedClient,
        "this service may not use this grant type",
    )
}

/// RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge, with the verifier's
/// own syntax checked first (§4.1: 43 to 128 unreserved characters).
fn pkce_matches(verifier: Option<&str>, challenge: &str) -> bool {
    let Some(verifier) = verifier else {
        return false;
    };
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_owned()));
    subtle::ConstantTimeEq::ct_eq(computed.as_str().as_bytes(), challenge.as_bytes()).into()
}

/// `grant`, if it exists, belongs to `client`, and is neither revoked nor expired.
fn live(
    grant: Option<GrantRow>,
    client: &Client,
    now: DateTime<Utc>,
) -> Result<GrantRow, OAuthError> {
    let grant = grant.ok_or_else(|| invalid_grant("the grant no longer exists"))?;
    if grant.client_id != client.id {
        return Err(invalid_grant("the grant belongs to another service"));
    }
    if grant.revoked_at.is_some() {
        return Err(invalid_grant("the grant has been revoked"));
    }
    if grant.expires_at <= now.timestamp_millis() {
        return Err(invalid_grant("the grant has expired"));
    }
    Ok(grant)
}

/// `user`, if the account exists and is active.
fn active(user: Option<UserRow>) -> Result<UserRow, OAuthError> {
    let user = user.ok_or_else(|| invalid_grant("the account no longer exists"))?;
    if user.status()? != UserStatus::Active {
        return Err(invalid_grant("the account is not active"));
    }
    Ok(user)
}
