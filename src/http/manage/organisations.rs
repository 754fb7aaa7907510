//! `/manage/organisations`: administrators find an organisation, add one by hand (one GIAS
//! does not list) and correct one — through the same use cases as `gatehouse org`, audited
//! with the admin as actor.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::super::client::Client as Caller;
use super::super::forms::FormErrors;
use super::super::pages::Layout;
use super::super::{AppState, Error, csrf};
use super::{StaffUser, require};
use crate::audit::Actor;
use crate::directory::{DirectoryError, NewOrganisation, OrgKind, OrgStatus, OrganisationChanges};
use crate::staff::Capability;
use crate::store::OrganisationRow;

#[derive(Debug, Default, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    urn: String,
    #[serde(default)]
    ukprn: String,
    #[serde(default)]
    la_code: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    town: String,
    #[serde(default)]
    postcode: String,
}

impl OrgForm {
    fn from_row(o: &OrganisationRow) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            kind: o.kind.clone(),
            name: o.name.clone(),
            urn: text(&o.urn),
            ukprn: text(&o.ukprn),
            la_code: text(&o.la_code),
            status: o.status.clone(),
            town: text(&o.town),
            postcode: text(&o.postcode),
            ..Self::default()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "manage/organisations.html")]
struct ListPage {
    layout: Layout,
    form: FormErrors,
    csrf_token: String,
    q: String,
    found: Vec<(String, String)>,
    input: OrgForm,
}

#[derive(Template)]
#[template(path = "manage/organisation.html")]
struct OrgPage {
    layout: Layout,
    form: FormErrors,
    notice: Option<&'static str>,
    csrf_token: String,
    id: String,
    from_gias: bool,
    input: OrgForm,
}

async fn render_list(
    state: &AppState,
    jar: CookieJar,
    q: String,
    input: OrgForm,
    form: FormErrors,
    status: StatusCode,
) -> Result<Response, Error> {
    let found = if q.trim().is_empty() {
        Vec::new()
    } else {
        state.store.organisations_named(&q, 50).await?
    };
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = ListPage {
        layout: Layout::default(),
        form,
        csrf_token,
        q,
        found,
        input,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

pub async fn organisations(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
    Query(query): Query<ListQuery>,
) -> Result<Response, Error> {
    require(&state, &staff, Capability::ManageOrganisations).await?;
    let input = OrgForm {
        kind: "other".to_owned(),
        ..OrgForm::default()
    };
    let q = query.q.chars().take(200).collect();
    render_list(&state, jar, q, input, FormErrors::default(), StatusCode::OK).await
}

/// A refused change as an error beside its field.
fn beside(e: DirectoryError) -> Result<FormErrors, Error> {
    match e {
        DirectoryError::Field(field, why) => {
            let mut errors = FormErrors::default();
            errors.add(field, why);
            Ok(errors)
        }
        other => Err(other.into()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Form(input): Form<OrgForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageOrganisations).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let Some(kind) = OrgKind::parse(&input.kind) else {
        let mut errors = FormErrors::default();
        errors.add("kind", "Select the type of organisation");
        return render_list(&state, jar, String::new(), input, errors, status).await;
    };
    let new = NewOrganisation {
        kind,
        name: input.name.clone(),
        urn: Some(input.urn.clone()),
        ukprn: Some(input.ukprn.clone()),
        la_code: Some(input.la_code.clone()),
        status: OrgStatus::Open,
        town: Some(input.town.clone()),
        postcode: Some(input.postcode.clone()),
    };
    let actor = Actor::User(staff.0.user.user_id());
    match state.directory.create_organisation(new, actor, &ctx).await {
        Ok(org) => {
            let to = format!("/manage/organisations/{}?notice=created", org.id);
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => {
            let errors = beside(e)?;
            render_list(&state, jar, String::new(), input, errors, status).await
        }
    }
}

async fn render_org(
    state: &AppState,
    jar: CookieJar,
    org: &OrganisationRow,
    input: OrgForm,
    form: FormErrors,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, Error> {
    let (csrf_token, jar) = csrf::token_for_page(jar, state.cookies)?;
    let page = OrgPage {
        layout: Layout::default(),
        form,
        notice,
        csrf_token,
        id: org.id.clone(),
        from_gias: org.source == "gias",
        input,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

async fn find(state: &AppState, id: &str) -> Result<OrganisationRow, Error> {
    state
        .store
        .organisation_by_id(id)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn organisation(
    State(state): State<AppState>,
    staff: StaffUser,
    jar: CookieJar,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, Error> {
    require(&state, &staff, Capability::ManageOrganisations).await?;
    let org = find(&state, &id).await?;
    let notice = match query.notice.as_deref() {
        Some("created") => Some("The organisation was added."),
        Some("saved") => Some("The changes were saved."),
        _ => None,
    };
    let input = OrgForm::from_row(&org);
    render_org(
        &state,
        jar,
        &org,
        input,
        FormErrors::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    staff: StaffUser,
    Caller(ctx): Caller,
    jar: CookieJar,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<OrgForm>,
) -> Result<Response, Error> {
    if !csrf::is_valid(&jar, state.cookies, &input.csrf_token, &headers) {
        return Ok(super::super::error::forbidden());
    }
    require(&state, &staff, Capability::ManageOrganisations).await?;
    let org = find(&state, &id).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let Some(org_status) = OrgStatus::parse(&input.status) else {
        let mut errors = FormErrors::default();
        errors.add("status", "Select a status");
        return render_org(&state, jar, &org, input, errors, None, status).await;
    };
    let changes = OrganisationChanges {
        name: Some(input.name.clone()),
        status: Some(org_status),
        ukprn: Some(input.ukprn.clone()),
        la_code: Some(input.la_code.clone()),
        town: Some(input.town.clone()),
        postcode: Some(input.postcode.clone()),
    };
    let actor = Actor::User(staff.0.user.user_id());
    match state
        .directory
        .update_organisation(&id, changes, actor, &ctx)
        .await
    {
        Ok(_) => {
            let to = format!("/manage/organisations/{id}?notice=saved");
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => {
            let errors = beside(e)?;
            render_org(&state, jar, &org, input, errors, None, status).await
        }
    }
}
