//! `/manage/accounts/{id}`: one account in one screen for the helpdesk (opening it is
//! audited), its timeline as CSV, and the helpdesk's changes, each behind a form that asks
//! for a reason, a note and, to reset 2-step verification, how the caller was checked.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use chrono::DateTime;
use serde::Deserialize;

use super::super::client::Client;
use super::super::forms::FormErrors;
use super::super::organisation::{day, status_label};
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::StaffUser;
use super::on_duty;
use crate::admin::{
    AccountFile, ActionError, HelpdeskAction, IdentityCheck, Place, Reason, SignInLine, Why,
};
use crate::domain::UserStatus;
use crate::staff::Capability;
use crate::store::AuditRow;

/// A date and time, to the minute, in UTC.
fn when(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%-d %b %Y %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A helpdesk change offered on the page.
struct Offer {
    code: &'static str,
    label: &'static str,
}

struct SessionView {
    started: String,
    last_seen: String,
    ip: String,
    browser: String,
}

struct EventView {
    when: String,
    action: String,
    outcome: String,
    reason: String,
    by: String,
    details: String,
}

#[derive(Template)]
#[template(path = "manage/account.html")]
struct AccountPage {
    layout: Layout,
    notice: Option<&'static str>,
    id: String,
    name: String,
    email: String,
    status: &'static str,
    status_why: String,
    staff_roles: String,
    places: Vec<Place>,
    factors: Vec<(&'static str, String, String, &'static str)>,
    recovery_codes_left: i64,
    sign_ins: Vec<(String, String)>,
    failures: Vec<(String, String, String)>,
    sessions: Vec<SessionView>,
    pending_email: Option<String>,
    offers: Vec<Offer>,
    events: Vec<EventView>,
    older: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    before: Option<i64>,
    notice: Option<String>,
}

/// What the helpdesk may do to this account now.
fn offers(file: &AccountFile) -> Vec<Offer> {
    let mut offers = Vec::new();
    let mut offer = |code, label| offers.push(Offer { code, label });
    match file.status {
        UserStatus::Invited => offer("resend-invitation", "Resend the invitation"),
        UserStatus::Active => offer("send-password-reset", "Send a password reset link"),
        UserStatus::Locked => {
            offer("unlock", "Unlock the account");
            offer("send-password-reset", "Send a password reset link");
        }
        UserStatus::Deactivated => offer("reactivate", "Reactivate the account"),
    }
    if !file.sessions.is_empty() {
        offer("sign-out-everywhere", "Sign them out everywhere");
    }
    if !file.factors.is_empty() {
        offer("reset-2-step-verification", "Reset 2-step verification");
    }
    if file.status != UserStatus::Deactivated {
        offer("deactivate", "Deactivate the account");
    }
    offers
}

fn event_view(e: AuditRow, subject: &str) -> EventView {
    EventView {
        when: when(e.occurred_at),
        by: if e.actor == subject {
            "Them".to_owned()
        } else {
            e.actor
        },
        outcome: if e.outcome == "success" {
            "Succeeded".to_owned()
        } else {
            "Failed".to_owned()
        },
        reason: e.reason.unwrap_or_default(),
        details: e.details.unwrap_or_default(),
        action: e.action,
    }
}

fn line(l: &SignInLine) -> (String, String) {
    (when(l.at), l.ip.clone().unwrap_or_default())
}

pub async fn account(
    State(state): State<AppState>,
    verified: StaffUser,
    Client(ctx): Client,
    Path(id): Path<String>,
    Query(query): Query<AccountQuery>,
) -> Result<Response, Error> {
    let on_duty = on_duty(&state, &verified, Capability::FindAccounts).await?;
    let Some(file) = state.helpdesk.account(&on_duty, &id, &ctx).await? else {
        return Err(Error::NotFound);
    };
    let timeline = state
        .helpdesk
        .timeline(&on_duty, &file.user.id, query.before)
        .await?;
    let may_help = on_duty.can(Capability::HelpAccounts);
    let notice = query.notice.as_deref().and_then(done_message);
    let page = AccountPage {
        layout: Layout::default(),
        notice,
        offers: if may_help { offers(&file) } else { Vec::new() },
        id: file.user.id.clone(),
        name: format!("{} {}", file.user.given_name, file.user.family_name),
        email: file.user.email.clone(),
        status: status_label(file.status.as_str()),
        status_why: file.status_why.clone(),
        staff_roles: file.staff_roles.join(", "),
        factors: file
            .factors
            .iter()
            .map(|f| (f.kind, f.name.clone(), day(f.added_at), f.note))
            .collect(),
        recovery_codes_left: file.recovery_codes_left,
        sign_ins: file.sign_ins.iter().map(line).collect(),
        failures: file
            .failures
            .iter()
            .map(|l| {
                let (at, ip) = line(l);
                (at, l.reason.clone().unwrap_or_default(), ip)
            })
            .collect(),
        sessions: file
            .sessions
            .iter()
            .map(|s| SessionView {
                started: when(s.created_at),
                last_seen: when(s.last_seen_at),
                ip: s.ip.clone().unwrap_or_default(),
                browser: s.user_agent.clone().unwrap_or_default(),
            })
            .collect(),
        pending_email: file.pending_email.clone(),
        events: timeline
            .events
            .into_iter()
            .map(|e| event_view(e, &file.user.id))
            .collect(),
        older: timeline
            .older
            .map(|seq| format!("/manage/accounts/{}?before={seq}#timeline", file.user.id)),
        places: file.places,
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn timeline_csv(
    State(state): State<AppState>,
    verified: StaffUser,
    Client(ctx): Client,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let on_duty = on_duty(&state, &verified, Capability::FindAccounts).await?;
    let csv = state.helpdesk.export_timeline(&on_duty, &id, &ctx).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"gatehouse-account-timeline.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// The confirmation shown after a change, by the change's code.
fn done_message(code: &str) -> Option<&'static str> {
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
}

/// A radio button on the form.
struct Radio {
    value: &'static str,
    label: &'static str,
    checked: bool,
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
    reasons: Vec<Radio>,
    checks: Vec<Radio>,
    note: String,
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
        .user_by_id(&crate::domain::UserId::from_stored(id.to_owned()))
        .await?
        .ok_or(Error::NotFound)?;
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
        reasons: Reason::ALL
            .iter()
            .map(|r| Radio {
                value: r.code(),
                label: r.label(),
                checked: input.reason == r.code(),
            })
            .collect(),
        checks: if code == "reset-2-step-verification" {
            IdentityCheck::ALL
                .iter()
                .map(|c| Radio {
                    value: c.code(),
                    label: c.label(),
                    checked: input.identity_check == c.code(),
                })
                .collect()
        } else {
            Vec::new()
        },
        note: input.note.clone(),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn act_form(
    State(state): State<AppState>,
    verified: StaffUser,
    jar: CookieJar,
    Path((id, code)): Path<(String, String)>,
) -> Result<Response, Error> {
    on_duty(&state, &verified, Capability::HelpAccounts).await?;
    let input = ActForm::default();
    let form = FormErrors::default();
    render_act(&state, jar, &id, &code, &input, form, StatusCode::OK).await
}

/// The change a form asks for, or the errors beside its fields.
fn parse(code: &str, input: &ActForm) -> Result<(HelpdeskAction, Why), FormErrors> {
    let mut errors = FormErrors::default();
    let why = match Why::parse(&input.reason, &input.note) {
        Ok(why) => Some(why),
        Err(problems) => {
            for (field, message) in problems {
                errors.add(field, message);
            }
            None
        }
    };
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
        _ => None,
    };
    match (action, why) {
        (Some(action), Some(why)) if errors.is_empty() => Ok((action, why)),
        _ => Err(errors),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn act(
    State(state): State<AppState>,
    verified: StaffUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Path((id, code)): Path<(String, String)>,
    Form(input): Form<ActForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    let on_duty = on_duty(&state, &verified, Capability::HelpAccounts).await?;
    title(&code).ok_or(Error::NotFound)?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let (action, why) = match parse(&code, &input) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return render_act(&state, jar, &id, &code, &input, errors, status).await;
        }
    };
    match state.helpdesk.act(&on_duty, &id, action, &why, &ctx).await {
        Ok(_) => {
            let to = format!("/manage/accounts/{id}?notice={code}");
            Ok(Redirect::to(&to).into_response())
        }
        Err(ActionError::NoSuchAccount) => Err(Error::NotFound),
        Err(ActionError::NotAllowed(message)) => {
            let mut errors = FormErrors::default();
            errors.add("reason", message);
            render_act(
                &state,
                jar,
                &id,
                &code,
                &input,
                errors,
                StatusCode::FORBIDDEN,
            )
            .await
        }
        Err(ActionError::NotNow(message)) => {
            let mut errors = FormErrors::default();
            errors.add("reason", message);
            render_act(&state, jar, &id, &code, &input, errors, status).await
        }
        Err(ActionError::Store(e)) => Err(e.into()),
        Err(ActionError::Flow(crate::account::FlowError::Internal(e))) => Err(e.into()),
        Err(ActionError::Flow(e)) => {
            let mut errors = FormErrors::default();
            errors.add("reason", e.to_string());
            render_act(&state, jar, &id, &code, &input, errors, status).await
        }
    }
}
