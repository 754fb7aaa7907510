//! `/manage/accounts/{id}/{change}`: the form for each helpdesk change, asking for what the
//! change needs (a name, an address, an organisation, how the caller was checked), a reason
//! from the fixed list and a note, and the submission that makes the change.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::super::client::Client;
use super::super::forms::FormErrors;
use super::super::organisation::services::{ServiceChoice, choices, chosen};
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::{StaffUser, on_duty};
use crate::account::FlowError;
use crate::admin::{ActionError, HelpdeskAction, IdentityCheck, Reason, Why};
use crate::domain::{Email, UserId};
use crate::staff::Capability;
use crate::store::UserRow;

/// The confirmation shown after a change, by the change's code.
pub fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "resend-invitation" => "A new invitation was sent. The old link no longer works.",
        "send-password-reset" => "A password reset link was sent to their email address.",
        "unlock" => "The account was unlocked. They have been told by email.",
        "deactivate" => "The account was deactivated and signed out everywhere.",
        "reactivate" => "The account was reactivated. They have been told by email.",
        "sign-out-everywhere" => "They were signed out everywhere.",
        "reset-2-step-verification" => {
            "2-step verification was reset. They will set it up again when they next sign in."
        }
        "edit-name" => "Their name was changed. They have been told by email.",
        "change-email" => {
            "A code was sent to the new address. The change happens when they enter it after \
             signing in; their current address has been told."
        }
        "add-to-organisation" => "They were added to the organisation.",
        "remove-from-organisation" => "They were removed from the organisation and its services.",
        "change-services" => "Their services were saved. They have been told by email.",
        _ => return None,
    })
}

/// The title of each change's form.
fn title(code: &str) -> Option<&'static str> {
    Some(match code {
        "resend-invitation" => "Resend the invitation",
        "send-password-reset" => "Send a password reset link",
        "unlock" => "Unlock the account",
        "deactivate" => "Deactivate the account",
        "reactivate" => "Reactivate the account",
        "sign-out-everywhere" => "Sign them out everywhere",
        "reset-2-step-verification" => "Reset 2-step verification",
        "edit-name" => "Change their name",
        "change-email" => "Change their email address",
        "add-to-organisation" => "Add them to an organisation",
        "remove-from-organisation" => "Remove them from an organisation",
        "change-services" => "Change their services",
        _ => return None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    identity_check: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    organisation_id: String,
    /// Ticked services (client ids) and roles (`client_id:code`), for `change-services`.
    #[serde(default)]
    service: Vec<String>,
    #[serde(default)]
    role: Vec<String>,
}

/// `?organisation_id=` on the link to a change that is about one organisation.
#[derive(Debug, Default, Deserialize)]
pub struct ActQuery {
    #[serde(default)]
    organisation_id: String,
}

/// A radio button on the form.
struct Radio {
    value: String,
    label: String,
    checked: bool,
}

/// A set of radio buttons with its legend.
struct RadioGroup {
    id: &'static str,
    legend: &'static str,
    options: Vec<Radio>,
}

/// A text input.
struct TextField {
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "manage/account_action.html")]
struct ActPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    id: String,
    code: String,
    title: &'static str,
    name: String,
    email: String,
    fields: Vec<TextField>,
    groups: Vec<RadioGroup>,
    reasons: Vec<Radio>,
    note: String,
    /// For `change-services`: the organisation and its services as checkboxes.
    organisation_id: String,
    organisation: String,
    services: Vec<ServiceChoice>,
}

fn radio(value: &str, label: &str, chosen: &str) -> Radio {
    Radio {
        value: value.to_owned(),
        label: label.to_owned(),
        checked: value == chosen,
    }
}

