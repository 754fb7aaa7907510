//! `/organisation/{org}/requests/{id}`: an approver approves or rejects a request to join
//! their organisation or use a service there, with a reason the requester is sent.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::super::client::Client;
use super::super::current_user::VerifiedUser;
use super::super::forms::FormErrors;
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::approver;
use super::people::day;
use super::services::RoleChoice;
use crate::directory::{ApproverOf, Decision, DirectoryError};
use crate::store::AccessRequestRow;

/// Where a request page sits: whose page it is, where its form posts and where "back" goes.
pub struct RequestPlace {
    pub organisation: String,
    /// Offer "also make them an approver" (the helpdesk, where the organisation has none).
    pub offer_approver: bool,
    pub action: String,
    pub back: String,
    pub back_label: String,
}

#[derive(Template)]
#[template(path = "organisation/request.html")]
struct RequestPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    organisation: String,
    action: String,
    back: String,
    back_label: String,
    offer_approver: bool,
    make_approver: bool,
    name: String,
    email: String,
    asks_for: String,
    reason: String,
    asked_on: String,
    /// "waiting", "approved" or "rejected" (and so on), as shown.
    status: String,
    pending: bool,
    roles: Vec<RoleChoice>,
    decision: String,
    decision_reason: String,
}

/// The decision form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    role: Vec<String>,
    /// Present when "also make them an approver" is ticked.
    approver: Option<String>,
}

impl DecideForm {
    /// The decision, or the form error to show.
    pub fn decision(&self) -> Result<Decision, FormErrors> {
        let approve = match self.decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => {
                let mut errors = FormErrors::default();
                errors.add(
                    "decision",
                    "Choose whether to approve or reject the request",
                );
                return Err(errors);
            }
        };
        Ok(Decision {
            approve,
            roles: self.role.clone(),
            reason: self.reason.clone(),
            make_approver: self.approver.is_some(),
        })
    }
}

/// A refused decision as a form error beside its field.
pub fn refusal(error: DirectoryError) -> Result<FormErrors, Error> {
    match error {
        DirectoryError::Field(field, message) => {
            let field = match field {
                "reason" => "reason",
                "services" => "roles",
                _ => "decision",
            };
            let mut errors = FormErrors::default();
            errors.add(field, message);
            Ok(errors)
        }
        other => Err(other.into()),
    }
}

/// The request page, for an approver or the helpdesk.
pub async fn render_request(
    state: &AppState,
    jar: CookieJar,
    place: &RequestPlace,
    request: &AccessRequestRow,
    input: &DecideForm,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let roles = match &request.client_id {
        Some(client_id) => state
            .store
            .roles(client_id)
            .await?
            .into_iter()
            .map(|r| RoleChoice {
                checked: input.role.contains(&r.code),
                value: r.code,
                name: r.name,
            })
            .collect(),
        None => Vec::new(),
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = RequestPage {
        layout: Layout::default(),
        form,
        csrf_token,
        organisation: place.organisation.clone(),
        action: place.action.clone(),
        back: place.back.clone(),
        back_label: place.back_label.clone(),
        offer_approver: place.offer_approver,
        make_approver: input.approver.is_some(),
        name: format!("{} {}", request.given_name, request.family_name),
        email: request.email.clone(),
        asks_for: match &request.client_name {
            Some(service) => format!("To use {service} for {}", place.organisation),
            None => format!("To join {}", place.organisation),
        },
        reason: request.reason.clone(),
        asked_on: day(request.created_at),
        status: match request.status.as_str() {
            "pending" => "Waiting for an answer".to_owned(),
            "approved" => "Approved".to_owned(),
            "rejected" => "Rejected".to_owned(),
            _ => "Withdrawn".to_owned(),
        },
        pending: request.status == "pending",
        roles,
        decision: input.decision.clone(),
        decision_reason: input.reason.clone(),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

fn place(scope: &ApproverOf, request_id: &str) -> RequestPlace {
    let org = &scope.organisation;
    RequestPlace {
        organisation: org.name.clone(),
        offer_approver: false,
        action: format!("/organisation/{}/requests/{request_id}", org.id),
        back: format!("/organisation/{}", org.id),
        back_label: format!("Back to {}", org.name),
    }
}

pub async fn show(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, Error> {
    let scope = approver(&state, &verified, &org, &ctx).await?;
    let request = state.approvals.request_for(&scope, &id, &ctx).await?;
    let input = DecideForm::default();
    let form = FormErrors::default();
    let place = place(&scope, &id);
    render_request(&state, jar, &place, &request, &input, form, StatusCode::OK).await
}

pub async fn decide(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
    Form(input): Form<DecideForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    let scope = approver(&state, &verified, &org, &ctx).await?;
    let request = state.approvals.request_for(&scope, &id, &ctx).await?;
    let place = place(&scope, &id);
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let decision = match input.decision() {
        Ok(decision) => decision,
        Err(errors) => {
            return render_request(&state, jar, &place, &request, &input, errors, status).await;
        }
    };
    match state
        .approvals
        .decide(&scope, &request, decision, &ctx)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/organisation/{org}?notice=decided")).into_response()),
        Err(e) => {
            let errors = refusal(e)?;
            render_request(&state, jar, &place, &request, &input, errors, status).await
        }
    }
}
