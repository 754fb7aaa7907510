//! A relying party that knows only the discovery URL signs a person in, verifies the ID
//! token against the served JWKS, calls /userinfo, refreshes, introspects and revokes —
//! driven by the `openidconnect` and `oauth2` crates, on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::{PASSWORD, Rp, Spec, authorize, http, param, revoke};
use common::{ClockExt, Engine, TestApp};
use gatehouse::crypto::SigningAlg;
use gatehouse::oidc::{AuthMethod, GrantType};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreIdTokenVerifier, CoreJwsSigningAlgorithm,
    CoreTokenIntrospectionResponse, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, CsrfToken, IntrospectionUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, Scope, TokenIntrospectionResponse, TokenResponse,
};

both_engines!(
    relying_party_completes_sign_in_refresh_and_revocation,
    public_client_uses_pkce_without_a_secret,
    services_choose_es256_or_eddsa,
    consent_is_asked_once_and_remembered,
    form_post_returns_the_code_in_a_form,
    prompt_none_and_max_age_follow_the_session,
    client_credentials_with_the_oauth2_crate,
);

const EMAIL: &str = "ioana.roberts@school.example";

struct Started {
    url: url::Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

fn start(rp: &Rp, scopes: &[&str]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in scopes {
        request = request.add_scope(Scope::new((*s).to_owned()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    Started {
        url,
        state,
        nonce,
        verifier,
    }
}

/// Redeems a code as the relying party does.
async fn exchange(rp: &Rp, code: String, verifier: PkceCodeVerifier) -> CoreTokenResponse {
    rp.exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap()
}

/// The relying party's ID-token verifier, reading the server's test clock.
fn id_verifier<'a>(app: &TestApp, rp: &'a Rp) -> CoreIdTokenVerifier<'a> {
    let clock = app.clock.clone();
    rp.id_token_verifier()
        .set_time_fn(move || clock.now_for_tests())
}

async fn relying_party_completes_sign_in_refresh_and_revocation(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let user = app.create_user(EMAIL, PASSWORD).await;
    let service = app.register(Spec::confidential("schools-portal")).await;
    let rp = app.rp(&service).await;
    let started = start(&rp, &["profile", "email", "offline_access"]);

    let back = authorize(&app.browser(), started.url.as_str(), EMAIL, false).await;
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(app.base.as_str()),
        "RFC 9207 iss"
    );
    let code = param(&back, "code").unwrap();

    let tokens = exchange(&rp, code, started.verifier).await;
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = id_verifier(&app, &rp);
    let claims = id_token.claims(&verifier, &started.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), user.as_str());
    assert_eq!(claims.email().unwrap().as_str(), EMAIL);
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(
        claims.given_name().unwrap().get(None).unwrap().as_str(),
        "Ioana"
    );
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:gatehouse:acr:password"
    );
    assert_eq!(
        claims.auth_method_refs().unwrap()[0].as_str(),
        "pwd",
        "amr says how the person signed in"
    );
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    let payload = jwt_payload(id_token.to_string().as_str());
    assert!(
        payload["sid"].as_str().is_some_and(|s| s.len() == 32),
        "sid"
    );
    assert_eq!(payload["azp"], service.id.as_str());

    // The access token is an RFC 9068 JWT for this service.
    let access = tokens.access_token().secret();
    assert_eq!(jwt_header(access)["typ"], "at+jwt");
    let at = jwt_payload(access);
    assert_eq!(at["aud"], service.id.as_str());
    assert_eq!(at["client_id"], service.id.as_str());
    assert_eq!(at["sub"], user.as_str());
    assert!(at["jti"].as_str().is_some());
    assert_eq!(tokens.expires_in().unwrap().as_secs(), 600);

    let info: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.email().unwrap().as_str(), EMAIL);
    assert_eq!(
        info.family_name().unwrap().get(None).unwrap().as_str(),
        "Roberts"
    );

    // Refresh: a new refresh token each time, and a fresh ID token for the same person.
    let first_refresh = tokens
        .refresh_token()
        .expect("offline_access gives one")
        .clone();
    let refreshed = rp
        .exchange_refresh_token(&first_refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let second_refresh = refreshed.refresh_token().unwrap().clone();
    assert_ne!(second_refresh.secret(), first_refresh.secret(), "rotated");
    let again = refreshed
        .id_token()
        .unwrap()
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(again.subject().as_str(), user.as_str());

    // Introspection describes the service's own token.
    drop(verifier);
    let rp = rp.set_introspection_url(IntrospectionUrl::new(app.url("/introspect")).unwrap());
    let described: CoreTokenIntrospectionResponse = rp
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(described.active());
    assert_eq!(described.sub(), Some(user.as_str()));

    // Revoking the refresh token ends the family: no refresh, no userinfo, inactive.
    assert_eq!(revoke(&app, &service, second_refresh.secret()).await, 200);
    let refused = rp
        .exchange_refresh_token(&second_refresh)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(
        format!("{refused:?}").contains("invalid_grant"),
        "{refused:?}"
    );
    let described: CoreTokenIntrospectionResponse = rp
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!described.active());
    let userinfo = app
        .client
        .get(app.url("/userinfo"))
        .bearer_auth(refreshed.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status().as_u16(), 401);
}

