//! Collects the client authentication a request offered (RFC 6749 §2.3.1: Basic with
//! form-urlencoded id and secret, or form fields; RFC 7523 §2.2: a client assertion) for
//! `crate::oidc` to check.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;

use crate::oidc::ClientCredentials;

/// Parameters of a form body, keeping repeated names visible (they are an error).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The value of a parameter sent once; `Err` names a parameter sent twice.
    pub fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(format!("{name} was sent more than once"));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    pub fn first_repeated(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (k, _))| {
            self.0[..i]
                .iter()
                .any(|(k2, _)| k2 == k)
                .then_some(k.as_str())
        })
    }
}

/// What the request offered; malformed Basic credentials count as none offered correctly.
pub fn credentials(headers: &HeaderMap, params: &Params) -> Result<ClientCredentials, String> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(value) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => {
            let decoded = STANDARD
                .decode(value[6..].trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or("the Authorization header is not valid Basic credentials")?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or("the Authorization header is not valid Basic credentials")?;
            let decode = |s: &str| -> String {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((decode(id), SecretString::from(decode(secret))))
        }
        _ => None,
    };
    Ok(ClientCredentials {
        basic,
        client_id: params.get("client_id")?.map(str::to_owned),
        client_secret: params
            .get("client_secret")?
            .map(|s| SecretString::from(s.to_owned())),
        assertion_type: params.get("client_assertion_type")?.map(str::to_owned),
        assertion: params.get("client_assertion")?.map(str::to_owned),
    })
}

/// Parses a token request as the endpoint does, for `crate::fuzzing`.
pub(crate) fn parse_token_request(headers: &HeaderMap, body: &[u8]) {
    let params = Params::parse(body);
    let _ = params.first_repeated();
    for name in [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
    ] {
        let _ = params.get(name);
    }
    let _ = credentials(headers, &params);
}
