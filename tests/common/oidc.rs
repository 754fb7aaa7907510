//! Relying-party helpers: register services as `gatehouse client create` does, an HTTP
//! client for the `openidconnect`/`oauth2` crates, and a browser walk through /authorize.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use gatehouse::audit::{Actor, RequestContext};
use gatehouse::crypto::{KeyFolder, Keys, SigningAlg};
use gatehouse::domain::{RedirectUri, Scopes};
use gatehouse::oidc::{AuthMethod, Client, ClientKind, GrantType, Oidc};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IssuerUrl, RedirectUrl,
};
use secrecy::ExposeSecret;

use super::{Browser, TestApp, location};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const PASSWORD: &str = "correct horse battery staple";

/// A service as a test wants it; `register` fills in the rest like the CLI defaults.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: &'static str,
    pub kind: ClientKind,
    pub auth_method: AuthMethod,
    pub grants: Vec<GrantType>,
    pub scopes: &'static str,
    pub first_party: bool,
    pub refresh_tokens: bool,
    pub alg: SigningAlg,
    pub backchannel: Option<String>,
    pub post_logout: Vec<&'static str>,
    pub jwks: Option<serde_json::Value>,
    pub mfa_required: bool,
}

impl Spec {
    pub fn confidential(id: &'static str) -> Self {
        Self {
            id,
            kind: ClientKind::Confidential,
            auth_method: AuthMethod::ClientSecretBasic,
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: "openid profile email offline_access",
            first_party: true,
            refresh_tokens: true,
            alg: SigningAlg::Rs256,
            backchannel: None,
            post_logout: vec!["http://127.0.0.1:9/signed-out"],
            jwks: None,
            mfa_required: false,
        }
    }

    pub fn public(id: &'static str) -> Self {
        Self {
            kind: ClientKind::Public,
            auth_method: AuthMethod::None,
            ..Self::confidential(id)
        }
    }
}

/// A registered service and its secret, if it has one.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub secret: Option<String>,
}

impl TestApp {
    /// The provider's use cases on the test's database, keys and clock.
    pub fn oidc(&self) -> Oidc {
        let clock = Arc::new(self.clock.clone());
        let keys = Keys::open(KeyFolder::new(self.db.keys_dir()), clock.clone()).unwrap();
        Oidc::new(
            self.store.clone(),
            keys,
            clock,
            gatehouse::config::Issuer::parse(&self.base).unwrap(),
        )
    }

