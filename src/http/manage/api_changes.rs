//! The admin API's changes to accounts, for a service token with the `admin.accounts.write`
//! scope: the helpdesk's actions (unlock, deactivate, reactivate, reset link, invitation,
//! sign out everywhere), a name correction, organisations and services. Each takes the same
//! fixed-list reason and note as the console, runs the same use case (same refusals, same
//! audit naming the service, same email to the person) and answers JSON. Bodies are strict:
//! a field the endpoint does not take (`status`, `role`, `email_verified`…) is a 400, never
//! silently applied. Resetting 2-step verification is not offered: it needs a person to
//! check the caller's identity.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::super::client::Client as Caller;
use super::super::{AppState, Error};
use super::api::{ApiCaller, bad_request};
use crate::account::FlowError;
use crate::admin::{ActionError, HelpdeskAction, Why};
use crate::audit::RequestContext;
use crate::staff::Capability;

/// The scope that allows changes.
pub const WRITE_SCOPE: &str = "admin.accounts.write";

/// An action on an account, with why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `unlock`, `deactivate`, `reactivate`, `send-password-reset`, `resend-invitation` or
    /// `sign-out-everywhere`.
    pub action: String,
    /// `holder_asked`, `approver_asked`, `security_concern`, `left_organisation`,
    /// `correcting_records` or `other`.
    pub reason: String,
    /// What happened, 500 characters at most.
    pub note: String,
}

/// A corrected name, with why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameRequest {
    pub given_name: String,
    pub family_name: String,
    pub reason: String,
    pub note: String,
}

/// An organisation to add the person to, with why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipRequest {
    /// A school's URN or a local authority's code.
    pub organisation: String,
    /// `member`, or `approver` (only for an organisation with no approver).
    pub level: String,
    pub reason: String,
    pub note: String,
}

/// Why, for a removal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
    pub note: String,
}

/// One service and the person's roles in it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceChoice {
    /// The service's client id.
    pub service: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Exactly the services the person should have at the organisation, with why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicesRequest {
    pub services: Vec<ServiceChoice>,
    pub reason: String,
    pub note: String,
}

/// What the change did.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Done {
    /// The change's name, as in the audit trail's details.
    pub action: String,
    pub message: String,
}

/// The request types, each carrying the fixed-list reason and the note.
trait Reasoned {
    fn reason(&self) -> (&str, &str);
}

macro_rules! reasoned {
    ($($t:ty),*) => {$(
        impl Reasoned for $t {
            fn reason(&self) -> (&str, &str) {
                (&self.reason, &self.note)
            }
        }
    )*};
}

reasoned!(
    ActionRequest,
    NameRequest,
    MembershipRequest,
    ReasonRequest,
    ServicesRequest
);

/// The body and its reason, or what is wrong with them: a body that did not parse (an
/// unknown field, a wrong type) in serde's words, or the reason's and note's problems.
fn read<T: Reasoned>(parsed: Result<Json<T>, JsonRejection>) -> Result<(T, Why), String> {
    let Json(body) = parsed.map_err(|e| e.body_text())?;
    let (reason, note) = body.reason();
    let why = Why::parse(reason, note).map_err(|problems| {
        let said: Vec<String> = problems
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect();
        said.join("; ")
    })?;
    Ok((body, why))
}

fn error(status: StatusCode, code: &str, why: &str) -> Response {
    let body = serde_json::json!({ "error": code, "error_description": why });
    (status, Json(body)).into_response()
}

/// Runs `action` as the calling service and answers as JSON.
async fn run(
    state: &AppState,
    caller: &ApiCaller,
    ctx: &RequestContext,
    id: &str,
    action: HelpdeskAction,
    why: &Why,
) -> Result<Response, Error> {
    let on_duty = match caller.needs(Capability::HelpAccounts, WRITE_SCOPE) {
        Ok(on_duty) => on_duty,
        Err(refused) => return Ok(refused.into_response()),
    };
    let code = action.code();
    Ok(
        match state.helpdesk.act(on_duty, id, action, why, ctx).await {
            Ok(message) => Json(Done {
                action: code.to_owned(),
                message: message.to_owned(),
            })
            .into_response(),
            Err(ActionError::NoSuchAccount) => error(
                StatusCode::NOT_FOUND,
                "not_found",
                "there is no such account",
            ),
            Err(ActionError::NotAllowed(why)) => error(StatusCode::FORBIDDEN, "forbidden", why),
            Err(ActionError::NotNow(why)) => error(StatusCode::CONFLICT, "conflict", &why),
            Err(ActionError::Field(field, why)) => bad_request(&format!("{field}: {why}")),
            Err(ActionError::Flow(FlowError::Field { field, message })) => {
                bad_request(&format!("{field}: {message}"))
            }
            Err(ActionError::Store(e)) => return Err(e.into()),
            Err(ActionError::Flow(FlowError::Internal(e))) => return Err(e.into()),
            Err(ActionError::Flow(other)) => {
                error(StatusCode::CONFLICT, "conflict", &other.to_string())
            }
        },
    )
}

