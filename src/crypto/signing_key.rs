//! One private signing key, held by `aws-lc-rs` and offered to `openidconnect` through its
//! `PrivateSigningKey` trait so ID tokens are built by the crate's own types.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, PrivateSigningKey, SigningError};

use super::SigningAlg;

enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key with its id and algorithm. `Debug` never shows key material.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    material: Material,
    public: CoreJsonWebKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

impl SigningKey {
    /// A fresh key from the operating system's random source (RSA keys are 2048-bit).
    pub fn generate(kid: String, alg: SigningAlg) -> Result<(Self, Vec<u8>), KeyError> {
        let rng = SystemRandom::new();
        let fail = |what: &str| KeyError(format!("could not generate {alg} key: {what}"));
        let pkcs8: Vec<u8> = match alg {
            SigningAlg::Rs256 => {
                let pair =
                    aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| fail("rsa"))?;
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                    .map_err(|_| fail("der"))?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| fail("ec"))?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| fail("ed25519"))?
                .as_ref()
                .to_vec(),
        };
        let key = Self::from_pkcs8(kid, alg, &pkcs8)?;
        Ok((key, pkcs8))
    }

    /// A key from its PKCS #8 DER encoding.
    pub fn from_pkcs8(kid: String, alg: SigningAlg, der: &[u8]) -> Result<Self, KeyError> {
        let bad = |e: String| KeyError(format!("key {kid} is not a valid {alg} key: {e}"));
        let (material, public) = match alg {
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| bad(e.to_string()))?;
                let public = pair.public_key();
                let n = public.modulus().big_endian_without_leading_zero().to_vec();
                let e = public.exponent().big_endian_without_leading_zero().to_vec();
                (
                    Material::Rsa(pair),
                    jwk(&kid, alg, "RSA", |o| {
                        o.insert("n".into(), b64(&n));
                        o.insert("e".into(), b64(&e));
                    }),
                )
            }
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| bad(e.to_string()))?;
                // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref().to_vec();
                let (x, y) = match point.as_slice() {
                    [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => return Err(bad("unexpected public key encoding".into())),
                };
                let (x, y) = (x.to_vec(), y.to_vec());
                (
                    Material::Ec(pair),
                    jwk(&kid, alg, "EC", |o| {
                        o.insert("crv".into(), "P-256".into());
                        o.insert("x".into(), b64(&x));
                        o.insert("y".into(), b64(&y));
                    }),
                )
            }
            SigningAlg::EdDsa => {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|e| bad(e.to_string()))?;
                let x = pair.public_key().as_ref().to_vec();
                (
                    Material::Ed(pair),
                    jwk(&kid, alg, "OKP", |o| {
                        o.insert("crv".into(), "Ed25519".into());
                        o.insert("x".into(), b64(&x));
                    }),
                )
            }
        };
        let public: CoreJsonWebKey =
            serde_json::from_value(public).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            kid,
            alg,
            material,
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public half as a JWK with `kid`, `use` and `alg` (RFC 7517 §4).
    pub fn public_jwk(&self) -> &CoreJsonWebKey {
        &self.public
    }

    /// A JWS signature over `message` with this key's own algorithm (RFC 7515 §5.1).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        let rng = SystemRandom::new();
        match &self.material {
            Material::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| SigningError::CryptoError)?;
                Ok(signature)
            }
            Material::Ec(pair) => Ok(pair
                .sign(&rng, message)
                .map_err(|_| SigningError::CryptoError)?
                .as_ref()
                .to_vec()),
            Material::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// Checks a signature made by this key (used for our own tokens).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.public
            .verify_signature(&self.alg.core(), message, signature)
            .is_ok()
    }
}

impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(
        &self,
        signature_alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, SigningError> {
        if *signature_alg != self.alg.core() {
            return Err(SigningError::UnsupportedAlg(format!("{signature_alg:?}")));
        }
        self.sign_bytes(message)
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        self.public.clone()
    }
}

fn b64(bytes: &[u8]) -> serde_json::Value {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(bytes)
        .into()
}

fn jwk(
    kid: &str,
    alg: SigningAlg,
    kty: &str,
    fill: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("kty".into(), kty.into());
    o.insert("use".into(), "sig".into());
    o.insert("kid".into(), kid.into());
    o.insert("alg".into(), alg.as_str().into());
    fill(&mut o);
    serde_json::Value::Object(o)
}
