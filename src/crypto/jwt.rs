//! Compact JWS for the tokens the `openidconnect` crate does not build: access tokens
//! (RFC 9068, `typ: at+jwt`) and logout tokens (Back-Channel Logout 1.0 §2.4,
//! `typ: logout+jwt`). Verification accepts only our own published keys and only the
//! algorithm each key was made for, so `alg: none`, HS256-with-the-public-key and unknown
//! `kid` are all refused (RFC 8725 §3.1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{Keys, SigningAlg, SigningKey};

#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// A token whose signature checked out; claims are not yet validated.
#[derive(Debug)]
pub struct VerifiedJwt {
    pub header: Header,
    pub claims: serde_json::Value,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's key is unknown")]
    UnknownKey,
    #[error("the token's algorithm is not allowed")]
    BadAlgorithm,
    #[error("the token's signature is wrong")]
    BadSignature,
    #[error("the token has the wrong type")]
    WrongType,
    #[error("the token could not be signed")]
    Signing,
}

/// Signs `claims` with `key`, stating `typ` in the header.
pub fn sign_jwt(typ: &str, claims: &impl Serialize, key: &SigningKey) -> Result<String, JwtError> {
    let header = Header {
        alg: key.alg().as_str().to_owned(),
        kid: Some(key.kid().to_owned()),
        typ: Some(typ.to_owned()),
    };
    let header = serde_json::to_vec(&header).map_err(|_| JwtError::Signing)?;
    let claims = serde_json::to_vec(claims).map_err(|_| JwtError::Signing)?;
    let mut token = String::with_capacity(512);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let signature = key
        .sign_bytes(token.as_bytes())
        .map_err(|_| JwtError::Signing)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// The header of a compact JWS, without checking anything else.
pub fn decode_unverified_header(token: &str) -> Result<Header, JwtError> {
    let header = token.split('.').next().ok_or(JwtError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// Checks a token signed by one of our published keys. `typ`, when given, must match
/// exactly (RFC 9068 §4 requires `at+jwt` for access tokens).
pub fn verify_jwt(token: &str, keys: &Keys, typ: Option<&str>) -> Result<VerifiedJwt, JwtError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = decode_unverified_header(token)?;
    let alg: SigningAlg = header.alg.parse().map_err(|_| JwtError::BadAlgorithm)?;
    let kid = header.kid.as_deref().ok_or(JwtError::UnknownKey)?;
    let key = keys.published(kid).ok_or(JwtError::UnknownKey)?;
    if key.alg() != alg {
        return Err(JwtError::BadAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| JwtError::Malformed)?;
    let signed = &token[..header_b64.len() + 1 + claims_b64.len()];
    if !key.verify(signed.as_bytes(), &signature) {
        return Err(JwtError::BadSignature);
    }
    if let Some(expected) = typ {
        // RFC 9068 §4: compare case-insensitively, with or without "application/".
        let got = header
            .typ
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let got = got.strip_prefix("application/").unwrap_or(&got);
        if got != expected {
            return Err(JwtError::WrongType);
        }
    }
    let claims = URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|_| JwtError::Malformed)?;
    let claims = serde_json::from_slice(&claims).map_err(|_| JwtError::Malformed)?;
    Ok(VerifiedJwt { header, claims })
}
