//! `/manage/…`: pages for Gatehouse staff. Each needs 2-step verification in the session and
//! checks its capability before anything else.

mod account;
mod accounts;
mod audit;
mod migration;
mod requests;

use axum::Router;
use axum::routing::get;

use super::current_user::VerifiedUser;
use super::{AppState, Error};
use crate::admin::OnDuty;
use crate::staff::Capability;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/manage/accounts", get(accounts::accounts))
        .route("/manage/accounts.csv", get(accounts::accounts_csv))
        .route("/manage/accounts/{id}", get(account::account))
        .route(
            "/manage/accounts/{id}/timeline.csv",
            get(account::timeline_csv),
        )
        .route(
            "/manage/accounts/{id}/{action}",
            get(account::act_form).post(account::act),
        )
        .route("/manage/audit", get(audit::check))
        .route("/manage/migration", get(migration::migration))
        .route("/manage/migration.csv", get(migration::migration_csv))
        .route("/manage/requests", get(requests::requests))
        .route(
            "/manage/requests/{id}",
            get(requests::show).post(requests::decide),
        )
}

/// Refuses anyone whose staff roles do not give `capability`.
async fn require(
    state: &AppState,
    VerifiedUser(current): &VerifiedUser,
    capability: Capability,
) -> Result<(), Error> {
    if state.staff.can(&current.user.id, capability).await? {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The signed-in member of staff on duty with `capability`, or 403.
async fn on_duty(
    state: &AppState,
    VerifiedUser(current): &VerifiedUser,
    capability: Capability,
) -> Result<OnDuty, Error> {
    state
        .helpdesk
        .on_duty(&current.user, capability)
        .await?
        .ok_or(Error::Forbidden)
}
