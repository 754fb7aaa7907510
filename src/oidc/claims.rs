//! Claims about a person, released by scope (OIDC Core §5.4), and the session id `sid`
//! (Front-/Back-Channel Logout 1.0 §3 / §2.4).

use openidconnect::AdditionalClaims;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Scopes;
use crate::store::UserRow;

/// Gatehouse's own ID-token claims beyond the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// With the `organisation` scope: the organisation acted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<serde_json::Value>,
    /// With the `organisation` scope: the person's roles there in this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl AdditionalClaims for IdClaims {}

/// The public id of a browser session: derived from, but not revealing, the stored hash
/// of the session cookie, so services can be told which session ended.
pub fn session_sid(session_hash: &str) -> String {
    let digest = Sha256::digest(format!("gatehouse-sid:{session_hash}").as_bytes());
    hex::encode(&digest[..16])
}

/// `email_verified`: the address has been shown to work (the account was activated).
pub fn email_verified(user: &UserRow) -> bool {
    user.activated_at.is_some()
}

/// The claims `scopes` release about `user`, as a JSON object with `sub` (for /userinfo).
pub fn user_claims(user: &UserRow, scopes: &Scopes) -> serde_json::Map<String, serde_json::Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), user.id.clone().into());
    if scopes.contains("profile") {
        claims.insert("given_name".into(), user.given_name.clone().into());
        claims.insert("family_name".into(), user.family_name.clone().into());
        claims.insert(
            "name".into(),
            format!("{} {}", user.given_name, user.family_name).into(),
        );
    }
    if scopes.contains("email") {
        claims.insert("email".into(), user.email.clone().into());
        claims.insert("email_verified".into(), email_verified(user).into());
    }
    claims
}
