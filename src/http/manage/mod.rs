//! `/manage/…`: pages for Gatehouse staff. Each needs 2-step verification in the session and
//! checks its capability before anything else.

mod audit;
mod migration;
mod requests;

use axum::Router;
use axum::routing::get;

use super::current_user::VerifiedUser;
use super::{AppState, Error};
use crate::staff::Capability;

pub fn router() -> Router<AppState> {
    Router::new()
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
