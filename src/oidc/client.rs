//! What a registered service is and may do, parsed from its stored row, and the rules a
//! registration must follow (OIDC Dynamic Registration §2 names, RFC 7591 §2 semantics).

use std::time::Duration;

use openidconnect::JsonWebKeySet;
use openidconnect::core::CoreJsonWebKey;
use serde::{Deserialize, Serialize};

use crate::crypto::{MAX_TOKEN_LIFETIME, SigningAlg};
use crate::domain::{RedirectUri, Scopes};
use crate::store::{ClientRow, StoreError};

/// Confidential services keep a secret or key; public ones (browser or native apps) cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Confidential,
    Public,
}

/// How a service proves who it is at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

/// The grants Gatehouse supports (RFC 6749 §4.1, §4.4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

macro_rules! string_enum {
    ($ty:ty { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(ClientKind { Confidential => "confidential", Public => "public" });
string_enum!(AuthMethod {
    ClientSecretBasic => "client_secret_basic",
    ClientSecretPost => "client_secret_post",
    PrivateKeyJwt => "private_key_jwt",
    None => "none",
});
string_enum!(GrantType {
    AuthorizationCode => "authorization_code",
    RefreshToken => "refresh_token",
    ClientCredentials => "client_credentials",
});

/// A registered service.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub scopes: Scopes,
    pub backchannel_logout_uri: Option<RedirectUri>,
    pub jwks: Option<JsonWebKeySet<CoreJsonWebKey>>,
    pub first_party: bool,
    pub mfa_required: bool,
    pub refresh_tokens: bool,
    pub id_token_alg: SigningAlg,
    pub access_token_alg: SigningAlg,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    /// A confidential service with the defaults a new registration starts from: the code
    /// flow with a client secret, `openid profile email`, RS256, 10-minute tokens, no
    /// refresh tokens. The caller sets the id, name and redirect URIs.
    pub fn draft() -> Result<Self, String> {
        Ok(Self {
            id: String::new(),
            name: String::new(),
            kind: ClientKind::Confidential,
            auth_method: AuthMethod::ClientSecretBasic,
            grant_types: vec![GrantType::AuthorizationCode],
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            scopes: Scopes::parse_known("openid profile email").map_err(|e| e.to_string())?,
            backchannel_logout_uri: None,
            jwks: None,
            first_party: false,
            mfa_required: false,
            refresh_tokens: false,
            id_token_alg: SigningAlg::Rs256,
            access_token_alg: SigningAlg::Rs256,
            access_token_ttl: Duration::from_secs(600),
            id_token_ttl: Duration::from_secs(600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            created_at: 0,
            updated_at: 0,
        })
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The registered redirect URI that is byte-for-byte `candidate`, if any
    /// (RFC 9700 §4.1.3: exact string matching).
    pub fn redirect_uri(&self, candidate: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|u| u.as_str() == candidate)
    }

    pub fn post_logout_redirect_uri(&self, candidate: &str) -> Option<&RedirectUri> {
        self.post_logout_redirect_uris
            .iter()
            .find(|u| u.as_str() == candidate)
    }

    pub fn from_row(row: ClientRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: {what}", row.id));
        let list = |json: &str, what: &str| -> Result<Vec<String>, StoreError> {
            serde_json::from_str(json).map_err(|_| corrupt(what))
        };
        let uris = |json: &str, what: &str| -> Result<Vec<RedirectUri>, StoreError> {
            Ok(list(json, what)?
                .into_iter()
                .map(RedirectUri::from_stored)
                .collect())
        };
        let grant_types = list(&row.grant_types, "grant_types")?
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant_types")))
            .collect::<Result<_, _>>()?;
        let jwks = row
            .jwks
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|_| corrupt("jwks"))?;
        let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or_default());
        Ok(Self {
            kind: ClientKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
            auth_method: AuthMethod::parse(&row.auth_method)
                .ok_or_else(|| corrupt("auth_method"))?,
            grant_types,
            redirect_uris: uris(&row.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: uris(
                &row.post_logout_redirect_uris,
                "post_logout_redirect_uris",
            )?,
            scopes: Scopes::from_stored(list(&row.scopes, "scopes")?),
            backchannel_logout_uri: row
                .backchannel_logout_uri
                .clone()
                .map(RedirectUri::from_stored),
            jwks,
            first_party: row.first_party,
            mfa_required: row.mfa_required,
            refresh_tokens: row.refresh_tokens,
            id_token_alg: row
                .id_token_alg
                .parse()
                .map_err(|_| corrupt("id_token_alg"))?,
            access_token_alg: row
                .access_token_alg
                .parse()
                .map_err(|_| corrupt("access_token_alg"))?,
            access_token_ttl: secs(row.access_token_seconds),
            id_token_ttl: secs(row.id_token_seconds),
            refresh_token_ttl: secs(row.refresh_token_seconds),
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    pub fn to_row(&self) -> ClientRow {
        let json = |v: Vec<String>| serde_json::to_string(&v).unwrap_or_else(|_| "[]".into());
        let uris = |v: &[RedirectUri]| json(v.iter().map(|u| u.as_str().to_owned()).collect());
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        ClientRow {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind.as_str().to_owned(),
            auth_method: self.auth_method.as_str().to_owned(),
            grant_types: json(
                self.grant_types
                    .iter()
                    .map(|g| g.as_str().to_owned())
                    .collect(),
            ),
            redirect_uris: uris(&self.redirect_uris),
            post_logout_redirect_uris: uris(&self.post_logout_redirect_uris),
            scopes: json(self.scopes.to_vec()),
            backchannel_logout_uri: self
                .backchannel_logout_uri
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            jwks: self
                .jwks
                .as_ref()
                .and_then(|j| serde_json::to_string(j).ok()),
            first_party: self.first_party,
            mfa_required: self.mfa_required,
            refresh_tokens: self.refresh_tokens,
            id_token_alg: self.id_token_alg.as_str().to_owned(),
            access_token_alg: self.access_token_alg.as_str().to_owned(),
            access_token_seconds: secs(self.access_token_ttl),
            id_token_seconds: secs(self.id_token_ttl),
            refresh_token_seconds: secs(self.refresh_token_ttl),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Checks that the registration hangs together; returns the first problem in words.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err("name must be 1 to 200 characters".into());
        }
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 100
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err("client id must be 1 to 100 letters, digits, '-', '_' or '.'".into());
        }
        match (self.kind, self.auth_method) {
            (ClientKind::Public, AuthMethod::None) => {}
            (ClientKind::Public, _) => {
                return Err("a public service must use token endpoint auth method none".into());
            }
            (ClientKind::Confidential, AuthMethod::None) => {
                return Err("a confidential service needs an auth method other than none".into());
            }
            (ClientKind::Confidential, _) => {}
        }
        if self.auth_method == AuthMethod::PrivateKeyJwt
            && self.jwks.as_ref().is_none_or(|j| j.keys().is_empty())
        {
            return Err("private_key_jwt needs the service's public keys (--jwks FILE)".into());
        }
        if self.grant_types.is_empty() {
            return Err("allow at least one grant type".into());
        }
        if self.kind == ClientKind::Public && self.allows(GrantType::ClientCredentials) {
            return Err("a public service cannot use client_credentials".into());
        }
        if self.allows(GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err("authorization_code needs at least one redirect URI".into());
        }
        if self.allows(GrantType::RefreshToken) && !self.allows(GrantType::AuthorizationCode) {
            return Err("refresh_token is only issued with authorization_code".into());
        }
        let max = MAX_TOKEN_LIFETIME;
        for (what, ttl) in [
            ("access token lifetime", self.access_token_ttl),
            ("ID token lifetime", self.id_token_ttl),
        ] {
            if ttl < Duration::from_secs(60) || ttl > max {
                return Err(format!(
                    "{what} must be between 60 seconds and {} hours",
                    max.as_secs() / 3600
                ));
            }
        }
        if self.refresh_token_ttl < Duration::from_secs(60)
            || self.refresh_token_ttl > Duration::from_secs(400 * 24 * 3600)
        {
            return Err("refresh token lifetime must be between 60 seconds and 400 days".into());
        }
        Ok(())
    }
}
