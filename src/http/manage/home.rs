//! `/manage`: where a member of staff starts — the console pages their roles open, and
//! nothing else.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use super::super::pages::Layout;
use super::super::{AppState, Error};
use super::StaffUser;
use crate::staff::{Capability, StaffRole};

/// The console's pages, each with the capability that opens it.
const PAGES: [(&str, &str, &str, Capability); 9] = [
    (
        "/manage/accounts",
        "Find an account",
        "Search by email, name or organisation; see why someone cannot sign in and help them.",
        Capability::FindAccounts,
    ),
    (
        "/manage/requests",
        "Access requests waiting for the helpdesk",
        "Requests no approver answered, and requests to organisations without one.",
        Capability::ViewRequestQueue,
    ),
    (
        "/manage/migration",
        "Authentix migration dashboard",
        "Who has moved off the shared passwords, by local authority and service.",
        Capability::ViewMigration,
    ),
    (
        "/manage/audit",
        "Check the audit trail",
        "Whether every event's hash still holds.",
        Capability::CheckAuditTrail,
    ),
    (
        "/manage/services",
        "Services",
        "Register services, change their settings, rotate secrets, define roles.",
        Capability::ManageServices,
    ),
    (
        "/manage/keys",
        "Signing keys",
        "Create the next signing key, retire an old one.",
        Capability::ManageKeys,
    ),
    (
        "/manage/organisations",
        "Organisations",
        "Add an organisation GIAS does not list, correct one.",
        Capability::ManageOrganisations,
    ),
    (
        "/manage/policy",
        "Policy settings",
        "Password lengths, the lock after failed sign-ins, link lifetimes, unused accounts.",
        Capability::ManagePolicy,
    ),
    (
        "/manage/staff",
        "Gatehouse staff",
        "Grant and take away staff roles.",
        Capability::ManageStaff,
    ),
];

struct Link {
    href: &'static str,
    label: &'static str,
    hint: &'static str,
}

#[derive(Template)]
#[template(path = "manage/home.html")]
struct HomePage {
    layout: Layout,
    links: Vec<Link>,
}

pub async fn home(State(state): State<AppState>, staff: StaffUser) -> Result<Response, Error> {
    let roles: Vec<StaffRole> = state.staff.roles(&staff.0.user.id).await?;
    let links: Vec<Link> = PAGES
        .iter()
        .filter(|(.., capability)| roles.iter().any(|r| r.grants(*capability)))
        .map(|(href, label, hint, _)| Link { href, label, hint })
        .collect();
    if links.is_empty() {
        return Err(Error::Forbidden);
    }
    let page = HomePage {
        layout: Layout::default(),
        links,
    };
    Ok(Html(page.render()?).into_response())
}
