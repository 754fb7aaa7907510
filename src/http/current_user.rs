//! Who is signed in, as extractors: `CurrentUser` for pages that need an account (anyone
//! else is sent to sign in and brought back), `VerifiedUser` for pages that also need
//! 2-step verification in this session (approver and staff pages), `MaybeUser` for pages
//! that only care.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::{AppState, Error};
use crate::auth::CurrentSession;
use crate::auth::mfa::Amr;
use crate::auth::session::SessionToken;

/// A signed-in person with an active account and a live session.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub CurrentSession);

/// The signed-in person, if there is one.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentSession>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar
            .get(state.cookies.session_name())
            .and_then(|c| SessionToken::from_cookie(c.value()))
        else {
            return Ok(Self(None));
        };
        match state.auth.current_session(&token).await {
            Ok(session) => Ok(Self(session)),
            Err(e) => Err(Error::from(e).into_response()),
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(session)) => Ok(Self(session)),
            MaybeUser(None) => {
                let back = super::return_to::encode(parts.uri.path());
                Err(Redirect::to(&format!("/sign-in?return_to={back}")).into_response())
            }
        }
    }
}

/// A signed-in person who proved a second factor in this session. Anyone else signed in is
/// sent to verify (or to set up 2-step verification) and brought back.
#[derive(Debug, Clone)]
pub struct VerifiedUser(pub CurrentSession);

impl FromRequestParts<AppState> for VerifiedUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let CurrentUser(session) = CurrentUser::from_request_parts(parts, state).await?;
        if Amr::from_json(&session.session.amr).is_mfa() {
            return Ok(Self(session));
        }
        let back = super::return_to::encode(parts.uri.path());
        Err(Redirect::to(&format!("/sign-in/verify?return_to={back}")).into_response())
    }
}
