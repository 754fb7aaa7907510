//! Recovery codes: ten single-use codes of 80 random bits each, shown once, stored as
//! SHA-256 hashes (a fast hash is right for values this random).

use secrecy::{ExposeSecret, SecretString};

use super::super::session::{fill_random, hash_secret};
use super::{AuthError, MfaError};

/// How many codes a person holds after each generation.
pub const CODES: usize = 10;

/// Crockford's base32 alphabet: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Freshly generated codes, to show once; only their hashes are stored.
#[derive(Debug)]
pub struct RecoveryCodes(Vec<SecretString>);

impl RecoveryCodes {
    pub(super) fn generate() -> Result<(Self, Vec<String>), AuthError> {
        let mut codes = Vec::with_capacity(CODES);
        let mut hashes = Vec::with_capacity(CODES);
        for _ in 0..CODES {
            let mut bytes = [0u8; 16];
            fill_random(&mut bytes)?;
            // 16 symbols of 5 bits each: 80 bits.
            let plain: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            hashes.push(hash_secret(&plain));
            let shown = plain
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            codes.push(SecretString::from(shown));
        }
        Ok((Self(codes), hashes))
    }

    /// The codes as the person should write them down.
    pub fn shown(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|c| c.expose_secret().to_owned())
            .collect()
    }
}

/// The hash of what someone typed, forgiving case, spaces, hyphens and look-alike letters.
pub(super) fn typed_hash(input: &str) -> Result<String, MfaError> {
    let cleaned: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect();
    if cleaned.is_empty() {
        return Err(MfaError::RecoveryMissing);
    }
    if cleaned.len() != 16 || !cleaned.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(MfaError::RecoveryFormat);
    }
    Ok(hash_secret(&cleaned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_typed_forms_hash_alike() {
        let (codes, hashes) = RecoveryCodes::generate().unwrap();
        let shown = codes.shown();
        assert_eq!(shown.len(), CODES);
        assert_eq!(shown[0].len(), 19);
        let mut unique = hashes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), CODES);
        assert_eq!(typed_hash(&shown[3]).unwrap(), hashes[3]);
        assert_eq!(
            typed_hash(&shown[3].to_uppercase().replace('-', " ")).unwrap(),
            hashes[3]
        );
        assert!(matches!(typed_hash(""), Err(MfaError::RecoveryMissing)));
        assert!(matches!(typed_hash("abc"), Err(MfaError::RecoveryFormat)));
        assert!(matches!(
            typed_hash("uuuu-uuuu-uuuu-uuuu"),
            Err(MfaError::RecoveryFormat)
        ));
    }
}
