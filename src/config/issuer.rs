//! The public issuer URL, validated once so every later use can trust it (OIDC Discovery §3:
//! the issuer is an https URL with no query or fragment; plain http only on loopback).

use std::fmt;

use url::Url;

/// The issuer exactly as configured (never rewritten, so discovery can echo it byte for byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    text: String,
    https: bool,
}

impl Issuer {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment".to_owned());
        }
        if text.ends_with('/') {
            return Err("must not end with '/'".to_owned());
        }
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err("must use https (plain http is allowed only for localhost)".to_owned());
            }
            _ => return Err("must be an https URL".to_owned()),
        }
        Ok(Self {
            text: text.to_owned(),
            https: url.scheme() == "https",
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether browsers reach us over TLS (decides HSTS and `__Host-` cookies).
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// An absolute URL for a path on this server, e.g. `join("/jwks")`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.text, path)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        assert!(Issuer::parse("https://sso.example.gov.uk").is_ok());
        assert!(Issuer::parse("https://example.gov.uk/gatehouse").is_ok());
        assert!(Issuer::parse("http://localhost:8080").is_ok());
    }

    #[test]
    fn rejects_what_discovery_forbids() {
        for bad in [
            "http://sso.example.gov.uk",
            "https://sso.example.gov.uk/",
            "https://sso.example.gov.uk?x=1",
            "https://sso.example.gov.uk#f",
            "ftp://sso.example.gov.uk",
            "not a url",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn keeps_the_configured_text() {
        let issuer = Issuer::parse("https://sso.example.gov.uk").unwrap();
        assert_eq!(issuer.as_str(), "https://sso.example.gov.uk");
        assert_eq!(issuer.join("/jwks"), "https://sso.example.gov.uk/jwks");
    }
}
