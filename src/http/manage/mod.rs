//! `/manage/…`: pages for Gatehouse staff. Each needs 2-step verification in the session and
//! checks its capability before anything else.

mod account;
mod account_actions;
mod accounts;
mod api;
mod api_changes;
mod audit;
mod home;
mod keys;
mod migration;
mod organisations;
mod policy;
mod requests;
mod services;
mod staff;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::current_user::VerifiedUser;
use super::{AppState, Error};
use crate::admin::OnDuty;
use crate::auth::CurrentSession;
use crate::auth::mfa::Amr;
use crate::staff::{Capability, StaffRole};

/// A signed-in person with 2-step verification in this session and, if they are an
/// administrator, a security key or passkey among the factors they used (PRODUCT.md
/// "Policies"). Whether they may use a page is still each handler's capability check.
#[derive(Debug, Clone)]
pub struct StaffUser(pub CurrentSession);

/// Why an administrator without a key is refused.
const ADMINS_NEED_A_KEY: &str = "Administrators must sign in with a security key or passkey. \
     Add one from your account page, then come back.";

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let VerifiedUser(current) = VerifiedUser::from_request_parts(parts, state).await?;
        if Amr::from_json(&current.session.amr).is_phishing_resistant() {
            return Ok(Self(current));
        }
        let is_admin = state
            .staff
            .roles(&current.user.id)
            .await
            .map_err(|e| Error::from(e).into_response())?
            .contains(&StaffRole::Admin);
        if !is_admin {
            return Ok(Self(current));
        }
        let has_key = !state
            .store
            .credentials(&current.user.id)
            .await
            .map_err(|e| Error::from(e).into_response())?
            .is_empty();
        if !has_key {
            return Err(super::error::forbidden_because(ADMINS_NEED_A_KEY));
        }
        let back = super::return_to::encode(parts.uri.path());
        Err(Redirect::to(&format!("/sign-in/verify?method=key&return_to={back}")).into_response())
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/manage", get(home::home))
        .route("/manage/api/openapi.json", get(api::openapi))
        .route("/manage/api/accounts", get(api::accounts))
        .route(
            "/manage/api/accounts/{id}",
            get(api::account).patch(api_changes::rename),
        )
        .route(
            "/manage/api/accounts/{id}/actions",
            axum::routing::post(api_changes::act),
        )
        .route(
            "/manage/api/accounts/{id}/memberships",
            axum::routing::post(api_changes::join),
        )
        .route(
            "/manage/api/accounts/{id}/memberships/{organisation_id}",
            axum::routing::delete(api_changes::leave),
        )
        .route(
            "/manage/api/accounts/{id}/memberships/{organisation_id}/services",
            axum::routing::put(api_changes::set_services),
        )
        .route("/manage/api/organisations", get(api::organisations))
        .route("/manage/api/services", get(api::services))
        .route("/manage/api/audit", get(api::audit))
        .route("/manage/accounts", get(accounts::accounts))
        .route("/manage/accounts.csv", get(accounts::accounts_csv))
        .route("/manage/accounts/{id}", get(account::account))
        .route(
            "/manage/accounts/{id}/timeline.csv",
            get(account::timeline_csv),
        )
        .route(
            "/manage/accounts/{id}/{action}",
            get(account_actions::act_form).post(account_actions::act),
        )
        .route("/manage/audit", get(audit::check))
        .route("/manage/keys", get(keys::keys))
        .route("/manage/keys/rotate", axum::routing::post(keys::rotate))
        .route("/manage/keys/retire", axum::routing::post(keys::retire))
        .route("/manage/migration", get(migration::migration))
        .route("/manage/migration.csv", get(migration::migration_csv))
        .route(
            "/manage/migration/count",
            axum::routing::post(migration::count),
        )
        .route(
            "/manage/organisations",
            get(organisations::organisations).post(organisations::create),
        )
        .route(
            "/manage/organisations/{id}",
            get(organisations::organisation).post(organisations::update),
        )
        .route("/manage/requests", get(requests::requests))
        .route(
            "/manage/services",
            get(services::services).post(services::register),
        )
        .route(
            "/manage/services/{id}",
            get(services::service).post(services::update),
        )
        .route(
            "/manage/services/{id}/rotate-secret",
            axum::routing::post(services::rotate_secret),
        )
        .route(
            "/manage/services/{id}/roles",
            axum::routing::post(services::define_role),
        )
        .route(
            "/manage/services/{id}/roles/remove",
            axum::routing::post(services::remove_role),
        )
        .route("/manage/policy", get(policy::policy).post(policy::save))
        .route("/manage/staff", get(staff::staff))
        .route("/manage/staff/grant", axum::routing::post(staff::grant))
        .route("/manage/staff/revoke", axum::routing::post(staff::revoke))
        .route(
            "/manage/requests/{id}",
            get(requests::show).post(requests::decide),
        )
}

/// Refuses anyone whose staff roles do not give `capability`.
async fn require(
    state: &AppState,
    StaffUser(current): &StaffUser,
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
    StaffUser(current): &StaffUser,
    capability: Capability,
) -> Result<OnDuty, Error> {
    state
        .helpdesk
        .on_duty(&current.user, capability)
        .await?
        .ok_or(Error::Forbidden)
}
