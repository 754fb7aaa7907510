//! `/manage/api/…`: the admin API for automation. A service calls it with its own
//! `client_credentials` access token (never one that speaks for a person) carrying admin
//! scopes: `admin.accounts` (find accounts, read one), `admin.accounts.write` (the
//! helpdesk's changes, in `api_changes`), `admin.directory` (organisations and services),
//! `admin.audit` (read the trail). The same use cases and audit as the console; the audit
//! trail names the service. A signed-in person's session is refused (403, audited). Described
//! by `/manage/api/openapi.json`, generated from this code.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::super::client::Client as Caller;
use super::super::current_user::MaybeUser;
use super::super::oidc::responses::bearer_error;
use super::super::{AppState, Error};
use super::api_changes;
use crate::admin::{OnDuty, Search};
use crate::audit::{Action, AuditEvent};
use crate::domain::UserStatus;
use crate::staff::Capability;
use crate::store::AuditRow;

/// Events or accounts per page, at most.
const API_PAGE: i64 = 200;

/// A service with an active `client_credentials` token, and what its admin scopes allow.
pub struct ApiCaller(OnDuty);

/// Why a browser session is refused.
const NOT_FOR_SESSIONS: &str =
    "the admin API takes a service's client_credentials token, not a signed-in session";

fn rfc3339(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        let unauthorized = || {
            bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "send a service's own client_credentials access token",
            )
        };
        let Some(token) = token else {
            return Err(refuse_session(parts, state)
                .await
                .unwrap_or_else(unauthorized));
        };
        let active = state
            .oidc
            .active_access_token(&token)
            .await
            .map_err(|e| Error::from(e).into_response())?;
        // Only a service's own token: one that speaks for a person never reaches the API.
        let Some((info, None)) = active else {
            return Err(unauthorized());
        };
        let scopes = info.scopes();
        let granted = [
            ("admin.accounts", Capability::FindAccounts),
            ("admin.directory", Capability::ReadDirectory),
            ("admin.audit", Capability::ReadAudit),
            (super::api_changes::WRITE_SCOPE, Capability::HelpAccounts),
        ]
        .into_iter()
        .filter(|(scope, _)| scopes.contains(scope))
        .map(|(_, capability)| capability)
        .collect();
        Ok(Self(OnDuty::service(&info.client_id, granted)))
    }
}

/// A call with no token but a signed-in person's session cookie: 403, and the attempt
/// audited as the person's (staff probing the API from a browser should show up); `None` when
/// there is no session either.
async fn refuse_session(parts: &mut Parts, state: &AppState) -> Option<Response> {
    let MaybeUser(Some(current)) = MaybeUser::from_request_parts(parts, state).await.ok()? else {
        return None;
    };
    let event = AuditEvent::new(Action::HelpdeskRefused)
        .failed("session_on_admin_api")
        .actor(&current.user.user_id())
        .details(serde_json::json!({ "path": parts.uri.path() }));
    if let Err(e) = state.helpdesk.record(event).await {
        return Some(Error::from(e).into_response());
    }
    Some(bearer_error(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        NOT_FOR_SESSIONS,
    ))
}

/// A call whose token lacks the scope it needs (RFC 6750 §3.1).
pub(super) struct ScopeRefused(&'static str);

impl IntoResponse for ScopeRefused {
    fn into_response(self) -> Response {
        let why = format!("this needs the {} scope", self.0);
        bearer_error(StatusCode::FORBIDDEN, "insufficient_scope", &why)
    }
}

impl ApiCaller {
    /// The caller, if its scopes give `capability`.
    pub(super) fn needs(
        &self,
        capability: Capability,
        scope: &'static str,
    ) -> Result<&OnDuty, ScopeRefused> {
        if self.0.can(capability) {
            Ok(&self.0)
        } else {
            Err(ScopeRefused(scope))
        }
    }
}

/// One account in a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountSummary {
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// `invited`, `active`, `locked` or `deactivated`.
    pub status: String,
    pub organisations: Vec<String>,
    pub last_sign_in_at: Option<String>,
}

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<AccountSummary>,
    /// The next page's number, when there is one.
    pub next_page: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AccountsQuery {
    /// The start of an email address, or of a name.
    #[serde(default)]
    q: String,
    /// URN, UKPRN, LA code or the start of an organisation's name.
    #[serde(default)]
    organisation: String,
    /// `invited`, `active`, `locked` or `deactivated`.
    status: Option<String>,
    /// From 1.
    page: Option<i64>,
}

pub(super) fn bad_request(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": "invalid_request", "error_description": why })),
    )
        .into_response()
}

/// Find accounts, 50 to a page (audited as a search by the service).
#[utoipa::path(get, path = "/manage/api/accounts", params(AccountsQuery),
    responses((status = 200, body = AccountPage), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = ["admin.accounts"])))]
