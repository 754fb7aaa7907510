//! `/manage/services`: administrators register services, change their redirect URIs,
//! scopes, 2-step requirement and token lifetimes, rotate secrets (shown once) and define
//! their roles. Every change goes through the same use cases as `gatehouse client` and
//! `gatehouse role`, and is audited with the admin as actor.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::super::client::Client as Caller;
use super::super::forms::FormErrors;
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::{StaffUser, require};
use crate::audit::Actor;
use crate::directory::DirectoryError;
use crate::domain::{RedirectUri, Scopes};
use crate::oidc::{AuthMethod, Client, ClientAdminError, ClientKind};
use crate::staff::Capability;
use crate::store::RoleRow;

/// How long a rotated secret keeps working, so the service can switch without an outage.
const ROTATION_GRACE_HOURS: i64 = 24;

#[derive(Debug, Default, Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    mfa_required: Option<String>,
    #[serde(default)]
    access_token_minutes: String,
    #[serde(default)]
    id_token_minutes: String,
    #[serde(default)]
    refresh_token_days: String,
}

const MINUTE: u64 = 60;
const DAY: u64 = 24 * 3600;

/// A lifetime as the form shows it: whole `unit`s, rounded to the nearest (at least one).
fn in_units(ttl: Duration, unit: u64) -> u64 {
    ((ttl.as_secs() + unit / 2) / unit).max(1)
}

/// Reads a lifetime field in whole `unit`s within `range`. A value left as shown keeps the
/// stored lifetime, so one set to the second from the CLI is not rounded by an unrelated edit.
fn lifetime(
    text: &str,
    current: Duration,
    unit: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Option<Duration> {
    let n = text.trim().parse::<u64>().ok()?;
    if n == in_units(current, unit) {
        return Some(current);
    }
    range.contains(&n).then(|| Duration::from_secs(n * unit))
}

impl ServiceForm {
    fn from_client(c: &Client) -> Self {
        let lines = |v: &[RedirectUri]| {
            v.iter()
                .map(|u| u.as_str().to_owned())
                .collect::<Vec<_>>()
                .join("\n")
        };
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            kind: c.kind.as_str().to_owned(),
            redirect_uris: lines(&c.redirect_uris),
            post_logout_redirect_uris: lines(&c.post_logout_redirect_uris),
            scopes: c.scopes.to_string(),
            mfa_required: c.mfa_required.then(|| "on".to_owned()),
            access_token_minutes: in_units(c.access_token_ttl, MINUTE).to_string(),
            id_token_minutes: in_units(c.id_token_ttl, MINUTE).to_string(),
            refresh_token_days: in_units(c.refresh_token_ttl, DAY).to_string(),
            ..Self::default()
        }
    }

    /// Applies the form over `client`, or says what is wrong beside each field.
    fn apply(&self, mut client: Client, creating: bool) -> Result<Client, FormErrors> {
        let mut errors = FormErrors::default();
        if creating {
            client.id = self.client_id.trim().to_owned();
            match ClientKind::parse(&self.kind) {
                Some(kind) => {
                    client.kind = kind;
                    if kind == ClientKind::Public {
                        client.auth_method = AuthMethod::None;
                    }
                }
                None => errors.add("kind", "Select confidential or public"),
            }
        }
        client.name = self.name.trim().to_owned();
        let uris = |field: &'static str, text: &str, errors: &mut FormErrors| {
            let mut out = Vec::new();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                match RedirectUri::parse(line) {
                    Ok(uri) => out.push(uri),
                    Err(e) => errors.add(field, format!("{line}: {e}")),
                }
            }
            out
        };
        client.redirect_uris = uris("redirect_uris", &self.redirect_uris, &mut errors);
        client.post_logout_redirect_uris = uris(
            "post_logout_redirect_uris",
            &self.post_logout_redirect_uris,
            &mut errors,
        );
        match Scopes::parse_known(&self.scopes) {
            Ok(scopes) => client.scopes = scopes,
            Err(e) => errors.add("scopes", e.to_string()),
        }
        client.mfa_required = self.mfa_required.is_some();
        let minutes = "Enter a whole number of minutes from 1 to 60";
        match lifetime(
            &self.access_token_minutes,
            client.access_token_ttl,
            MINUTE,
            1..=60,
        ) {
            Some(ttl) => client.access_token_ttl = ttl,
            None => errors.add("access_token_minutes", minutes),
        }
        match lifetime(&self.id_token_minutes, client.id_token_ttl, MINUTE, 1..=60) {
            Some(ttl) => client.id_token_ttl = ttl,
            None => errors.add("id_token_minutes", minutes),
        }
        match lifetime(
            &self.refresh_token_days,
            client.refresh_token_ttl,
            DAY,
            1..=400,
        ) {
            Some(ttl) => client.refresh_token_ttl = ttl,
            None => errors.add(
                "refresh_token_days",
                "Enter a whole number of days from 1 to 400",
            ),
        }
        if errors.is_empty()
            && let Err(why) = client.validate()
        {
            let field = if why.contains("redirect") {
                "redirect_uris"
            } else if why.contains("id") && creating {
                "client_id"
            } else {
                "name"
            };
            errors.add(field, why);
        }
        if errors.is_empty() {
            Ok(client)
        } else {
            Err(errors)
        }
    }
}

