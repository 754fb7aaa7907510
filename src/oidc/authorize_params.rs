//! The parameters of an authorization request, checked without the database (OIDC Core
//! §3.1.2.1, RFC 6749 §4.1.1, RFC 7636 §4.3): which service it names, then — once the service
//! is known — everything else against its registration. Pure, so it is fuzzed
//! (`fuzz/fuzz_targets/authorize.rs`).

use std::collections::HashMap;

use super::authorize::parse_prompt;
use super::{
    AuthorizationRequest, AuthorizeError, Client, GrantType, OAuthError, OAuthErrorCode,
    ResponseMode,
};
use crate::domain::Scopes;

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;

/// Every value of each parameter, by name.
fn by_name(params: &[(String, String)]) -> HashMap<&str, Vec<&str>> {
    let mut seen: HashMap<&str, Vec<&str>> = HashMap::new();
    for (k, v) in params {
        seen.entry(k.as_str()).or_default().push(v.as_str());
    }
    seen
}

/// The one `client_id` the request names, or the page that says it named none or several.
pub fn requested_client_id(params: &[(String, String)]) -> Result<&str, AuthorizeError> {
    let seen = by_name(params);
    let page = |why: &str| AuthorizeError::Page(why.to_owned());
    match seen.get("client_id").map(Vec::as_slice) {
        Some([one]) if !one.is_empty() => Ok(*one),
        Some([_, _, ..]) => Err(page("The request named more than one service.")),
        _ => Err(page("The request did not say which service it came from.")),
    }
}

/// The request for `client`: its exact redirect URI first (until then errors are pages),
/// then every other parameter (errors go back to the service). `hint_subject` reads an
/// `id_token_hint` we issued to this service.
pub fn authorization_for(
    client: &Client,
    params: &[(String, String)],
    hint_subject: impl Fn(&str) -> Option<String>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let seen = by_name(params);
    // RFC 6749 §3.1: parameters must not be sent more than once.
    let single = |name: &str| -> Result<Option<&str>, ()> {
        match seen.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([one]) => Ok(Some(*one)),
            Some(_) => Err(()),
        }
    };
    let page = |why: &str| AuthorizeError::Page(why.to_owned());
    let redirect_uri = single("redirect_uri")
        .map_err(|()| page("The request named more than one return address."))?
        .ok_or_else(|| page("The request did not include the service's return address."))?;
    let redirect_uri = client
        .redirect_uri(redirect_uri)
        .ok_or_else(|| page("The service's return address is not one it registered."))?
        .as_str()
        .to_owned();

    // From here on errors go back to the service.
    let state = single("state").ok().flatten().map(str::to_owned);
    let response_mode = match single("response_mode") {
        Ok(None | Some("query")) => Ok(ResponseMode::Query),
        Ok(Some("form_post")) => Ok(ResponseMode::FormPost),
        _ => Err("response_mode must be query or form_post"),
    };
    let fail = |error: OAuthError, mode: ResponseMode| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        response_mode: mode,
        state: state.clone(),
        error,
    };
    let response_mode =
        response_mode.map_err(|why| fail(OAuthError::invalid_request(why), ResponseMode::Query))?;
    let fail = |error: OAuthError| fail(error, response_mode);
    let invalid = |why: &str| fail(OAuthError::invalid_request(why));

    if let Some((name, _)) = seen.iter().find(|(_, v)| v.len() > 1) {
        return Err(invalid(&format!("{name} was sent more than once")));
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(invalid("state is too long"));
    }
    if seen.contains_key("request") {
        return Err(fail(OAuthError::new(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if seen.contains_key("request_uri") {
        return Err(fail(OAuthError::new(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }
    match single("response_type").ok().flatten() {
        None | Some("") => return Err(invalid("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this service may not use the authorization code flow",
        )));
    }
    let asked = single("scope").ok().flatten().unwrap_or_default();
    let scopes = Scopes::requested_for_person(asked, &client.scopes);
    if !scopes.contains("openid") {
        return Err(fail(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "scope must include openid, and only scopes this service may use",
        )));
    }
    // RFC 7636 §4.3, RFC 9700 §2.1.1: PKCE with S256 for every client.
    let code_challenge = single("code_challenge")
        .ok()
        .flatten()
        .ok_or_else(|| invalid("code_challenge is required (PKCE with S256)"))?;
    if single("code_challenge_method").ok().flatten() != Some("S256") {
        return Err(invalid("code_challenge_method must be S256"));
    }
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid("code_challenge must be a base64url SHA-256 value"));
    }
    let prompt =
        parse_prompt(single("prompt").ok().flatten().unwrap_or_default()).map_err(&invalid)?;
    let max_age = match single("max_age").ok().flatten() {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| invalid("max_age must be a whole number of seconds"))?,
        ),
    };
    let nonce = single("nonce").ok().flatten().map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(invalid("nonce is too long"));
    }
    let login_hint = single("login_hint")
        .ok()
        .flatten()
        .filter(|h| h.len() <= 254)
        .map(str::to_owned);
    let acr_values = single("acr_values")
        .ok()
        .flatten()
        .filter(|a| a.len() <= 200)
        .map(str::to_owned);
    let hint_sub = match single("id_token_hint").ok().flatten() {
        None => None,
        Some(hint) => Some(hint_subject(hint).ok_or_else(|| {
            invalid("id_token_hint is not an ID token we issued to this service")
        })?),
    };
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri,
        response_mode,
        scope: scopes.to_string(),
        state,
        nonce,
        code_challenge: code_challenge.to_owned(),
        prompt,
        max_age: max_age.map(i64::from),
        login_hint,
        acr_values,
        hint_sub,
        organisation_id: None,
    })
}