pub async fn accounts(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Query(query): Query<AccountsQuery>,
) -> Result<Response, Error> {
    let on_duty = match caller.needs(Capability::FindAccounts, "admin.accounts") {
        Ok(on_duty) => on_duty,
        Err(refused) => return Ok(refused.into_response()),
    };
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => match s.parse::<UserStatus>() {
            Ok(status) => Some(status),
            Err(_) => {
                return Ok(bad_request(
                    "status must be invited, active, locked or deactivated",
                ));
            }
        },
    };
    if query.q.chars().count() > 200 || query.organisation.chars().count() > 200 {
        return Ok(bad_request("search terms must be 200 characters or fewer"));
    }
    let page = query.page.unwrap_or(1).clamp(1, 2_000);
    let search = Search {
        text: query.q,
        organisation: query.organisation,
        status,
        page: page - 1,
        ..Search::default()
    };
    let found = state.helpdesk.search(on_duty, &search, &ctx).await?;
    let accounts = found
        .accounts
        .into_iter()
        .map(|f| AccountSummary {
            last_sign_in_at: f.account.last_sign_in_at.map(rfc3339),
            id: f.account.id,
            email: f.account.email,
            given_name: f.account.given_name,
            family_name: f.account.family_name,
            status: f.account.status,
            organisations: f.organisations,
        })
        .collect();
    let body = AccountPage {
        accounts,
        next_page: found.more.then_some(page + 1),
    };
    Ok(Json(body).into_response())
}

/// A person's place in one organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    pub organisation_id: String,
    pub name: String,
    /// URN, UKPRN or LA code.
    pub code: String,
    /// `member` or `approver`.
    pub level: String,
    pub services: Vec<ServiceAccess>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccess {
    pub service: String,
    pub roles: Vec<String>,
}

/// One account whole, as the console's account page shows it (without the timeline).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDetail {
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub status: String,
    pub status_why: String,
    pub staff_roles: Vec<String>,
    pub organisations: Vec<Membership>,
    /// Kinds only: `Authenticator app`, `Security key`, `Passkey`.
    pub second_factors: Vec<String>,
    pub pending_email: Option<String>,
}

/// One account (audited as viewed by the service).
#[utoipa::path(get, path = "/manage/api/accounts/{id}", params(("id" = String, Path)),
    responses((status = 200, body = AccountDetail), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = ["admin.accounts"])))]
pub async fn account(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let on_duty = match caller.needs(Capability::FindAccounts, "admin.accounts") {
        Ok(on_duty) => on_duty,
        Err(refused) => return Ok(refused.into_response()),
    };
    let Some(file) = state.helpdesk.account(on_duty, &id, &ctx).await? else {
        let body = serde_json::json!({ "error": "not_found" });
        return Ok((StatusCode::NOT_FOUND, Json(body)).into_response());
    };
    let body = AccountDetail {
        id: file.user.id.clone(),
        email: file.user.email.clone(),
        given_name: file.user.given_name.clone(),
        family_name: file.user.family_name.clone(),
        status: file.status.as_str().to_owned(),
        status_why: file.status_why.clone(),
        staff_roles: file.staff_roles.clone(),
        organisations: file
            .places
            .iter()
            .map(|p| Membership {
                organisation_id: p.organisation_id.clone(),
                name: p.name.clone(),
                code: p.code.clone(),
                level: if p.approver { "approver" } else { "member" }.to_owned(),
                services: p
                    .services
                    .iter()
                    .map(|(service, roles)| ServiceAccess {
                        service: service.clone(),
                        roles: roles.clone(),
                    })
                    .collect(),
            })
            .collect(),
        second_factors: file.factors.iter().map(|f| f.kind.to_owned()).collect(),
        pending_email: file.pending_email.clone(),
    };
    Ok(Json(body).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Organisation {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OrganisationsQuery {
    /// URN, UKPRN, LA code or the start of the name.
    q: String,
}

/// Organisations a term names (at most 50).
#[utoipa::path(get, path = "/manage/api/organisations", params(OrganisationsQuery),
    responses((status = 200, body = [Organisation]), (status = 401), (status = 403)),
    security(("bearer" = ["admin.directory"])))]
pub async fn organisations(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<OrganisationsQuery>,
) -> Result<Response, Error> {
    if let Err(refused) = caller.needs(Capability::ReadDirectory, "admin.directory") {
        return Ok(refused.into_response());
    }
    let term: String = query.q.chars().take(200).collect();
    let found = state.store.organisations_named(&term, 50).await?;
    let body: Vec<Organisation> = found
        .into_iter()
        .map(|(id, name)| Organisation { id, name })
        .collect();
    Ok(Json(body).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    pub client_id: String,
    pub name: String,
    /// `confidential` or `public`.
    pub kind: String,
    pub mfa_required: bool,
    pub redirect_uris: Vec<String>,
    pub scopes: String,
}

/// Every registered service (no secrets: only their hashes are kept).
#[utoipa::path(get, path = "/manage/api/services",
    responses((status = 200, body = [Service]), (status = 401), (status = 403)),
    security(("bearer" = ["admin.directory"])))]
