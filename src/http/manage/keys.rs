//! `/manage/keys`: administrators see the signing keys and their states, create the next key
//! (published now, signing after a delay so cached JWKS catch up) and retire an old one —
//! the same rules as `gatehouse keys`, audited with the admin as actor.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::super::client::Client as Caller;
use super::super::forms::FormErrors;
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::{StaffUser, require};
use crate::admin::{KeyChangeError, retire_key, rotate_keys};
use crate::audit::Actor;
use crate::crypto::SigningAlg;
use crate::staff::Capability;

struct KeyView {
    kid: String,
    alg: &'static str,
    state: &'static str,
    created: String,
    signs_from: String,
    retirable: bool,
}

#[derive(Template)]
#[template(path = "manage/keys.html")]
struct KeysPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    csrf_token: String,
    keys: Vec<KeyView>,
    publish_minutes: String,
}

#[derive(Debug, Deserialize)]
pub struct KeysQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    alg: String,
    #[serde(default)]
    publish_minutes: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct RetireForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    kid: String,
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d %b %Y %H:%M UTC").to_string()
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    form: FormErrors,
    notice: Option<&'static str>,
    publish_minutes: String,
    status: StatusCode,
) -> Result<Response, Error> {
    let keys = state
        .oidc
        .keys()
        .states()
        .into_iter()
        .map(|(meta, key_state)| KeyView {
            retirable: matches!(key_state.as_str(), "signing" | "superseded" | "pending"),
            state: key_state.as_str(),
            alg: meta.alg.as_str(),
            created: when(meta.created_at),
            signs_from: when(meta.active_from),
            kid: meta.kid,
        })
        .collect();
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = KeysPage {
        layout: Layout::default(),
        form,
        notice,
        csrf_token,
        keys,
        publish_minutes,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn keys(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
    Query(query): Query<KeysQuery>,
) -> Result<Response, Error> {
    require(&state, &staff, Capability::ManageKeys).await?;
    let notice = match query.notice.as_deref() {
        Some("rotated") => Some("The new key is published. It signs once its delay has passed."),
        Some("retired") => Some("The key was retired. It stays published until its tokens expire."),
        _ => None,
    };
    let form = FormErrors::default();
    render(&state, jar, form, notice, "1440".to_owned(), StatusCode::OK).await
}

pub async fn rotate(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<RotateForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageKeys).await?;
    let mut errors = FormErrors::default();
    let algs = match input.alg.as_str() {
        "all" => SigningAlg::ALL.to_vec(),
        other => match other.parse::<SigningAlg>() {
            Ok(alg) => vec![alg],
            Err(_) => {
                errors.add("alg", "Select an algorithm, or all three");
                Vec::new()
            }
        },
    };
    let minutes = match input.publish_minutes.trim().parse::<i64>() {
        Ok(m @ 0..=10_080) => m,
        _ => {
            errors.add(
                "publish_minutes",
                "Enter a whole number of minutes from 0 to 10080 (a week)",
            );
            0
        }
    };
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&state, jar, errors, None, input.publish_minutes, status).await;
    }
    let now = state.clock.now();
    let active_from = now + chrono::Duration::minutes(minutes);
    let actor = Actor::User(staff.0.user.user_id());
    let keys = state.oidc.keys();
    match rotate_keys(keys, &state.store, &algs, now, active_from, actor, &ctx).await {
        Ok(_) => Ok(Redirect::to("/manage/keys?notice=rotated").into_response()),
        Err(KeyChangeError::Store(e)) => Err(e.into()),
        Err(e) => Err(Error::Internal(e.to_string())),
    }
}

pub async fn retire(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<RetireForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageKeys).await?;
    let actor = Actor::User(staff.0.user.user_id());
    let now = state.clock.now();
    let keys = state.oidc.keys();
    match retire_key(keys, &state.store, &input.kid, now, actor, &ctx).await {
        Ok(_) => Ok(Redirect::to("/manage/keys?notice=retired").into_response()),
        Err(KeyChangeError::Store(e)) => Err(e.into()),
        Err(KeyChangeError::Folder(why)) => Err(Error::Internal(why)),
        Err(refused) => {
            let mut errors = FormErrors::default();
            errors.add("alg", refused.to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, jar, errors, None, "1440".to_owned(), status).await
        }
    }
}