async fn public_client_uses_pkce_without_a_secret(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let service = app.register(Spec::public("school-app")).await;
    assert!(service.secret.is_none(), "public services get no secret");
    let rp = app.rp(&service).await;
    let started = start(&rp, &["email"]);
    let back = authorize(&app.browser(), started.url.as_str(), EMAIL, false).await;
    let tokens = exchange(&rp, param(&back, "code").unwrap(), started.verifier).await;
    let verifier = id_verifier(&app, &rp);
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&verifier, &started.nonce)
        .unwrap();
    assert_eq!(claims.email().unwrap().as_str(), EMAIL);
    assert!(claims.given_name().is_none(), "profile was not asked for");
}

async fn services_choose_es256_or_eddsa(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    for (id, alg, core) in [
        (
            "ec-service",
            SigningAlg::Es256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ),
        (
            "ed-service",
            SigningAlg::EdDsa,
            CoreJwsSigningAlgorithm::EdDsa,
        ),
    ] {
        let service = app
            .register(Spec {
                alg,
                ..Spec::confidential(id)
            })
            .await;
        let rp = app.rp(&service).await;
        let started = start(&rp, &[]);
        let back = authorize(&app.browser(), started.url.as_str(), EMAIL, false).await;
        let tokens = exchange(&rp, param(&back, "code").unwrap(), started.verifier).await;
        let verifier = id_verifier(&app, &rp).set_allowed_algs(vec![core.clone()]);
        let id_token = tokens.id_token().unwrap();
        id_token.claims(&verifier, &started.nonce).unwrap();
        assert_eq!(id_token.signing_alg().unwrap(), &core);
        assert_eq!(
            jwt_header(tokens.access_token().secret())["alg"],
            alg.as_str()
        );
    }
}

async fn consent_is_asked_once_and_remembered(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let service = app
        .register(Spec {
            first_party: false,
            ..Spec::confidential("third-party")
        })
        .await;
    let rp = app.rp(&service).await;
    let browser = app.browser();
    let started = start(&rp, &["email"]);
    let back = authorize(&browser, started.url.as_str(), EMAIL, true).await;
    assert!(param(&back, "code").is_some());

    // The same scopes again: no consent page.
    let again = start(&rp, &["email"]);
    let back = authorize(&browser, again.url.as_str(), EMAIL, false).await;
    assert!(param(&back, "code").is_some());

    // Cancel on the consent page for more data gives access_denied with the state.
    let more = start(&rp, &["profile"]);
    let page = browser.client.get(more.url.as_str()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("see your name"), "plain-English list: {html}");
    let cancel = browser
        .post(
            "/authorize/consent",
            &[
                ("csrf_token", &common::csrf_in(&html)),
                ("request", &common::oidc::value_of(&html, "request")),
                ("decision", "cancel"),
            ],
        )
        .await;
    let back = url::Url::parse(&common::location(&cancel)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(more.state.secret().as_str())
    );

    // Withdrawn from /account: the consent page comes back.
    let token = browser.csrf("/account").await;
    let removed = browser
        .post(
            "/account/services/remove",
            &[("csrf_token", token.as_str()), ("client_id", "third-party")],
        )
        .await;
    assert_eq!(removed.status().as_u16(), 303);
    let after = start(&rp, &["email"]);
    let page = browser.client.get(after.url.as_str()).send().await.unwrap();
    assert_eq!(
        page.status().as_u16(),
        200,
        "consent asked again after withdrawal"
    );
}

