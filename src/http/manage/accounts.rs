//! `/manage/accounts`: find an account by email, name or organisation, with filters, a page
//! at a time, or download the results as CSV. Both are audited.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::super::client::Client;
use super::super::forms::FormErrors;
use super::super::organisation::status_label;
use super::super::pages::Layout;
use super::super::{AppState, Error};
use super::StaffUser;
use super::on_duty;
use crate::admin::Search;
use crate::domain::UserStatus;
use crate::staff::Capability;

/// The search form as submitted (a GET, so results can be bookmarked and paged).
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    mfa: String,
    #[serde(default)]
    sort: String,
    page: Option<i64>,
}

/// The furthest page offered (100,000 accounts in); a narrower search finds the rest.
const MAX_PAGE: i64 = 2_000;

/// The longest search term taken.
const TERM_MAX: usize = 200;

impl SearchQuery {
    /// The search, or errors beside the fields that make no sense.
    fn search(&self) -> Result<Search, FormErrors> {
        let mut errors = FormErrors::default();
        if self.q.chars().count() > TERM_MAX {
            errors.add("q", "Search terms must be 200 characters or fewer");
        }
        if self.organisation.chars().count() > TERM_MAX {
            errors.add(
                "organisation",
                "Organisation must be 200 characters or fewer",
            );
        }
        let status = match self.status.as_str() {
            "" => None,
            s => match s.parse::<UserStatus>() {
                Ok(status) => Some(status),
                Err(_) => {
                    errors.add("status", "Select a status from the list");
                    None
                }
            },
        };
        let kind = match self.kind.as_str() {
            "" => None,
            k @ ("school" | "local_authority" | "other") => Some(k.to_owned()),
            _ => {
                errors.add("kind", "Select a type of organisation from the list");
                None
            }
        };
        let has_mfa = match self.mfa.as_str() {
            "" => None,
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                errors.add("mfa", "Select yes, no or either");
                None
            }
        };
        if !matches!(self.sort.as_str(), "" | "name" | "email") {
            errors.add("sort", "Sort by name or email address");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Search {
            text: self.q.clone(),
            organisation: self.organisation.clone(),
            status,
            organisation_kind: kind,
            service: (!self.service.is_empty()).then(|| self.service.clone()),
            has_mfa,
            sort_by_email: self.sort == "email",
            page: self.page.unwrap_or(1).clamp(1, MAX_PAGE) - 1,
        })
    }

    /// The query string for the same search on page `page` (1-based), or as CSV.
    fn href(&self, path: &str, page: Option<i64>) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("q", &self.q),
            ("organisation", &self.organisation),
            ("status", &self.status),
            ("kind", &self.kind),
            ("service", &self.service),
            ("mfa", &self.mfa),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                pairs.append_pair(key, value);
            }
        }
        if let Some(page) = page {
            pairs.append_pair("page", &page.to_string());
        }
        format!("{path}?{}", pairs.finish())
    }
}

/// One account in the results.
struct Row {
    id: String,
    name: String,
    email: String,
    status: &'static str,
    organisations: String,
}

/// A select on the form.
struct Select {
    id: &'static str,
    label: &'static str,
    options: Vec<Choice>,
}

/// A choice in a select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(current: &str, options: &[(&str, &str)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            selected: *value == current,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "manage/accounts.html")]
struct AccountsPage {
    layout: Layout,
    form: FormErrors,
    q: String,
    organisation: String,
    selects: Vec<Select>,
    searched: bool,
    rows: Vec<Row>,
    matched_organisations: Vec<String>,
    organisation_term: bool,
    page: i64,
    previous: Option<String>,
    next: Option<String>,
    csv: String,
}

pub async fn accounts(
    State(state): State<AppState>,
    verified: StaffUser,
    Client(ctx): Client,
    Query(query): Query<SearchQuery>,
) -> Result<Response, Error> {
    let on_duty = on_duty(&state, &verified, Capability::FindAccounts).await?;
    let mut services = vec![("".to_owned(), "Any service".to_owned())];
    services.extend(
        state
            .store
            .list_clients()
            .await?
            .into_iter()
            .map(|c| (c.id, c.name)),
    );
    let service_options: Vec<(&str, &str)> = services
        .iter()
        .map(|(v, l)| (v.as_str(), l.as_str()))
        .collect();
    let mut page = AccountsPage {
        layout: Layout::default(),
        form: FormErrors::default(),
        q: query.q.clone(),
        organisation: query.organisation.clone(),
        selects: vec![
            Select {
                id: "status",
                label: "Account status",
                options: choices(
                    &query.status,
                    &[
                        ("", "Any status"),
                        ("active", "Active"),
                        ("invited", "Invited"),
                        ("locked", "Locked"),
                        ("deactivated", "Deactivated"),
                    ],
                ),
            },
            Select {
                id: "kind",
                label: "Type of organisation",
                options: choices(
                    &query.kind,
                    &[
                        ("", "Any type"),
                        ("school", "School"),
                        ("local_authority", "Local authority"),
                        ("other", "Other"),
                    ],
                ),
            },
            Select {
                id: "service",
                label: "Service",
                options: choices(&query.service, &service_options),
            },
            Select {
                id: "mfa",
                label: "Uses 2-step verification",
                options: choices(&query.mfa, &[("", "Either"), ("yes", "Yes"), ("no", "No")]),
            },
            Select {
                id: "sort",
                label: "Sort by",
                options: choices(&query.sort, &[("name", "Name"), ("email", "Email address")]),
            },
        ],
        searched: false,
        rows: Vec::new(),
        matched_organisations: Vec::new(),
        organisation_term: !query.organisation.trim().is_empty(),
        page: 1,
        previous: None,
        next: None,
        csv: query.href("/manage/accounts.csv", None),
    };
    let search = match query.search() {
        Ok(search) => search,
        Err(errors) => {
            page.form = errors;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
        }
    };
    if search.is_empty() {
        return Ok(Html(page.render()?).into_response());
    }
    let found = state.helpdesk.search(&on_duty, &search, &ctx).await?;
    let number = search.page + 1;
    page.searched = true;
    page.page = number;
    page.previous = (number > 1).then(|| query.href("/manage/accounts", Some(number - 1)));
    page.next = found
        .more
        .then(|| query.href("/manage/accounts", Some(number + 1)));
    page.matched_organisations = found.organisations;
    page.rows = found
        .accounts
        .into_iter()
        .map(|f| Row {
            name: format!("{} {}", f.account.given_name, f.account.family_name),
            status: status_label(&f.account.status),
            organisations: f.organisations.join(", "),
            email: f.account.email,
            id: f.account.id,
        })
        .collect();
    Ok(Html(page.render()?).into_response())
}

pub async fn accounts_csv(
    State(state): State<AppState>,
    verified: StaffUser,
    Client(ctx): Client,
    Query(query): Query<SearchQuery>,
) -> Result<Response, Error> {
    let on_duty = on_duty(&state, &verified, Capability::FindAccounts).await?;
    let Ok(search) = query.search() else {
        return Ok((
            StatusCode::BAD_REQUEST,
            "The search has a value that is not in its list; search again from the page.",
        )
            .into_response());
    };
    let csv = state.helpdesk.export(&on_duty, &search, &ctx).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"gatehouse-accounts.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}
