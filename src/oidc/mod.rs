//! The OpenID Connect provider's decisions, free of HTTP: which services exist, whether an
//! authorization request is acceptable, codes, grants and the tokens minted from them,
//! and who must be told when a session ends.

mod authorize;
mod authorize_params;
mod claims;
mod client;
mod client_auth;
mod client_cache;
mod clients;
mod codes;
mod consent;
mod error;
mod introspect;
mod logout;
mod organisation;
mod tokens;

pub use authorize::{AuthorizationRequest, AuthorizeError, Next, Prompt, ResponseMode};
pub use authorize_params::{authorization_for, requested_client_id};
pub use claims::{IdClaims, email_verified, session_sid, user_claims};
pub use client::{AuthMethod, Client, ClientKind, GrantType};
pub use client_auth::{ClientAuthError, ClientCredentials, assertion_claims, assertion_subject};
pub use clients::{ClientAdminError, describe};
pub use codes::{ACR_MFA, ACR_PASSWORD, IssuedCode};
pub use error::{OAuthError, OAuthErrorCode};
pub use introspect::{AccessTokenInfo, Introspection};
pub use logout::{EndSession, deliver_due_notices, logout_http_client};
pub use organisation::{OrganisationClaims, add_to as add_organisation_claims};
pub use tokens::TokenResponse;

use crate::clock::SharedClock;
use crate::config::Issuer;
use crate::crypto::Keys;
use crate::store::Store;

/// How long an /authorize request may wait for sign-in and consent.
pub const PENDING_REQUEST_TTL: chrono::Duration = chrono::Duration::minutes(30);

/// Pending requests one IP address may start: generous (a whole school signs in from one
/// address at 9 o'clock), but a flood stays bounded at about burst + 30 minutes of refill
/// rows per address.
pub const PENDING_PER_IP: crate::auth::throttle::IpLimit = crate::auth::throttle::IpLimit {
    burst: 300,
    per_minute: 120,
};
/// Authorization codes live 60 seconds (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// The provider: its issuer, keys, database and clock.
#[derive(Debug, Clone)]
pub struct Oidc {
    store: Store,
    keys: Keys,
    clock: SharedClock,
    issuer: Issuer,
    client_cache: client_cache::ClientCache,
}

impl Oidc {
    pub fn new(store: Store, keys: Keys, clock: SharedClock, issuer: Issuer) -> Self {
        Self {
            store,
            keys,
            clock,
            issuer,
            client_cache: client_cache::ClientCache::default(),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}
