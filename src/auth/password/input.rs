//! A password as typed, made comparable: length-checked before anything expensive happens,
//! then Unicode-normalised (NFKC) the same way whether it is being set or checked.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

/// Longest password accepted, in bytes of UTF-8, checked before hashing (and again after
/// normalisation, which can lengthen a string).
pub const MAX_BYTES: usize = 1024;

/// A normalised password. Never printed: `Debug` shows only that it is redacted.
pub struct Password(SecretString);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("Enter a password")]
    Empty,
    #[error("Password must be 1,024 bytes or fewer (about 1,000 letters)")]
    TooLong,
    #[error("Password must not include control characters such as tabs or line breaks")]
    ControlCharacter,
}

impl Password {
    /// Checks the size and characters of what was typed, then normalises it.
    pub fn from_input(typed: &str) -> Result<Self, InputError> {
        if typed.is_empty() {
            return Err(InputError::Empty);
        }
        if typed.len() > MAX_BYTES {
            return Err(InputError::TooLong);
        }
        if typed.chars().any(char::is_control) {
            return Err(InputError::ControlCharacter);
        }
        let normalised: String = typed.nfkc().collect();
        if normalised.len() > MAX_BYTES {
            return Err(InputError::TooLong);
        }
        Ok(Self(SecretString::from(normalised)))
    }

    /// The normalised text, for hashing and policy checks only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_unicode_forms_become_the_same_password() {
        let composed = Password::from_input("caf\u{e9} au lait, s'il vous pla\u{ee}t").unwrap();
        let decomposed =
            Password::from_input("cafe\u{301} au lait, s'il vous plai\u{302}t").unwrap();
        assert_eq!(composed.expose(), decomposed.expose());
    }

    #[test]
    fn size_and_characters_are_checked_before_anything_else() {
        assert_eq!(Password::from_input("").unwrap_err(), InputError::Empty);
        let huge = "a".repeat(1_000_000);
        assert_eq!(
            Password::from_input(&huge).unwrap_err(),
            InputError::TooLong
        );
        assert_eq!(
            Password::from_input(&"a".repeat(1025)).unwrap_err(),
            InputError::TooLong
        );
        assert!(Password::from_input(&"a".repeat(1024)).is_ok());
        // 340 Arabic ligatures fit in 1,020 bytes but each normalises to 18 letters.
        assert_eq!(
            Password::from_input(&"\u{fdfa}".repeat(340)).unwrap_err(),
            InputError::TooLong
        );
        assert_eq!(
            Password::from_input("correct\0horse battery").unwrap_err(),
            InputError::ControlCharacter
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = Password::from_input("a very secret passphrase").unwrap();
        assert!(!format!("{p:?}").contains("secret"));
    }
}
