//! Entry points for the fuzz targets in `fuzz/` and for the test that replays what they
//! found (`tests/fuzz_regressions.rs`). Each takes arbitrary bytes and hands them to one
//! parser the outside world reaches before anyone is authenticated; it must answer — accept
//! or refuse — and never panic.

use std::io::Cursor;

use axum::http::{HeaderMap, HeaderValue, header};

use crate::directory::{authentix, gias};
use crate::domain::{Email, RedirectUri, Scopes};
use crate::oidc::{Client, authorization_for, requested_client_id};

/// A public key registered for the fuzzing service's client assertions (its private half
/// was thrown away: no fuzzed assertion can be validly signed, only parsed).
const SERVICE_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256",
"use":"sig","x":"8Grlggr8AccfBRrurW_diLC2nXHHjbBqqh-I8cKHZB8",
"y":"u-JUp9iCWgUQQ302k0dNxqds1nm6uaUAiwoxn9ba-Ho"}]}"#;

/// The registered service every fuzzed request is checked against.
fn service() -> Option<Client> {
    let mut client = Client::draft().ok()?;
    client.id = "census".to_owned();
    client.name = "School Census".to_owned();
    client.redirect_uris = vec![
        RedirectUri::parse("https://census.example.gov.uk/callback").ok()?,
        RedirectUri::parse("http://127.0.0.1:8080/cb").ok()?,
    ];
    client.scopes = Scopes::parse_known("openid profile email organisation offline_access").ok()?;
    client.jwks = serde_json::from_str(SERVICE_JWKS).ok();
    Some(client)
}

/// GET /authorize's query string.
pub fn authorize(data: &[u8]) {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    let _ = requested_client_id(&params);
    if let Some(client) = service() {
        let _ = authorization_for(&client, &params, |hint| {
            hint.starts_with("ey").then(|| hint.to_owned())
        });
    }
}

/// A POST /token request: the first line is the Authorization header, the rest the form.
pub fn token_request(data: &[u8]) {
    let (first, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&data[..0], data),
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(first) {
        headers.insert(header::AUTHORIZATION, value);
    }
    crate::http::parse_token_request(&headers, body);
}

/// A `client_assertion` (RFC 7523): read for its subject, then checked against the
/// service's registered key.
pub fn client_assertion(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::oidc::assertion_subject(text);
    if let (Some(client), Some(now)) = (
        service(),
        chrono::DateTime::from_timestamp(1_790_000_000, 0),
    ) {
        let _ = crate::oidc::assertion_claims(
            &client,
            text,
            "https://id.example.gov.uk/token",
            "https://id.example.gov.uk",
            now,
        );
    }
}

/// A GIAS establishments extract, read whole.
pub fn gias_csv(data: &[u8]) {
    if let Ok(mut rows) = gias::rows(Cursor::new(data)) {
        while let Ok(Some(_)) = rows.next_row() {}
    }
}

/// An Authentix contacts export, read whole.
pub fn authentix_csv(data: &[u8]) {
    if let Ok(mut rows) = authentix::rows(Cursor::new(data)) {
        while let Ok(Some(_)) = rows.next_row() {}
    }
}

/// The newtypes every form and parameter goes through.
pub fn newtypes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = Email::parse(&text);
    if let Ok(uri) = RedirectUri::parse(&text) {
        let _ = uri.as_str();
    }
    if let Ok(scopes) = Scopes::parse_known(&text) {
        let _ = Scopes::requested_for_person(&text, &scopes).to_string();
    }
    let _ = crate::auth::password::Password::from_input(&text);
    let _ = crate::config::Issuer::parse(&text);
    let _ = crate::account::plausible_secret(&text);
}

/// A fuzz target: bytes in, nothing out but a panic if something is wrong.
pub type Target = fn(&[u8]);

/// Every target by name, for the regression test.
pub const TARGETS: [(&str, Target); 6] = [
    ("authorize", authorize),
    ("token_request", token_request),
    ("client_assertion", client_assertion),
    ("gias_csv", gias_csv),
    ("authentix_csv", authentix_csv),
    ("newtypes", newtypes),
];
