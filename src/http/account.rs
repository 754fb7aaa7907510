//! `/account`: a signed-in person's own details, password and sessions.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use chrono::DateTime;
use serde::Deserialize;

use super::client::Client;
use super::current_user::CurrentUser;
use super::forms::FormErrors;
use super::pages::Layout;
use super::{AppState, Error, csrf};
use crate::auth::ChangePasswordError;
use crate::auth::password::{InputError, Password};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(overview))
        .route(
            "/account/password",
            get(password_form).post(change_password),
        )
        .route("/account/sessions/sign-out-others", post(sign_out_others))
}

/// One row of "Where you're signed in".
#[derive(Debug)]
struct SessionView {
    device: String,
    ip: String,
    last_active: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account/overview.html")]
struct OverviewPage {
    layout: Layout,
    notice: Option<&'static str>,
    name: String,
    email: String,
    /// An address waiting for its code.
    pending_email: Option<String>,
    sessions: Vec<SessionView>,
    services: Vec<ServiceView>,
    has_mfa: bool,
    /// "Name (approver)" for each organisation the person belongs to.
    organisations: Vec<String>,
    /// Whether to link to the approver pages.
    is_approver: bool,
    /// Whether to link to the staff pages.
    is_staff: bool,
    /// Whether to link to the audit trail check.
    is_auditor: bool,
    is_admin: bool,
    csrf_token: String,
}

/// One row of "Services you have allowed".
#[derive(Debug)]
struct ServiceView {
    client_id: String,
    name: String,
    data: String,
    since: String,
}

#[derive(Debug, Deserialize)]
struct OverviewQuery {
    notice: Option<String>,
}

async fn overview(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    jar: CookieJar,
    Query(query): Query<OverviewQuery>,
) -> Result<Response, Error> {
    let sessions = state.auth.sessions_of(&current).await?;
    let services = state
        .oidc
        .consents_of(&current.user.user_id())
        .await?
        .into_iter()
        .map(|c| ServiceView {
            data: super::oidc::describe_scopes(&c.scopes),
            since: format_time(c.granted_at),
            client_id: c.client_id,
            name: c.name,
        })
        .collect();
    let pending_email = state
        .lifecycle
        .pending_email_change(&current.user.user_id())
        .await
        .map_err(super::links::flow_error)?
        .map(|p| p.new_email);
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let notice = match query.notice.as_deref() {
        Some("password-changed") => {
            Some("Your password has been changed. You have been signed out everywhere else.")
        }
        Some("sessions-ended") => Some("You have been signed out of all other sessions."),
        Some("service-removed") => Some("The service can no longer see your details."),
        Some("activated") => Some("Your account is ready. You are signed in."),
        Some("email-changed") => Some("Your email address has been changed."),
        Some("email-change-cancelled") => Some("The change of email address has been cancelled."),
        Some("request-sent") => {
            Some("Your request has been sent. You will get an email when it has been answered.")
        }
        _ => None,
    };
    let page = OverviewPage {
        layout: Layout::default(),
        notice,
        name: format!("{} {}", current.user.given_name, current.user.family_name),
        email: current.user.email.clone(),
        pending_email,
        sessions: sessions
            .iter()
            .map(|s| SessionView {
                device: describe_device(s.user_agent.as_deref()),
                ip: s.ip.clone().unwrap_or_else(|| "Unknown".to_owned()),
                last_active: format_time(s.last_seen_at),
                current: s.id_hash == current.id_hash,
            })
            .collect(),
        services,
        has_mfa: state.auth.factors(&current.user.id).await?.has_mfa(),
        is_approver: state.store.is_approver(&current.user.id).await?,
        is_staff: state
            .staff
            .can(&current.user.id, crate::staff::Capability::ViewMigration)
            .await?,
        is_auditor: state
            .staff
            .can(&current.user.id, crate::staff::Capability::CheckAuditTrail)
            .await?,
        is_admin: state
            .staff
            .can(&current.user.id, crate::staff::Capability::ManageStaff)
            .await?,
        organisations: organisations_of(&state, &current.user.id).await?,
        csrf_token,
    };
    Ok((jar, Html(page.render()?)).into_response())
}

/// The organisations someone belongs to, as the account page lists them.
async fn organisations_of(state: &AppState, user_id: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for m in state.store.memberships_of(user_id).await? {
        if let Some(org) = state.store.organisation_by_id(&m.organisation_id).await? {
            out.push(if m.level == "approver" {
                format!("{} (approver)", org.name)
            } else {
                org.name
            });
        }
    }
    Ok(out)
}

/// One password field on the change form.
#[derive(Debug)]
struct PasswordField {
    id: &'static str,
    label: &'static str,
    autocomplete: &'static str,
}

const FIELDS: [PasswordField; 3] = [
    PasswordField {
        id: "current_password",
        label: "Current password",
        autocomplete: "current-password",
    },
    PasswordField {
        id: "new_password",
        label: "New password",
        autocomplete: "new-password",
    },
    PasswordField {
        id: "confirm_password",
        label: "Confirm new password",
        autocomplete: "new-password",
    },
];

#[derive(Template)]
#[template(path = "account/change_password.html")]
struct ChangePasswordPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    fields: &'static [PasswordField],
    min_length: usize,
}