/// What the form for `code` asks for besides the reason and note.
async fn particulars(
    state: &AppState,
    user: &UserRow,
    code: &str,
    input: &ActForm,
) -> Result<(Vec<TextField>, Vec<RadioGroup>), Error> {
    let text = |id, label, kind, value: &str, current: &str| TextField {
        id,
        label,
        kind,
        value: if value.is_empty() {
            current.to_owned()
        } else {
            value.to_owned()
        },
    };
    Ok(match code {
        "edit-name" => (
            vec![
                text(
                    "given_name",
                    "First name",
                    "text",
                    &input.given_name,
                    &user.given_name,
                ),
                text(
                    "family_name",
                    "Last name",
                    "text",
                    &input.family_name,
                    &user.family_name,
                ),
            ],
            Vec::new(),
        ),
        "change-email" => (
            vec![text(
                "new_email",
                "New email address",
                "email",
                &input.new_email,
                "",
            )],
            Vec::new(),
        ),
        "add-to-organisation" => (
            vec![text(
                "organisation",
                "School URN or local authority code",
                "text",
                &input.organisation,
                "",
            )],
            vec![RadioGroup {
                id: "level",
                legend: "As",
                options: vec![
                    radio("member", "A member", &input.level),
                    radio(
                        "approver",
                        "Its approver (only for an organisation with no approver)",
                        &input.level,
                    ),
                ],
            }],
        ),
        "remove-from-organisation" => {
            let places = state.store.places_of(&user.id).await?;
            let options = places
                .iter()
                .map(|p| radio(&p.organisation_id, &p.name, &input.organisation_id))
                .collect();
            (
                Vec::new(),
                vec![RadioGroup {
                    id: "organisation_id",
                    legend: "Which organisation?",
                    options,
                }],
            )
        }
        "reset-2-step-verification" => (
            Vec::new(),
            vec![RadioGroup {
                id: "identity_check",
                legend: "How did you check who they are?",
                options: IdentityCheck::ALL
                    .iter()
                    .map(|c| radio(c.code(), c.label(), &input.identity_check))
                    .collect(),
            }],
        ),
        _ => (Vec::new(), Vec::new()),
    })
}

