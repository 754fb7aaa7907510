//! Session tokens: 256 bits from the operating system's CSPRNG, given to the browser once in
//! a cookie and stored only as a SHA-256 hash.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The raw session id, as the cookie carries it (64 hex digits).
pub struct SessionToken(SecretString);

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// Fills `bytes` from the operating system's CSPRNG.
pub fn fill_random(bytes: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(bytes).map_err(|e| RandomError(e.to_string()))
}

/// 32 random bytes as 64 lower-case hex digits.
pub fn random_hex_256() -> Result<String, RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// SHA-256 of a high-entropy secret, as stored (a fast hash is right for 256-bit values).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl SessionToken {
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(SecretString::from(random_hex_256()?)))
    }

    /// Accepts only what we could have issued: 64 lower-case hex digits.
    pub fn from_cookie(value: &str) -> Option<Self> {
        let plausible = value.len() == 64
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        plausible.then(|| Self(SecretString::from(value.to_owned())))
    }

    /// The value to put in the cookie.
    pub fn cookie_value(&self) -> &str {
        self.0.expose_secret()
    }

    /// What the database stores and looks up.
    pub fn hash(&self) -> String {
        hash_secret(self.0.expose_secret())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([REDACTED])")
    }
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SessionPolicy {
    /// Sessions last seen at or before this instant have been idle too long.
    pub fn idle_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.idle
    }

    /// How stale `last_seen_at` may get before a request writes it again: a small part of
    /// the idle limit, so most requests cost no write.
    pub fn touch_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - (self.idle / 30).max(Duration::seconds(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_well_formed_cookies_are_accepted() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a.cookie_value(), b.cookie_value());
        assert_eq!(a.cookie_value().len(), 64);
        assert_ne!(a.hash(), a.cookie_value(), "only the hash is stored");
        assert!(SessionToken::from_cookie(a.cookie_value()).is_some());
        assert!(SessionToken::from_cookie("abc").is_none());
        assert!(SessionToken::from_cookie(&"G".repeat(64)).is_none());
        assert!(!format!("{a:?}").contains(a.cookie_value()));
    }
}
