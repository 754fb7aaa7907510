//! Choosing the organisation to act for (scope `organisation`), and the page for someone
//! with no access to the service anywhere: it names their approvers instead of a token.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::authorize::{expired, resume_path};
use crate::auth::CurrentSession;
use crate::http::current_user::MaybeUser;
use crate::http::forms::FormErrors;
use crate::http::pages::Layout;
use crate::http::{AppState, Error, csrf, error, return_to};
use crate::oidc::Client;
use crate::store::OrganisationRow;

pub fn router() -> Router<AppState> {
    Router::new().route("/authorize/organisation", post(choose))
}

/// One organisation to choose.
#[derive(Debug)]
struct Choice {
    id: String,
    name: String,
    hint: String,
}

#[derive(Template)]
#[template(path = "oidc/choose_organisation.html")]
struct ChoosePage<'a> {
    layout: Layout,
    form: FormErrors,
    service: &'a str,
    choices: Vec<Choice>,
    csrf_token: String,
    request_id: &'a str,
}

fn hint(org: &OrganisationRow) -> String {
    let kind = match org.kind.as_str() {
        "school" => "School",
        "local_authority" => "Local authority",
        _ => "Organisation",
    };
    match (&org.urn, &org.la_code) {
        (Some(urn), _) => format!("{kind}, URN {urn}"),
        (None, Some(code)) => format!("{kind}, LA code {code}"),
        _ => kind.to_owned(),
    }
}

pub fn choose_page(
    state: &AppState,
    jar: CookieJar,
    request_id: &str,
    client: &Client,
    orgs: &[OrganisationRow],
    form: FormErrors,
) -> Result<Response, Error> {
    let status = if form.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ChoosePage {
        layout: Layout::default(),
        form,
        service: &client.name,
        choices: orgs
            .iter()
            .map(|o| Choice {
                id: o.id.clone(),
                name: o.name.clone(),
                hint: hint(o),
            })
            .collect(),
        csrf_token,
        request_id,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Chosen {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    request: String,
    #[serde(default)]
    organisation: String,
}

async fn choose(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<Chosen>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &form.csrf_token, &headers) {
        return Ok(error::forbidden());
    }
    let Some((client, request, _)) = state.oidc.pending(&form.request).await? else {
        return Ok(expired());
    };
    let Some(session) = session else {
        let back = return_to::encode(&resume_path(&form.request));
        return Ok(Redirect::to(&format!("/sign-in?return_to={back}")).into_response());
    };
    if state
        .oidc
        .choose_organisation(
            &form.request,
            &client,
            &request,
            &session.user.id,
            &form.organisation,
        )
        .await?
    {
        return Ok(Redirect::to(&resume_path(&form.request)).into_response());
    }
    let orgs = state
        .store
        .access_organisations(&session.user.id, &client.id)
        .await?;
    let mut errors = FormErrors::default();
    errors.add(
        "organisation",
        "Select the organisation you are signing in for",
    );
    choose_page(&state, jar, &form.request, &client, &orgs, errors)
}

/// An organisation the person belongs to, and who can give them access there.
#[derive(Debug)]
struct Approvers {
    organisation: String,
    /// Where to ask for the service at this organisation.
    request_link: String,
    people: Vec<String>,
}

#[derive(Template)]
#[template(path = "oidc/no_access.html")]
struct NoAccessPage<'a> {
    layout: Layout,
    service: &'a str,
    /// Where to ask for the service at another organisation.
    request_link: String,
    memberships: Vec<Approvers>,
}

/// The person may not use this service anywhere: say who can change that. No token.
pub async fn no_access(
    state: &AppState,
    client: &Client,
    session: &CurrentSession,
) -> Result<Response, Error> {
    let mut memberships = Vec::new();
    for m in state.store.memberships_of(&session.user.id).await? {
        let Some(org) = state.store.organisation_by_id(&m.organisation_id).await? else {
            continue;
        };
        let mut people = Vec::new();
        for id in state.store.approvers(&org.id).await? {
            if let Some(u) = state
                .store
                .user_by_id(&crate::domain::UserId::from_stored(id))
                .await?
            {
                people.push(format!("{} {} ({})", u.given_name, u.family_name, u.email));
            }
        }
        memberships.push(Approvers {
            request_link: request_link(Some(&org.id), &client.id),
            organisation: org.name,
            people,
        });
    }
    let page = NoAccessPage {
        layout: Layout::default(),
        service: &client.name,
        request_link: request_link(None, &client.id),
        memberships,
    };
    Ok((StatusCode::FORBIDDEN, Html(page.render()?)).into_response())
}

/// The request-access page for `client_id`, at `organisation` if given.
fn request_link(organisation: Option<&str>, client_id: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(id) = organisation {
        query.append_pair("organisation", id);
    }
    query.append_pair("client_id", client_id);
    format!("/account/request-access?{}", query.finish())
}
