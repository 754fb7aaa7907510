//! `/manage/accounts/{id}`: one account in one screen for the helpdesk (opening it is
//! audited), with the changes the helpdesk may make to it now, and its timeline as CSV.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use chrono::DateTime;
use serde::Deserialize;

use super::super::client::Client;
use super::super::organisation::{day, status_label};
use super::super::pages::Layout;
use super::super::{AppState, Error};
use super::StaffUser;
use super::on_duty;
use crate::admin::{AccountFile, Place, SignInLine};
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
    offer("edit-name", "Change their name");
    if file.status != UserStatus::Deactivated {
        offer("change-email", "Change their email address");
    }
    offer("add-to-organisation", "Add them to an organisation");
    if !file.places.is_empty() {
        offer(
            "remove-from-organisation",
            "Remove them from an organisation",
        );
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
    let notice = query
        .notice
        .as_deref()
        .and_then(super::account_actions::done_message);
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
