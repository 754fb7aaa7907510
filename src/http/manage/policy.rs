//! `/manage/policy`: administrators change the policy settings — each within the range
//! `crate::policy` allows, all or nothing, audited with before and after.

use std::collections::HashMap;

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
use crate::audit::Actor;
use crate::policy::{CACHE_SECONDS, Policy, PolicyError, Setting};
use crate::staff::Capability;

/// One setting's field.
struct Field {
    id: &'static str,
    label: &'static str,
    hint: String,
    value: String,
}

#[derive(Template)]
#[template(path = "manage/policy.html")]
struct PolicyPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    csrf_token: String,
    fields: Vec<Field>,
    cache_seconds: i64,
}

#[derive(Debug, Deserialize)]
pub struct PolicyQuery {
    notice: Option<String>,
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    form: FormErrors,
    notice: Option<&'static str>,
    input: Option<&HashMap<String, String>>,
    status: StatusCode,
) -> Result<Response, Error> {
    let current: Policy = state.auth.policies().current().await?;
    let fields = Setting::ALL
        .iter()
        .map(|&s| {
            let range = s.range();
            Field {
                id: s.name(),
                label: s.label(),
                hint: format!(
                    "From {} to {}. The default is {}.",
                    range.start(),
                    range.end(),
                    s.default_value()
                ),
                value: input
                    .and_then(|i| i.get(s.name()).cloned())
                    .unwrap_or_else(|| current.get(s).to_string()),
            }
        })
        .collect();
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = PolicyPage {
        layout: Layout::default(),
        form,
        notice,
        csrf_token,
        fields,
        cache_seconds: CACHE_SECONDS,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn policy(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
    Query(query): Query<PolicyQuery>,
) -> Result<Response, Error> {
    require(&state, &staff, Capability::ManagePolicy).await?;
    let notice = match query.notice.as_deref() {
        Some("saved") => Some("The policy settings were saved."),
        Some("unchanged") => Some("Nothing changed: every setting already had that value."),
        _ => None,
    };
    let form = FormErrors::default();
    render(&state, jar, form, notice, None, StatusCode::OK).await
}

/// The submitted value of every setting, or the errors beside the fields. Fields not
/// submitted keep their value; unknown fields are ignored.
fn read(input: &HashMap<String, String>) -> Result<Vec<(Setting, i64)>, FormErrors> {
    let mut errors = FormErrors::default();
    let mut changes = Vec::new();
    for setting in Setting::ALL {
        let Some(text) = input.get(setting.name()) else {
            continue;
        };
        match text.trim().parse::<i64>() {
            Ok(value) if setting.range().contains(&value) => changes.push((setting, value)),
            _ => errors.add(setting.name(), setting.range_message()),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

pub async fn save(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    let token = input.get("csrf_token").map_or("", String::as_str);
    if !csrf::is_valid(&jar, state.cookies, token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManagePolicy).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let changes = match read(&input) {
        Ok(changes) => changes,
        Err(errors) => return render(&state, jar, errors, None, Some(&input), status).await,
    };
    let actor = Actor::User(staff.0.user.user_id());
    match state.auth.policies().change(&changes, actor, &ctx).await {
        Ok(changed) if changed.is_empty() => {
            Ok(Redirect::to("/manage/policy?notice=unchanged").into_response())
        }
        Ok(_) => Ok(Redirect::to("/manage/policy?notice=saved").into_response()),
        Err(PolicyError::Store(e)) => Err(e.into()),
        Err(PolicyError::OutOfRange(setting, message)) => {
            let mut errors = FormErrors::default();
            errors.add(setting.name(), message);
            render(&state, jar, errors, None, Some(&input), status).await
        }
    }
}