struct Listed {
    id: String,
    name: String,
    kind: &'static str,
    mfa_required: bool,
}

#[derive(Template)]
#[template(path = "manage/services.html")]
struct ServicesPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    services: Vec<Listed>,
    input: ServiceForm,
}

#[derive(Template)]
#[template(path = "manage/service.html")]
struct ServicePage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    csrf_token: String,
    id: String,
    auth_method: &'static str,
    has_secret: bool,
    roles: Vec<RoleRow>,
    input: ServiceForm,
    role_code: String,
    role_name: String,
}

#[derive(Template)]
#[template(path = "manage/service_secret.html")]
struct SecretPage {
    layout: Layout,
    id: String,
    secret: String,
    rotated: bool,
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

fn needs_secret(method: AuthMethod) -> bool {
    matches!(
        method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    )
}

async fn render_list(
    state: &AppState,
    jar: CookieJar,
    input: ServiceForm,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let services = state
        .oidc
        .clients()
        .await?
        .into_iter()
        .map(|c| Listed {
            kind: c.kind.as_str(),
            mfa_required: c.mfa_required,
            id: c.id,
            name: c.name,
        })
        .collect();
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ServicesPage {
        layout: Layout::default(),
        form,
        csrf_token,
        services,
        input,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn services(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
) -> Result<Response, Error> {
    require(&state, &staff, Capability::ManageServices).await?;
    let input = ServiceForm::from_client(&Client::draft().map_err(Error::Internal)?);
    render_list(&state, jar, input, FormErrors::default(), StatusCode::OK).await
}

fn secret_page(id: &str, secret: &SecretString, rotated: bool) -> Result<Response, Error> {
    let page = SecretPage {
        layout: Layout::default(),
        id: id.to_owned(),
        secret: secret.expose_secret().to_owned(),
        rotated,
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn register(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<ServiceForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageServices).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let draft = Client::draft().map_err(Error::Internal)?;
    let client = match input.apply(draft, true) {
        Ok(client) => client,
        Err(errors) => return render_list(&state, jar, input, errors, status).await,
    };
    let actor = Actor::User(staff.0.user.user_id());
    match state.oidc.register_client(client, actor, &ctx).await {
        Ok((client, Some(secret))) => secret_page(&client.id, &secret, false),
        Ok((client, None)) => {
            let to = format!("/manage/services/{}?notice=registered", client.id);
            Ok(Redirect::to(&to).into_response())
        }
        Err(ClientAdminError::Exists(_)) => {
            let mut errors = FormErrors::default();
            errors.add("client_id", "A service with that client id already exists");
            render_list(&state, jar, input, errors, status).await
        }
        Err(ClientAdminError::Invalid(why)) => {
            let mut errors = FormErrors::default();
            errors.add("name", why);
            render_list(&state, jar, input, errors, status).await
        }
        Err(ClientAdminError::Store(e)) => Err(e.into()),
        Err(e) => Err(Error::Internal(e.to_string())),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_service(
    state: &AppState,
    jar: CookieJar,
    client: &Client,
    input: ServiceForm,
    role: &RoleForm,
    form: FormErrors,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, Error> {
    let roles = state.store.roles(&client.id).await?;
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ServicePage {
        layout: Layout::default(),
        form,
        notice,
        csrf_token,
        id: client.id.clone(),
        auth_method: client.auth_method.as_str(),
        has_secret: needs_secret(client.auth_method),
        roles,
        input,
        role_code: role.code.clone(),
        role_name: role.name.clone(),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

async fn find(state: &AppState, id: &str) -> Result<Client, Error> {
    state.oidc.client(id).await?.ok_or(Error::NotFound)
}

pub async fn service(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, Error> {
    require(&state, &staff, Capability::ManageServices).await?;
    let client = find(&state, &id).await?;
    let notice = match query.notice.as_deref() {
        Some("registered") => Some("The service was registered."),
        Some("saved") => Some("The changes were saved."),
        Some("role-saved") => Some("The role was saved."),
        Some("role-removed") => Some("The role was removed, from everyone who held it."),
        _ => None,
    };
    let input = ServiceForm::from_client(&client);
    let role = RoleForm::default();
    let form = FormErrors::default();
    render_service(
        &state,
        jar,
        &client,
        input,
        &role,
        form,
        notice,
        StatusCode::OK,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<ServiceForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageServices).await?;
    let before = find(&state, &id).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let role = RoleForm::default();
    let client = match input.apply(before.clone(), false) {
        Ok(client) => client,
        Err(errors) => {
            let page = render_service(&state, jar, &before, input, &role, errors, None, status);
            return page.await;
        }
    };
    let actor = Actor::User(staff.0.user.user_id());
    match state.oidc.update_client(client, actor, &ctx).await {
        Ok((client, Some(secret))) => secret_page(&client.id, &secret, false),
        Ok(_) => Ok(Redirect::to(&format!("/manage/services/{id}?notice=saved")).into_response()),
        Err(ClientAdminError::Invalid(why)) => {
            let mut errors = FormErrors::default();
            errors.add("name", why);
            render_service(&state, jar, &before, input, &role, errors, None, status).await
        }
        Err(ClientAdminError::NotFound(_)) => Err(Error::NotFound),
        Err(ClientAdminError::Store(e)) => Err(e.into()),
        Err(e) => Err(Error::Internal(e.to_string())),
    }
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<csrf::TokenOnly>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageServices).await?;
    let client = find(&state, &id).await?;
    if !needs_secret(client.auth_method) {
        return Err(Error::NotFound);
    }
    let grace = chrono::Duration::hours(ROTATION_GRACE_HOURS);
    let actor = Actor::User(staff.0.user.user_id());
    let secret = match state
        .oidc
        .rotate_client_secret(&id, grace, actor, &ctx)
        .await
    {
        Ok(secret) => secret,
        Err(ClientAdminError::Store(e)) => return Err(e.into()),
        Err(ClientAdminError::NotFound(_)) => return Err(Error::NotFound),
        Err(e) => return Err(Error::Internal(e.to_string())),
    };
    secret_page(&id, &secret, true)
}

pub async fn define_role(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(role): Form<RoleForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &role.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageServices).await?;
    let client = find(&state, &id).await?;
    let actor = Actor::User(staff.0.user.user_id());
    match state
        .directory
        .define_role(&id, &role.code, &role.name, actor, &ctx)
        .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/manage/services/{id}?notice=role-saved")).into_response())
        }
        Err(DirectoryError::Field(field, why)) => {
            let mut errors = FormErrors::default();
            errors.add(if field == "code" { "code" } else { "role_name" }, why);
            let input = ServiceForm::from_client(&client);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_service(&state, jar, &client, input, &role, errors, None, status).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn remove_role(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(role): Form<RoleForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &role.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageServices).await?;
    let actor = Actor::User(staff.0.user.user_id());
    match state
        .directory
        .remove_role(&id, &role.code, actor, &ctx)
        .await
    {
        Ok(()) => {
            let to = format!("/manage/services/{id}?notice=role-removed");
            Ok(Redirect::to(&to).into_response())
        }
        Err(DirectoryError::Field(..)) => Err(Error::NotFound),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifetime_left_as_shown_keeps_its_seconds() {
        let ninety = Duration::from_secs(90);
        assert_eq!(in_units(ninety, MINUTE), 2);
        assert_eq!(lifetime("2", ninety, MINUTE, 1..=60), Some(ninety));
        assert_eq!(
            lifetime(" 3 ", ninety, MINUTE, 1..=60),
            Some(Duration::from_secs(180))
        );
        assert_eq!(lifetime("0", ninety, MINUTE, 1..=60), None);
        assert_eq!(lifetime("61", ninety, MINUTE, 1..=60), None);
        assert_eq!(lifetime("-1", ninety, MINUTE, 1..=60), None);
    }
}
