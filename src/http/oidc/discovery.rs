//! Discovery (OpenID Connect Discovery 1.0 §3–§4) and the JWKS (RFC 7517 §5), built with
//! the `openidconnect` crate's provider metadata types. Both may be cached briefly.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, AuthenticationContextClass, IssuerUrl, JsonWebKeySetUrl,
    ProviderMetadata, ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};

use crate::crypto::SigningAlg;
use crate::domain::KNOWN_SCOPES;
use crate::http::{AppState, Error};
use crate::oidc::{ACR_MFA, ACR_PASSWORD};

/// Metadata beyond OIDC Discovery's own list: RFC 8414 §2 endpoints and PKCE methods,
/// RFC 9207 §3, RP-Initiated Logout 1.0 §2.1 and Back-Channel Logout 1.0 §2.1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatehouseMetadata {
    end_session_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    code_challenge_methods_supported: Vec<String>,
    introspection_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    authorization_response_iss_parameter_supported: bool,
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
}

impl AdditionalProviderMetadata for GatehouseMetadata {}

type Metadata = ProviderMetadata<
    GatehouseMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

const CLAIMS: [&str; 18] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "email",
    "email_verified",
    "given_name",
    "family_name",
    "name",
    "organisation",
    "roles",
];

const AUTH_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// The discovery document for the configured issuer.
pub fn document(state: &AppState) -> Result<Metadata, String> {
    let issuer = &state.config.issuer;
    let url = |path: &str| issuer.join(path);
    let algs: Vec<_> = SigningAlg::ALL.iter().map(|a| a.core()).collect();
    let mut auth_methods: Vec<CoreClientAuthMethod> = AUTH_METHODS
        .iter()
        .map(|m| serde_json::from_value(serde_json::json!(m)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    auth_methods.push(CoreClientAuthMethod::None);
    let extra = GatehouseMetadata {
        end_session_endpoint: url("/end_session"),
        introspection_endpoint: url("/introspect"),
        revocation_endpoint: url("/revoke"),
        code_challenge_methods_supported: vec!["S256".into()],
        introspection_endpoint_auth_methods_supported: AUTH_METHODS.map(str::to_owned).to_vec(),
        revocation_endpoint_auth_methods_supported: AUTH_METHODS
            .iter()
            .chain(&["none"])
            .map(|s| (*s).to_owned())
            .collect(),
        authorization_response_iss_parameter_supported: true,
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
    };
    let metadata = Metadata::new(
        IssuerUrl::new(issuer.as_str().to_owned()).map_err(|e| e.to_string())?,
        AuthUrl::new(url("/authorize")).map_err(|e| e.to_string())?,
        JsonWebKeySetUrl::new(url("/jwks")).map_err(|e| e.to_string())?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        algs.clone(),
        extra,
    )
    .set_token_endpoint(Some(
        TokenUrl::new(url("/token")).map_err(|e| e.to_string())?,
    ))
    .set_userinfo_endpoint(Some(
        UserInfoUrl::new(url("/userinfo")).map_err(|e| e.to_string())?,
    ))
    .set_scopes_supported(Some(
        KNOWN_SCOPES
            .iter()
            .map(|s| Scope::new((*s).to_owned()))
            .collect(),
    ))
    .set_response_modes_supported(Some(vec![
        CoreResponseMode::Query,
        CoreResponseMode::FormPost,
    ]))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
        CoreGrantType::ClientCredentials,
    ]))
    .set_token_endpoint_auth_methods_supported(Some(auth_methods))
    .set_token_endpoint_auth_signing_alg_values_supported(Some(algs))
    .set_claims_supported(Some(
        CLAIMS
            .iter()
            .map(|c| CoreClaimName::new((*c).to_owned()))
            .collect(),
    ))
    .set_claim_types_supported(Some(vec![CoreClaimType::Normal]))
    .set_acr_values_supported(Some(
        [ACR_PASSWORD, ACR_MFA]
            .iter()
            .map(|a| AuthenticationContextClass::new((*a).to_owned()))
            .collect(),
    ))
    .set_request_parameter_supported(Some(false))
    .set_request_uri_parameter_supported(Some(false))
    .set_claims_parameter_supported(Some(false));
    Ok(metadata)
}

pub async fn configuration(State(state): State<AppState>) -> Result<Response, Error> {
    let metadata = document(&state)
        .map_err(|e| Error::Store(crate::store::StoreError::Corrupt(format!("discovery: {e}"))))?;
    Ok(cacheable(Json(metadata).into_response(), 300))
}

/// Public keys only; a service refetches it when it meets an unknown `kid`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    cacheable(Json(state.oidc.keys().jwks()).into_response(), 300)
}

fn cacheable(mut response: Response, seconds: u32) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={seconds}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
