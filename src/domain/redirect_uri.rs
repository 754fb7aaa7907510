//! Redirect URIs a service registers: compared byte for byte at /authorize, so they must be
//! unambiguous when registered (RFC 9700 §4.1.1, RFC 6749 §3.1.2, OIDC Core §3.1.2.1).

use std::fmt;

/// An absolute URI with no fragment, no wildcard and no user info, over https — or plain
/// http to a loopback address for native and development clients (RFC 8252 §7.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("{0:?} is not an absolute URI")]
    NotAbsolute(String),
    #[error("{0:?} has a fragment; redirect URIs must not")]
    Fragment(String),
    #[error("{0:?} has a wildcard; redirect URIs must be exact")]
    Wildcard(String),
    #[error("{0:?} has user information before the host")]
    UserInfo(String),
    #[error("{0:?} must use https (plain http is allowed only to 127.0.0.1, [::1] or localhost)")]
    NotHttps(String),
    #[error("{0:?} is not in canonical form; register {1:?}")]
    NotCanonical(String, String),
}

impl RedirectUri {
    pub fn parse(input: &str) -> Result<Self, RedirectUriError> {
        let owned = || input.to_owned();
        if input.contains('*') {
            return Err(RedirectUriError::Wildcard(owned()));
        }
        let url = url::Url::parse(input).map_err(|_| RedirectUriError::NotAbsolute(owned()))?;
        if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
            return Err(RedirectUriError::NotAbsolute(owned()));
        }
        if url.fragment().is_some() || input.contains('#') {
            return Err(RedirectUriError::Fragment(owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::UserInfo(owned()));
        }
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(RedirectUriError::NotHttps(owned())),
        }
        if url.as_str() != input {
            return Err(RedirectUriError::NotCanonical(owned(), url.to_string()));
        }
        Ok(Self(input.to_owned()))
    }

    /// A value read back from the store, already validated when it was written.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scheme, host and port, for a Content-Security-Policy source.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.0)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://service.example.gov.uk/callback",
            "https://service.example.gov.uk:8443/cb?x=1",
            "http://127.0.0.1:4000/cb",
            "http://localhost/cb",
        ] {
            assert_eq!(RedirectUri::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_ambiguous_or_unsafe_uris() {
        for bad in [
            "/callback",
            "https://example.com/cb#frag",
            "https://*.example.com/cb",
            "https://user@example.com/cb",
            "http://example.com/cb",
            "https://EXAMPLE.com/cb",
            "https://example.com/a/../cb",
            "https://example.com",
            "javascript:alert(1)",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
