//! `/organisation/…`: the pages approvers use to look after their own organisation's people
//! and access. Every route needs 2-step verification in the session ([`VerifiedUser`]) and
//! starts by proving the person approves the organisation in the path.

mod invite;
mod people;
mod person;
pub(super) mod requests;
pub(in crate::http) mod services;

pub use people::{day, status_label};

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use super::current_user::VerifiedUser;
use crate::audit::RequestContext;
use crate::directory::ApproverOf;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organisation", get(people::choose))
        .route("/organisation/{org}", get(people::list))
        .route(
            "/organisation/{org}/invite",
            get(invite::form).post(invite::send),
        )
        .route("/organisation/{org}/people/{user}", get(person::show))
        .route(
            "/organisation/{org}/people/{user}/services",
            post(person::save_services),
        )
        .route(
            "/organisation/{org}/people/{user}/level",
            post(person::level),
        )
        .route(
            "/organisation/{org}/people/{user}/remove",
            get(person::confirm_remove).post(person::remove),
        )
        .route(
            "/organisation/{org}/requests/{id}",
            get(requests::show).post(requests::decide),
        )
}

/// The approver's standing in the organisation of the path (403 for anyone else).
async fn approver(
    state: &AppState,
    VerifiedUser(current): &VerifiedUser,
    org: &str,
    ctx: &RequestContext,
) -> Result<ApproverOf, super::Error> {
    Ok(state.approvals.approver_of(&current.user, org, ctx).await?)
}
