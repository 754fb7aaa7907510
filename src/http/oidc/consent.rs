//! The consent page (OIDC Core §3.1.2.4) for services not marked first-party, and
//! withdrawing a consent from /account.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::authorize::expired;
use super::responses::deliver;
use crate::auth::CurrentSession;
use crate::http::client::Client as HttpClient;
use crate::http::current_user::{CurrentUser, MaybeUser};
use crate::http::pages::Layout;
use crate::http::{AppState, Error, csrf, error};
use crate::oidc::{AuthorizationRequest, Client};

#[derive(Template)]
#[template(path = "oidc/consent.html")]
struct ConsentPage<'a> {
    layout: Layout,
    service: &'a str,
    items: Vec<&'static str>,
    csrf_token: String,
    request_id: &'a str,
    email: &'a str,
}

/// What each scope lets a service see or do, in plain English.
fn scope_words(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("know it is you when you sign in"),
        "profile" => Some("see your name"),
        "email" => Some("see your email address"),
        "offline_access" => Some("keep access to these details when you are not using it"),
        "organisation" => Some("see which organisation you are acting for, and your roles there"),
        _ => None,
    }
}

/// A stored JSON list of scopes as words for the account page.
pub fn describe_scopes(json: &str) -> String {
    let scopes: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    let words: Vec<&str> = scopes
        .iter()
        .filter(|s| s.as_str() != "openid")
        .filter_map(|s| scope_words(s))
        .collect();
    if words.is_empty() {
        "Who you are".to_owned()
    } else {
        let mut text = words.join(", ");
        if let Some(first) = text.get(..1) {
            text = first.to_uppercase() + &text[1..];
        }
        text
    }
}

pub fn page(
    state: &AppState,
    jar: CookieJar,
    request_id: &str,
    client: &Client,
    request: &AuthorizationRequest,
    session: &CurrentSession,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let scopes = request.scopes();
    let page = ConsentPage {
        layout: Layout::default(),
        service: &client.name,
        items: scopes.iter().filter_map(scope_words).collect(),
        csrf_token,
        request_id,
        email: &session.user.email,
    };
    Ok((jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// "Allow" issues the code and remembers the consent; "Cancel" returns `access_denied`.
pub async fn decide(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
    HttpClient(ctx): HttpClient,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<Decision>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(error::forbidden());
    }
    let Some((client, request, _)) = state.oidc.pending(&form.request).await? else {
        return Ok(expired());
    };
    let Some(session) = session else {
        let back = crate::http::return_to::encode(&super::authorize::resume_path(&form.request));
        return Ok(Redirect::to(&format!("/sign-in?return_to={back}")).into_response());
    };
    let issued = if form.decision == "allow" {
        match state
            .oidc
            .approve(&form.request, &client, &request, &session, true, &ctx)
            .await
        {
            Ok(issued) => issued,
            Err(_) => return Ok(expired()),
        }
    } else {
        state.oidc.deny(&form.request, &request).await?
    };
    deliver(&issued)
}

pub fn withdraw_router() -> Router<AppState> {
    Router::new().route("/account/services/remove", post(withdraw))
}

#[derive(Debug, Deserialize)]
struct Withdraw {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    client_id: String,
}

async fn withdraw(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    HttpClient(ctx): HttpClient,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<Withdraw>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(error::forbidden());
    }
    state
        .oidc
        .withdraw_consent(&current.user.user_id(), &form.client_id, &ctx)
        .await?;
    Ok(Redirect::to("/account?notice=service-removed#services").into_response())
}
