//! Cross-site request forgery defence, in two lines.
//!
//! 1. Every form carries a token equal to a random value in our `SameSite=Strict`, HttpOnly
//!    CSRF cookie (double submit), compared in constant time. The cookie is replaced at every
//!    sign-in and sign-out, so a token never outlives the session it was shown in.
//! 2. A state-changing request must come from our own pages: `Sec-Fetch-Site` must say
//!    `same-origin` (or `none`, typed by the person) and `Origin`, when sent, must be ours.

use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::cookies::CookiePolicy;
use crate::auth::session::{RandomError, random_hex_256};

/// A form whose only field is the CSRF token (buttons such as "Sign out").
#[derive(Debug, Deserialize)]
pub struct TokenOnly {
    #[serde(default)]
    pub csrf_token: String,
}

/// The token to put in this page's forms, and the jar to send back (with a new cookie when
/// the browser had none).
pub fn token_for_page(
    jar: CookieJar,
    policy: CookiePolicy,
) -> Result<(String, CookieJar), RandomError> {
    if let Some(existing) = jar.get(policy.csrf_name()).map(|c| c.value().to_owned())
        && is_well_formed(&existing)
    {
        return Ok((existing, jar));
    }
    let fresh = random_hex_256()?;
    Ok((fresh.clone(), jar.add(policy.csrf(fresh))))
}

/// A new CSRF cookie, for when the session changes.
pub fn rotate(jar: CookieJar, policy: CookiePolicy) -> Result<CookieJar, RandomError> {
    Ok(jar.add(policy.csrf(random_hex_256()?)))
}

/// Whether a submitted form may be acted on.
pub fn is_valid(
    jar: &CookieJar,
    policy: CookiePolicy,
    submitted: &str,
    headers: &HeaderMap,
) -> bool {
    let Some(cookie) = jar.get(policy.csrf_name()) else {
        return false;
    };
    let token_ok = is_well_formed(submitted)
        && bool::from(cookie.value().as_bytes().ct_eq(submitted.as_bytes()));
    token_ok && same_origin(headers)
}

fn is_well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Browsers say where a request came from; anything but our own origin is refused.
fn same_origin(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    // Pages sent with `Referrer-Policy: no-referrer` (those reached from emailed links) make
    // browsers say `Origin: null`; `Sec-Fetch-Site`, which no page can forge, still tells.
    if origin == "null" && fetch_site == Some("same-origin") {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // A browser sends the Host it connected to; a forged request from another site carries
    // that site's Origin.
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cross_site_requests_are_refused_even_with_a_token() {
        assert!(same_origin(&headers(&[("host", "sso.example.gov.uk")])));
        assert!(same_origin(&headers(&[
            ("host", "sso.example.gov.uk"),
            ("origin", "https://sso.example.gov.uk"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "sso.example.gov.uk"),
            ("origin", "https://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "sso.example.gov.uk"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "sso.example.gov.uk"),
            ("origin", "null"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "sso.example.gov.uk"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(
            same_origin(&headers(&[
                ("host", "sso.example.gov.uk"),
                ("origin", "null"),
                ("sec-fetch-site", "same-origin"),
            ])),
            "a no-referrer page of our own"
        );
    }
}