/// The actions a service may take by name.
fn named(action: &str) -> Option<HelpdeskAction> {
    Some(match action {
        "unlock" => HelpdeskAction::Unlock,
        "deactivate" => HelpdeskAction::Deactivate,
        "reactivate" => HelpdeskAction::Reactivate,
        "send-password-reset" => HelpdeskAction::SendPasswordReset,
        "resend-invitation" => HelpdeskAction::ResendInvitation,
        "sign-out-everywhere" => HelpdeskAction::RevokeSessions,
        _ => return None,
    })
}

/// One of the helpdesk's actions on an account (audited; the person is told by email).
#[utoipa::path(post, path = "/manage/api/accounts/{id}/actions", params(("id" = String, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = Done), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)),
    security(("bearer" = ["admin.accounts.write"])))]
pub async fn act(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    parsed: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Response, Error> {
    let (request, why) = match read(parsed) {
        Ok(read) => read,
        Err(problem) => return Ok(bad_request(&problem)),
    };
    let Some(action) = named(&request.action) else {
        return Ok(bad_request(
            "action must be unlock, deactivate, reactivate, send-password-reset, \
             resend-invitation or sign-out-everywhere",
        ));
    };
    run(&state, &caller, &ctx, &id, action, &why).await
}

/// Correct a person's name.
#[utoipa::path(patch, path = "/manage/api/accounts/{id}", params(("id" = String, Path)),
    request_body = NameRequest,
    responses((status = 200, body = Done), (status = 400), (status = 401), (status = 403),
        (status = 404)),
    security(("bearer" = ["admin.accounts.write"])))]
pub async fn rename(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    parsed: Result<Json<NameRequest>, JsonRejection>,
) -> Result<Response, Error> {
    let (request, why) = match read(parsed) {
        Ok(read) => read,
        Err(problem) => return Ok(bad_request(&problem)),
    };
    let action = HelpdeskAction::EditName {
        given_name: request.given_name,
        family_name: request.family_name,
    };
    run(&state, &caller, &ctx, &id, action, &why).await
}

/// Add the person to an organisation.
#[utoipa::path(post, path = "/manage/api/accounts/{id}/memberships",
    params(("id" = String, Path)), request_body = MembershipRequest,
    responses((status = 200, body = Done), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)),
    security(("bearer" = ["admin.accounts.write"])))]
pub async fn join(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    parsed: Result<Json<MembershipRequest>, JsonRejection>,
) -> Result<Response, Error> {
    let (request, why) = match read(parsed) {
        Ok(read) => read,
        Err(problem) => return Ok(bad_request(&problem)),
    };
    if !matches!(request.level.as_str(), "member" | "approver") {
        return Ok(bad_request("level must be member or approver"));
    }
    let action = HelpdeskAction::AddToOrganisation {
        organisation: request.organisation,
        approver: request.level == "approver",
    };
    run(&state, &caller, &ctx, &id, action, &why).await
}

/// Remove the person from an organisation, and so from its services.
#[utoipa::path(delete, path = "/manage/api/accounts/{id}/memberships/{organisation_id}",
    params(("id" = String, Path), ("organisation_id" = String, Path)),
    request_body = ReasonRequest,
    responses((status = 200, body = Done), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)),
    security(("bearer" = ["admin.accounts.write"])))]
pub async fn leave(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Path((id, organisation_id)): Path<(String, String)>,
    parsed: Result<Json<ReasonRequest>, JsonRejection>,
) -> Result<Response, Error> {
    let (_, why) = match read(parsed) {
        Ok(read) => read,
        Err(problem) => return Ok(bad_request(&problem)),
    };
    let action = HelpdeskAction::RemoveFromOrganisation(organisation_id);
    run(&state, &caller, &ctx, &id, action, &why).await
}

/// Set exactly which services (and roles) the person has at an organisation they belong to.
#[utoipa::path(put, path = "/manage/api/accounts/{id}/memberships/{organisation_id}/services",
    params(("id" = String, Path), ("organisation_id" = String, Path)),
    request_body = ServicesRequest,
    responses((status = 200, body = Done), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)),
    security(("bearer" = ["admin.accounts.write"])))]
pub async fn set_services(
    State(state): State<AppState>,
    caller: ApiCaller,
    Caller(ctx): Caller,
    Path((id, organisation_id)): Path<(String, String)>,
    parsed: Result<Json<ServicesRequest>, JsonRejection>,
) -> Result<Response, Error> {
    let (request, why) = match read(parsed) {
        Ok(read) => read,
        Err(problem) => return Ok(bad_request(&problem)),
    };
    let action = HelpdeskAction::SetServices {
        organisation_id,
        chosen: request
            .services
            .into_iter()
            .map(|s| (s.service, s.roles))
            .collect(),
    };
    run(&state, &caller, &ctx, &id, action, &why).await
}