async fn password_form(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    jar: CookieJar,
) -> Result<Response, Error> {
    password_page(&state, &current, jar, FormErrors::default(), StatusCode::OK).await
}

async fn password_page(
    state: &AppState,
    current: &crate::auth::CurrentSession,
    jar: CookieJar,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let has_mfa = state.auth.factors(&current.user.id).await?.has_mfa();
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ChangePasswordPage {
        layout: Layout::default(),
        form,
        csrf_token,
        fields: &FIELDS,
        min_length: state.auth.policies().current().await?.password_min(has_mfa),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
struct ChangePasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<ChangePasswordForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    let mut errors = FormErrors::default();
    let old = Password::from_input(&form.current_password).map_err(|e| match e {
        InputError::Empty => errors.add("current_password", "Enter your current password"),
        other => errors.add("current_password", other.to_string()),
    });
    let new = Password::from_input(&form.new_password).map_err(|e| match e {
        InputError::Empty => errors.add("new_password", "Enter a new password"),
        other => errors.add("new_password", other.to_string()),
    });
    if form.confirm_password.is_empty() {
        errors.add("confirm_password", "Confirm your new password");
    } else if form.confirm_password != form.new_password {
        errors.add(
            "confirm_password",
            "Enter the same password in both new password fields",
        );
    }
    let (Ok(old), Ok(new), true) = (old, new, errors.is_empty()) else {
        return password_page(
            &state,
            &current,
            jar,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match state.auth.change_password(&current, &old, &new, &ctx).await {
        Ok(_) => Ok(Redirect::to("/account?notice=password-changed").into_response()),
        Err(ChangePasswordError::WrongCurrent) => {
            errors.add("current_password", "Your current password is not right");
            password_page(
                &state,
                &current,
                jar,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(ChangePasswordError::Policy(why)) => {
            errors.add("new_password", why.to_string());
            password_page(
                &state,
                &current,
                jar,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(ChangePasswordError::Auth(e)) => Err(e.into()),
    }
}

async fn sign_out_others(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
    Client(ctx): Client,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<csrf::TokenOnly>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(super::error::forbidden());
    }
    state.auth.sign_out_others(&current, &ctx).await?;
    Ok(Redirect::to("/account?notice=sessions-ended").into_response())
}

/// "Firefox on Windows", from a user agent string, as well as can be told.
fn describe_device(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "An unknown browser".to_owned(),
    }
}

/// GOV.UK style: "26 November 2026 at 7:45pm (UTC)".
/// A time as people in England read it: UK clock time (GMT or BST), GOV.UK style.
pub(super) fn format_time(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis).map_or_else(
        || "Unknown".to_owned(),
        |t| {
            let t = t.with_timezone(&chrono_tz::Europe::London);
            let time = t.format("%-I:%M%P").to_string();
            format!("{} at {time}", t.format("%-d %B %Y"))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_described_in_plain_words() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(describe_device(Some(chrome)), "Chrome on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_device(Some(safari)), "Safari on iPhone");
        assert_eq!(describe_device(None), "An unknown browser");
    }

    #[test]
    fn times_read_like_gov_uk_in_uk_time() {
        // 08:30 UTC is 9:30am in British Summer Time, and 8:30am in winter (GMT).
        assert_eq!(format_time(1_788_251_400_000), "1 September 2026 at 9:30am");
        assert_eq!(format_time(1_796_113_800_000), "1 December 2026 at 8:30am");
    }
}