    pub async fn register(&self, spec: Spec) -> Registered {
        let client = Client {
            id: spec.id.to_owned(),
            name: format!("Service {}", spec.id),
            kind: spec.kind,
            auth_method: spec.auth_method,
            grant_types: spec.grants,
            redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
            post_logout_redirect_uris: spec
                .post_logout
                .iter()
                .map(|u| RedirectUri::parse(u).unwrap())
                .collect(),
            scopes: Scopes::parse_known(spec.scopes).unwrap(),
            backchannel_logout_uri: spec.backchannel.map(|u| RedirectUri::parse(&u).unwrap()),
            jwks: spec.jwks.map(|j| serde_json::from_value(j).unwrap()),
            first_party: spec.first_party,
            mfa_required: spec.mfa_required,
            refresh_tokens: spec.refresh_tokens,
            id_token_alg: spec.alg,
            access_token_alg: spec.alg,
            access_token_ttl: Duration::from_secs(600),
            id_token_ttl: Duration::from_secs(600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            created_at: 0,
            updated_at: 0,
        };
        let (client, secret) = self
            .oidc()
            .register_client(client, Actor::Cli, &RequestContext::default())
            .await
            .unwrap();
        let secret = secret.map(|s| s.expose_secret().to_owned());
        if let Some(secret) = &secret {
            super::leaks::remember(secret);
        }
        Registered {
            id: client.id,
            secret,
        }
    }

    pub async fn discover(&self) -> CoreProviderMetadata {
        CoreProviderMetadata::discover_async(IssuerUrl::new(self.base.clone()).unwrap(), &http)
            .await
            .unwrap()
    }

    /// An `openidconnect` client for a registered service, from discovery alone.
    pub async fn rp(&self, service: &Registered) -> Rp {
        let metadata = self.discover().await;
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(service.id.clone()),
            service.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
    }
}

/// The client type `from_provider_metadata` gives.
pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The HTTP client the `openidconnect` and `oauth2` crates call: our reqwest, no redirects.
pub async fn http(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| HttpError(e.to_string()))?;
    let (parts, body) = request.into_parts();
    let mut builder = client
        .request(
            parts.method.as_str().parse().unwrap(),
            parts.uri.to_string(),
        )
        .body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let response = builder.send().await.map_err(|e| HttpError(e.to_string()))?;
    let mut out = openidconnect::http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) {
        super::leaks::remember_tokens(&json);
    }
    out.body(body.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

/// Walks a browser from an /authorize URL, signing in as `email` when asked (and agreeing
/// on the consent page when `consent` is true), to the redirect back to the service.
/// Returns that final URL.
pub async fn authorize(
    browser: &Browser,
    authorize_url: &str,
    email: &str,
    consent: bool,
) -> url::Url {
    let mut next = authorize_url.to_owned();
    for _ in 0..8 {
        let response = browser.client.get(&next).send().await.unwrap();
        let status = response.status().as_u16();
        if status == 200 {
            let html = response.text().await.unwrap();
            assert!(
                html.contains("action=\"/authorize/consent\""),
                "unexpected page: {html}"
            );
            assert!(consent, "consent page shown when it should not be");
            let token = super::csrf_in(&html);
            let request = value_of(&html, "request");
            let answer = browser
                .post(
                    "/authorize/consent",
                    &[
                        ("csrf_token", &token),
                        ("request", &request),
                        ("decision", "allow"),
                    ],
                )
                .await;
            assert_eq!(answer.status().as_u16(), 303);
            next = absolute(browser, &location(&answer));
            if next.starts_with("http://127.0.0.1:9/") {
                return url::Url::parse(&next).unwrap();
            }
            continue;
        }
        assert_eq!(status, 303, "unexpected status at {next}");
        let to = absolute(browser, &location(&response));
        if to.starts_with("http://127.0.0.1:9/") {
            let url = url::Url::parse(&to).unwrap();
            if let Some(code) = param(&url, "code") {
                super::leaks::remember(&code);
            }
            return url;
        }
        if to.contains("/sign-in") {
            let page = browser
                .client
                .get(&to)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let token = super::csrf_in(&page);
            let return_to = value_of(&page, "return_to");
            let signed_in = browser
                .post(
                    "/sign-in",
                    &[
                        ("csrf_token", token.as_str()),
                        ("email", email),
                        ("password", PASSWORD),
                        ("return_to", &return_to),
                    ],
                )
                .await;
            assert_eq!(signed_in.status().as_u16(), 303, "sign-in failed");
            next = absolute(browser, &location(&signed_in));
            continue;
        }
        next = to;
    }
    panic!("too many steps from {authorize_url}");
}

fn absolute(browser: &Browser, to: &str) -> String {
    if to.starts_with('/') {
        format!("{}{to}", browser.base)
    } else {
        to.to_owned()
    }
}

/// The value of the hidden input named `name` in `html` (entities decoded).
pub fn value_of(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#61;", "=")
        .replace("&#47;", "/")
        .replace("&#63;", "?")
        .replace("&#37;", "%")
        .replace("&#43;", "+")
}

/// Revokes a token at /revoke as `service` (the `oauth2` crate insists on https here).
pub async fn revoke(app: &TestApp, service: &Registered, token: &str) -> u16 {
    app.client
        .post(app.url("/revoke"))
        .basic_auth(&service.id, service.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A query parameter of a URL.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A server with the confidential service `portal` and a browser signed in as `email`.
#[derive(Debug)]
pub struct Flow {
    pub app: TestApp,
    pub service: Registered,
    pub browser: super::Browser,
}

impl Flow {
    pub async fn signed_in(engine: super::Engine, email: &str) -> Self {
        let app = TestApp::spawn(engine).await;
        app.create_user(email, PASSWORD).await;
        let service = app.register(Spec::confidential("portal")).await;
        let browser = app.browser();
        browser.sign_in(email, PASSWORD).await;
        Self {
            app,
            service,
            browser,
        }
    }
}

/// A token request from service `id` (client_secret_basic) to `node`: the status and the JSON
/// body, whose tokens the leak scan then looks for.
pub async fn token_request(
    node: &TestApp,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let answer = node
        .client
        .post(node.url("/token"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body = answer.json().await.unwrap_or_default();
    super::leaks::remember_tokens(&body);
    (status, body)
}

/// The key ids `node` publishes at /jwks.
pub async fn published_kids(node: &TestApp) -> Vec<String> {
    let jwks: serde_json::Value = node.get("/jwks").await.json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}