pub async fn services(State(state): State<AppState>, caller: ApiCaller) -> Result<Response, Error> {
    if let Err(refused) = caller.needs(Capability::ReadDirectory, "admin.directory") {
        return Ok(refused.into_response());
    }
    let body: Vec<Service> = state
        .oidc
        .clients()
        .await?
        .into_iter()
        .map(|c| Service {
            kind: c.kind.as_str().to_owned(),
            mfa_required: c.mfa_required,
            redirect_uris: c
                .redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            scopes: c.scopes.to_string(),
            client_id: c.id,
            name: c.name,
        })
        .collect();
    Ok(Json(body).into_response())
}

/// An audit event with its place in the hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub seq: i64,
    pub id: String,
    pub occurred_at: String,
    pub actor: String,
    pub subject_user_id: Option<String>,
    pub organisation_id: Option<String>,
    pub client_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub reason: Option<String>,
    /// JSON, as stored.
    pub details: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// Set when retention blanked the event.
    pub pruned: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page, when there is one.
    pub next_after: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// RFC 3339: events at or after this time (default: all).
    since: Option<String>,
    /// Events after this position (from `next_after`).
    after: Option<i64>,
    /// Only events where this account is the actor or the subject (newest first).
    account: Option<String>,
}

fn event(row: AuditRow) -> Event {
    Event {
        occurred_at: rfc3339(row.occurred_at),
        pruned: row.pruned_at.is_some(),
        seq: row.seq,
        id: row.id,
        actor: row.actor,
        subject_user_id: row.subject_user_id,
        organisation_id: row.organisation_id,
        client_id: row.client_id,
        action: row.action,
        outcome: row.outcome,
        reason: row.reason,
        details: row.details,
        prev_hash: row.prev_hash,
        hash: row.hash,
    }
}

/// Search the audit trail: in chain order from a time, or one account's events (audited).
#[utoipa::path(get, path = "/manage/api/audit", params(AuditQuery),
    responses((status = 200, body = EventPage), (status = 400), (status = 401), (status = 403)),
    security(("bearer" = ["admin.audit"])))]
pub async fn audit(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Response, Error> {
    let on_duty = match caller.needs(Capability::ReadAudit, "admin.audit") {
        Ok(on_duty) => on_duty,
        Err(refused) => return Ok(refused.into_response()),
    };
    let since = match query.since.as_deref() {
        None => 0,
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.timestamp_millis(),
            Err(_) => return Ok(bad_request("since must be an RFC 3339 time")),
        },
    };
    let rows = match &query.account {
        Some(account) => {
            let before = query.after.unwrap_or(i64::MAX);
            let mut rows = state
                .store
                .audit_for_user_before(account, before, API_PAGE)
                .await?;
            rows.retain(|r| r.occurred_at >= since);
            rows
        }
        None => {
            state
                .store
                .audit_since(query.after.unwrap_or(0), since, API_PAGE)
                .await?
        }
    };
    let next_after = (rows.len() as i64 == API_PAGE)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    let mut read = AuditEvent::new(Action::AuditRead)
        .context(ctx)
        .details(serde_json::json!({
            "since": query.since, "after": query.after, "account": query.account,
            "events": rows.len(),
        }));
    read.actor = on_duty.actor.clone();
    state.helpdesk.record(read).await?;
    let body = EventPage {
        events: rows.into_iter().map(event).collect(),
        next_after,
    };
    Ok(Json(body).into_response())
}

/// The admin API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse admin API", description = "For automation: a service's own client_credentials token with admin scopes."),
    paths(accounts, account, organisations, services, audit, api_changes::act, api_changes::rename,
        api_changes::join, api_changes::leave, api_changes::set_services),
    components(schemas(AccountPage, AccountSummary, AccountDetail, Membership, ServiceAccess, Organisation, Service, Event, EventPage,
        api_changes::ActionRequest, api_changes::NameRequest, api_changes::MembershipRequest,
        api_changes::ReasonRequest, api_changes::ServiceChoice, api_changes::ServicesRequest,
        api_changes::Done)),
    modifiers(&BearerAuth)
)]
pub struct AdminApi;

/// Declares the bearer scheme the paths name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// GET /manage/api/openapi.json
pub async fn openapi() -> Response {
    Json(AdminApi::openapi()).into_response()
}