async fn render_act(
    state: &AppState,
    jar: CookieJar,
    id: &str,
    code: &str,
    input: &ActForm,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let title = title(code).ok_or(Error::NotFound)?;
    let user = state
        .store
        .user_by_id(&UserId::from_stored(id.to_owned()))
        .await?
        .ok_or(Error::NotFound)?;
    let (fields, groups) = particulars(state, &user, code, input).await?;
    let (organisation, services) = if code == "change-services" {
        service_choices(state, &user, input).await?
    } else {
        (String::new(), Vec::new())
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ActPage {
        layout: Layout::default(),
        form,
        csrf_token,
        id: user.id.clone(),
        code: code.to_owned(),
        title,
        name: format!("{} {}", user.given_name, user.family_name),
        email: user.email.clone(),
        fields,
        groups,
        reasons: Reason::ALL
            .iter()
            .map(|r| radio(r.code(), r.label(), &input.reason))
            .collect(),
        note: input.note.clone(),
        organisation_id: input.organisation_id.clone(),
        organisation,
        services,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

/// The organisation's name and its services as checkboxes, ticked as submitted or, on first
/// showing, as the person holds them; not found unless they belong to it.
async fn service_choices(
    state: &AppState,
    user: &UserRow,
    input: &ActForm,
) -> Result<(String, Vec<ServiceChoice>), Error> {
    let org_id = input.organisation_id.as_str();
    if state.store.membership(&user.id, org_id).await?.is_none() {
        return Err(Error::NotFound);
    }
    let org = state
        .store
        .organisation_by_id(org_id)
        .await?
        .ok_or(Error::NotFound)?;
    let offers = state.directory.services_offered(&org).await?;
    let ticked = if input.csrf_token.is_empty() {
        state
            .directory
            .services_held(org_id, &user.id)
            .await?
            .into_iter()
            .map(|h| (h.service.client_id, h.roles))
            .collect()
    } else {
        chosen(&input.service, &input.role)
    };
    Ok((org.name, choices(&offers, &ticked)))
}

pub async fn act_form(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
    Path((id, code)): Path<(String, String)>,
    Query(query): Query<ActQuery>,
) -> Result<Response, Error> {
    on_duty(&state, &staff, Capability::HelpAccounts).await?;
    let input = ActForm {
        organisation_id: query.organisation_id,
        ..ActForm::default()
    };
    let form = FormErrors::default();
    render_act(&state, jar, &id, &code, &input, form, StatusCode::OK).await
}

/// The change a form asks for, or the errors beside its fields.
fn parse(code: &str, input: &ActForm) -> Result<(HelpdeskAction, Why), FormErrors> {
    let mut errors = FormErrors::default();
    let action = match code {
        "resend-invitation" => Some(HelpdeskAction::ResendInvitation),
        "send-password-reset" => Some(HelpdeskAction::SendPasswordReset),
        "unlock" => Some(HelpdeskAction::Unlock),
        "deactivate" => Some(HelpdeskAction::Deactivate),
        "reactivate" => Some(HelpdeskAction::Reactivate),
        "sign-out-everywhere" => Some(HelpdeskAction::RevokeSessions),
        "reset-2-step-verification" => match IdentityCheck::parse(&input.identity_check) {
            Some(check) => Some(HelpdeskAction::ResetMfa(check)),
            None => {
                errors.add("identity_check", "Select how you checked who they are");
                None
            }
        },
        "edit-name" => Some(HelpdeskAction::EditName {
            given_name: input.given_name.clone(),
            family_name: input.family_name.clone(),
        }),
        "change-email" => match Email::parse(&input.new_email) {
            Ok(email) => Some(HelpdeskAction::ChangeEmail(email)),
            Err(e) => {
                errors.add("new_email", e.to_string());
                None
            }
        },
        "add-to-organisation" => {
            if !matches!(input.level.as_str(), "member" | "approver") {
                errors.add("level", "Select a member or its approver");
            }
            Some(HelpdeskAction::AddToOrganisation {
                organisation: input.organisation.clone(),
                approver: input.level == "approver",
            })
        }
        "remove-from-organisation" if input.organisation_id.is_empty() => {
            errors.add("organisation_id", "Select an organisation");
            None
        }
        "remove-from-organisation" => Some(HelpdeskAction::RemoveFromOrganisation(
            input.organisation_id.clone(),
        )),
        "change-services" => Some(HelpdeskAction::SetServices {
            organisation_id: input.organisation_id.clone(),
            chosen: chosen(&input.service, &input.role),
        }),
        _ => None,
    };
    let why = match Why::parse(&input.reason, &input.note) {
        Ok(why) => Some(why),
        Err(problems) => {
            for (field, message) in problems {
                errors.add(field, message);
            }
            None
        }
    };
    match (action, why) {
        (Some(action), Some(why)) if errors.is_empty() => Ok((action, why)),
        _ => Err(errors),
    }
}

pub async fn act(
    State(state): State<AppState>,
    staff: StaffUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path((id, code)): Path<(String, String)>,
    Form(input): Form<ActForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    let on_duty = on_duty(&state, &staff, Capability::HelpAccounts).await?;
    title(&code).ok_or(Error::NotFound)?;
    let (action, why) = match parse(&code, &input) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_act(&state, jar, &id, &code, &input, errors, status).await;
        }
    };
    let (field, message, status) = match state.helpdesk.act(&on_duty, &id, action, &why, &ctx).await
    {
        Ok(_) => {
            let to = format!("/manage/accounts/{id}?notice={code}");
            return Ok(Redirect::to(&to).into_response());
        }
        Err(ActionError::NoSuchAccount) => return Err(Error::NotFound),
        Err(ActionError::Store(e)) => return Err(e.into()),
        Err(ActionError::Flow(FlowError::Internal(e))) => return Err(e.into()),
        Err(ActionError::NotAllowed(message)) => {
            ("reason", message.to_owned(), StatusCode::FORBIDDEN)
        }
        Err(ActionError::NotNow(message)) => ("reason", message, StatusCode::UNPROCESSABLE_ENTITY),
        Err(ActionError::Field(field, message)) => {
            (field, message, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ActionError::Flow(FlowError::Field { field, message })) => {
            (field, message, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ActionError::Flow(other)) => (
            "reason",
            other.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let mut errors = FormErrors::default();
    errors.add(field, message);
    render_act(&state, jar, &id, &code, &input, errors, status).await
}
