//! Signing keys and JSON Web Tokens: the keys folder shared by every node, the published
//! JWKS, and signatures made with `aws-lc-rs` (never the `rsa` crate; see DESIGN.md).

mod algorithm;
mod data_key;
mod jwt;
mod key_folder;
mod keyring;
mod signing_key;

pub use algorithm::SigningAlg;
pub use data_key::{DATA_KEY_FILE, DataKey, SealError};
pub use jwt::{JwtError, VerifiedJwt, decode_unverified_header, sign_jwt, verify_jwt};
pub use key_folder::{KeyFolder, KeyFolderError, KeyMeta, KeyState};
pub use keyring::{Keys, MAX_TOKEN_LIFETIME};
pub use signing_key::SigningKey;
