//! Email addresses: the sign-in identifier, unique without regard to case.

use std::fmt;

/// A syntactically plausible email address, trimmed, with its normalised (lower-case) form.
///
/// Deliverability is proven by sending a message, not by parsing; this only rejects what can
/// never be an address.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalised: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address")]
    Empty,
    #[error("Enter an email address in the correct format, like name@example.com")]
    Format,
    #[error("Email address must be 254 characters or fewer")]
    TooLong,
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or(EmailError::Format)?;
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '@';
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || !domain_ok || trimmed.chars().filter(|c| *c == '@').count() != 1 {
            return Err(EmailError::Format);
        }
        if local.chars().any(bad_char) || domain.chars().any(bad_char) {
            return Err(EmailError::Format);
        }
        Ok(Self {
            display: trimmed.to_owned(),
            normalised: trimmed.to_lowercase(),
        })
    }

    /// As the person typed it (trimmed): used in emails and on screen.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// Lower-cased: the unique key for look-ups.
    pub fn normalised(&self) -> &str {
        &self.normalised
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.display).finish()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_normalises_case() {
        let email = Email::parse("  Ioana.Roberts@School100000.Example.org ").unwrap();
        assert_eq!(email.as_str(), "Ioana.Roberts@School100000.Example.org");
        assert_eq!(email.normalised(), "ioana.roberts@school100000.example.org");
    }

    #[test]
    fn accepts_non_ascii_local_parts() {
        let email = Email::parse("Siobhán.Quinn10@school100011.example.org").unwrap();
        assert_eq!(
            email.normalised(),
            "siobhán.quinn10@school100011.example.org"
        );
    }

    #[test]
    fn rejects_what_cannot_be_an_address() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        for bad in [
            "no-at-sign",
            "@example.org",
            "a@b",
            "a@.example.org",
            "a@example..org",
            "a b@example.org",
            "a@b@example.org",
            "a@example.org\r\nBcc: x@y.z",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Format), "{bad:?}");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}