async fn form_post_returns_the_code_in_a_form(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let service = app.register(Spec::confidential("form-post")).await;
    let rp = app.rp(&service).await;
    let browser = app.browser();
    browser.sign_in(EMAIL, PASSWORD).await;
    let started = start(&rp, &[]);
    let url = format!("{}&response_mode=form_post", started.url);
    let page = browser.client.get(&url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action http://127.0.0.1:9"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("action=\"http://127.0.0.1:9/callback\""),
        "{html}"
    );
    assert_eq!(
        common::oidc::value_of(&html, "state"),
        *started.state.secret()
    );
    assert_eq!(common::oidc::value_of(&html, "code").len(), 64);
}

async fn prompt_none_and_max_age_follow_the_session(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.create_user(EMAIL, PASSWORD).await;
    let service = app.register(Spec::confidential("silent")).await;
    let rp = app.rp(&service).await;
    let browser = app.browser();

    let started = start(&rp, &[]);
    let silent = format!("{}&prompt=none", started.url);
    let response = browser.client.get(&silent).send().await.unwrap();
    let back = url::Url::parse(&common::location(&response)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));

    browser.sign_in(EMAIL, PASSWORD).await;
    let started = start(&rp, &[]);
    let silent = format!("{}&prompt=none", started.url);
    let response = browser.client.get(&silent).send().await.unwrap();
    let back = url::Url::parse(&common::location(&response)).unwrap();
    assert!(
        param(&back, "code").is_some(),
        "signed in: a code without any page"
    );

    app.clock.advance(chrono::Duration::minutes(10));
    let started = start(&rp, &[]);
    let aged = format!("{}&max_age=60", started.url);
    let response = browser.client.get(&aged).send().await.unwrap();
    assert!(
        common::location(&response).contains("/sign-in?return_to=")
            && common::location(&response).contains("reauth=1"),
        "an old sign-in must be repeated"
    );
    let back = authorize(&browser, started.url.as_str(), EMAIL, false).await;
    assert!(param(&back, "code").is_some());
}

async fn client_credentials_with_the_oauth2_crate(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let service = app
        .register(Spec {
            grants: vec![GrantType::ClientCredentials],
            auth_method: AuthMethod::ClientSecretPost,
            scopes: "email",
            ..Spec::confidential("batch-job")
        })
        .await;
    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new(service.id.clone()))
        .set_client_secret(oauth2::ClientSecret::new(service.secret.clone().unwrap()))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(oauth2::TokenUrl::new(app.url("/token")).unwrap());
    let tokens = client
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .unwrap();
    let claims = jwt_payload(tokens.access_token().secret());
    assert_eq!(claims["sub"], "batch-job");
    assert_eq!(claims["aud"], "batch-job");
    assert!(tokens.refresh_token().is_none());

    let wrong = oauth2::basic::BasicClient::new(oauth2::ClientId::new(service.id.clone()))
        .set_client_secret(oauth2::ClientSecret::new("0".repeat(64)))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(oauth2::TokenUrl::new(app.url("/token")).unwrap())
        .exchange_client_credentials()
        .request_async(&http)
        .await;
    assert!(format!("{wrong:?}").contains("invalid_client"), "{wrong:?}");
}

fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    use base64::Engine as _;
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn jwt_header(token: &str) -> serde_json::Value {
    jwt_part(token, 0)
}

fn jwt_payload(token: &str) -> serde_json::Value {
    jwt_part(token, 1)
}
