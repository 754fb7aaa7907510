//! `/organisation/{org}/invite`: an approver invites a colleague, choosing their services and
//! roles; the colleague gets the usual activation email (or, with an account already, is
//! simply added).

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
use super::services::{ServiceChoice, choices, chosen};
use crate::account::FlowError;
use crate::directory::{ApproverOf, ColleagueInvite, ColleagueInvited, DirectoryError};
use crate::domain::Email;

#[derive(Template)]
#[template(path = "organisation/invite.html")]
struct InvitePage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    org_id: String,
    organisation: String,
    fields: Vec<TextField>,
    services: Vec<ServiceChoice>,
}

/// One text input of the form.
struct TextField {
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    service: Vec<String>,
    #[serde(default)]
    role: Vec<String>,
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    scope: &ApproverOf,
    input: &InviteForm,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let offers = state.approvals.services_offered(scope).await?;
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = InvitePage {
        layout: Layout::default(),
        form,
        csrf_token,
        org_id: scope.organisation.id.clone(),
        organisation: scope.organisation.name.clone(),
        fields: vec![
            TextField {
                id: "email",
                label: "Email address",
                kind: "email",
                value: input.email.clone(),
            },
            TextField {
                id: "given_name",
                label: "First name",
                kind: "text",
                value: input.given_name.clone(),
            },
            TextField {
                id: "family_name",
                label: "Last name",
                kind: "text",
                value: input.family_name.clone(),
            },
        ],
        services: choices(&offers, &chosen(&input.service, &input.role)),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn form(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    Path(org): Path<String>,
) -> Result<Response, Error> {
    let scope = approver(&state, &verified, &org, &ctx).await?;
    let input = InviteForm::default();
    render(
        &state,
        jar,
        &scope,
        &input,
        FormErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn send(
    State(state): State<AppState>,
    verified: VerifiedUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path(org): Path<String>,
    Form(input): Form<InviteForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    let scope = approver(&state, &verified, &org, &ctx).await?;
    let mut errors = FormErrors::default();
    let email = match Email::parse(&input.email) {
        Ok(email) => Some(email),
        Err(_) if input.email.trim().is_empty() => {
            errors.add("email", "Enter their email address");
            None
        }
        Err(_) => {
            errors.add(
                "email",
                "Enter an email address in the correct format, like name@example.com",
            );
            None
        }
    };
    if input.given_name.trim().is_empty() {
        errors.add("given_name", "Enter their first name");
    }
    if input.family_name.trim().is_empty() {
        errors.add("family_name", "Enter their last name");
    }
    let (Some(email), true) = (email, errors.is_empty()) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&state, jar, &scope, &input, errors, status).await;
    };
    let invite = ColleagueInvite {
        email,
        given_name: input.given_name.clone(),
        family_name: input.family_name.clone(),
        services: chosen(&input.service, &input.role),
    };
    match state.approvals.invite(&scope, invite, &ctx).await {
        Ok(ColleagueInvited::ExistingAccount) => {
            Ok(Redirect::to(&format!("/organisation/{org}?notice=added")).into_response())
        }
        Ok(_) => Ok(Redirect::to(&format!("/organisation/{org}?notice=invited")).into_response()),
        Err(DirectoryError::Field(field, message))
        | Err(DirectoryError::Flow(FlowError::Field { field, message })) => {
            let field = match field {
                "email" | "given_name" | "family_name" => field,
                _ => "services",
            };
            errors.add(field, message);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, jar, &scope, &input, errors, status).await
        }
        Err(e) => Err(e.into()),
    }
}
