//! `/manage/audit`: auditors and admins check the audit trail's hash chain from the console,
//! as `gatehouse audit verify` does at the command line.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use super::super::pages::Layout;
use super::super::{AppState, Error};
use super::StaffUser;
use super::require;
use crate::staff::Capability;

#[derive(Template)]
#[template(path = "manage/audit.html")]
struct AuditPage {
    layout: Layout,
    intact: bool,
    events: i64,
    /// Where and why the chain broke, when it did.
    broken_at: i64,
    reason: &'static str,
}

pub async fn check(State(state): State<AppState>, verified: StaffUser) -> Result<Response, Error> {
    require(&state, &verified, Capability::CheckAuditTrail).await?;
    let page = match state.store.verify_audit_chain().await? {
        Ok(events) => AuditPage {
            layout: Layout::default(),
            intact: true,
            events,
            broken_at: 0,
            reason: "",
        },
        Err(brk) => AuditPage {
            layout: Layout::default(),
            intact: false,
            events: 0,
            broken_at: brk.seq,
            reason: brk.reason,
        },
    };
    Ok(Html(page.render()?).into_response())
}
