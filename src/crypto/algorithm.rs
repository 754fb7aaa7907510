//! The JWS algorithms Gatehouse signs with (RFC 7518 §3.1, RFC 8037 §3.1).

use std::fmt;
use std::str::FromStr;

use openidconnect::core::CoreJwsSigningAlgorithm;
use serde::{Deserialize, Serialize};

/// RS256 is mandatory for interoperability (OIDC Core §15.1); ES256 and EdDSA are offered
/// to services that prefer small, fast signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SigningAlg {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    pub const ALL: [Self; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn core(self) -> CoreJwsSigningAlgorithm {
        match self {
            Self::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Self::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Self::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown signing algorithm {s:?}; use RS256, ES256 or EdDSA"))
    }
}
