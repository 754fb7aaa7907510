//! Checking tokens we issued: access tokens for /userinfo (RFC 6750) and /introspect
//! (RFC 7662), and revocation (RFC 7009). A token is active only if its signature,
//! type, issuer and expiry check out and neither it nor its grant has been revoked.

use serde::Deserialize;

use super::tokens::grant_scopes;
use super::{Client, Oidc};
use crate::auth::session::hash_secret;
use crate::crypto::verify_jwt;
use crate::domain::{Scopes, UserId, UserStatus};
use crate::store::{StoreError, UserRow};

/// The claims of an active access token.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessTokenInfo {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub gid: Option<String>,
}

impl AccessTokenInfo {
    pub fn scopes(&self) -> Scopes {
        Scopes::from_stored(
            self.scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        )
    }
}

/// What /introspect says about a token: `None` is exactly `{"active": false}`.
#[derive(Debug)]
pub struct Introspection(pub Option<serde_json::Value>);

impl Oidc {
    /// The claims of an access token that is active now, with the person it speaks for
    /// (`None` for a service's own client-credentials token).
    pub async fn active_access_token(
        &self,
        token: &str,
    ) -> Result<Option<(AccessTokenInfo, Option<UserRow>)>, StoreError> {
        let Ok(verified) = verify_jwt(token, &self.keys, Some("at+jwt")) else {
            return Ok(None);
        };
        let Ok(info) = serde_json::from_value::<AccessTokenInfo>(verified.claims) else {
            return Ok(None);
        };
        let now = self.clock.now();
        if info.iss != self.issuer.as_str() || info.exp <= now.timestamp() {
            return Ok(None);
        }
        if self.store.access_token_revoked(&info.jti).await? {
            return Ok(None);
        }
        let Some(gid) = &info.gid else {
            // A client-credentials token: it speaks for the service itself.
            return Ok((info.sub == info.client_id).then_some((info, None)));
        };
        let Some(grant) = self.store.grant(gid).await? else {
            return Ok(None);
        };
        if grant.revoked_at.is_some() || grant.user_id != info.sub {
            return Ok(None);
        }
        let Some(user) = self
            .store
            .user_by_id(&UserId::from_stored(info.sub.clone()))
            .await?
        else {
            return Ok(None);
        };
        if user.status()? != UserStatus::Active {
            return Ok(None);
        }
        Ok(Some((info, Some(user))))
    }

    /// RFC 7662 §2.2 for `caller`: only its own tokens are described; anything else is
    /// inactive. Refresh tokens are looked up when the hint says so or the token is not a JWT.
    pub async fn introspect(
        &self,
        caller: &Client,
        token: &str,
    ) -> Result<Introspection, StoreError> {
        if let Some((info, user)) = self.active_access_token(token).await? {
            if info.client_id != caller.id {
                return Ok(Introspection(None));
            }
            let mut body = serde_json::json!({
                "active": true,
                "token_type": "Bearer",
                "scope": info.scope,
                "client_id": info.client_id,
                "sub": info.sub,
                "aud": info.aud,
                "iss": info.iss,
                "exp": info.exp,
                "iat": info.iat,
                "jti": info.jti,
            });
            if let (Some(user), Some(map)) = (user, body.as_object_mut()) {
                map.insert("username".into(), user.email.into());
                if let Some(sid) = info.sid {
                    map.insert("sid".into(), sid.into());
                }
            }
            return Ok(Introspection(Some(body)));
        }
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Introspection(None));
        }
        let now = self.clock.now();
        let Some(grant_id) = self
            .store
            .live_refresh_token_grant(&hash_secret(token), &caller.id, now)
            .await?
        else {
            return Ok(Introspection(None));
        };
        let Some(grant) = self.store.grant(&grant_id).await? else {
            return Ok(Introspection(None));
        };
        if grant.revoked_at.is_some() {
            return Ok(Introspection(None));
        }
        Ok(Introspection(Some(serde_json::json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant_scopes(&grant)?.to_string(),
            "client_id": grant.client_id,
            "sub": grant.user_id,
            "exp": grant.expires_at / 1000,
            "iat": grant.created_at / 1000,
            "iss": self.issuer.as_str(),
        }))))
    }

    /// RFC 7009 §2.1: revokes a refresh token (with its grant, and so every access token
    /// of the grant) or an access token of `caller`. Unknown tokens are not an error.
    pub async fn revoke(&self, caller: &Client, token: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        if token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Some(grant_id) = self
                .store
                .refresh_token_grant(&hash_secret(token), &caller.id)
                .await?
            {
                let mut tx = self.store.begin().await?;
                self.store
                    .revoke_grant(&mut tx, &grant_id, "revoked_by_client", now)
                    .await?;
                tx.commit().await?;
            }
            return Ok(());
        }
        if let Ok(verified) = verify_jwt(token, &self.keys, Some("at+jwt"))
            && let Ok(info) = serde_json::from_value::<AccessTokenInfo>(verified.claims)
            && info.client_id == caller.id
            && info.exp > now.timestamp()
        {
            self.store
                .revoke_access_token(&info.jti, info.exp * 1000, now)
                .await?;
        }
        Ok(())
    }
}
