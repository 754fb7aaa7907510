//! "Find an account": what staff type (the start of an email address or a name, and an
//! organisation by name, URN, UKPRN or LA code) and the filters they choose, turned into one
//! indexed query, a page at a time or as a CSV file. Every search and export is audited.

use std::collections::HashMap;

use crate::audit::{Action, RequestContext, clean};
use crate::directory::spreadsheet_safe;
use crate::domain::UserStatus;
use crate::store::{AccountHit, AccountQuery, AccountSort, StoreError};

use super::{Helpdesk, OnDuty, by_staff};

/// Accounts on one page of results.
pub const PAGE_SIZE: i64 = 50;
/// The most rows one CSV export holds.
pub const EXPORT_LIMIT: i64 = 10_000;
/// The most organisations one organisation term may stand for.
const ORGANISATIONS_PER_TERM: i64 = 50;

/// A search as staff asked for it.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// The start of an email address (it has an `@`), or of a name ("Sam", "sam pat").
    pub text: String,
    /// An organisation's URN, UKPRN or LA code, or the start of its name.
    pub organisation: String,
    pub status: Option<UserStatus>,
    /// `school`, `local_authority` or `other`.
    pub organisation_kind: Option<String>,
    /// A service's client id.
    pub service: Option<String>,
    pub has_mfa: Option<bool>,
    pub sort_by_email: bool,
    /// From 0.
    pub page: i64,
}

/// One account found, with the organisations it belongs to.
#[derive(Debug, Clone)]
pub struct FoundAccount {
    pub account: AccountHit,
    pub organisations: Vec<String>,
}

/// A page of results.
#[derive(Debug, Clone)]
pub struct Found {
    pub accounts: Vec<FoundAccount>,
    /// Whether another page follows.
    pub more: bool,
    /// The organisations the organisation term matched, by name.
    pub organisations: Vec<String>,
}

impl Search {
    /// Whether anything was asked for at all.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.organisation.trim().is_empty()
            && self.status.is_none()
            && self.organisation_kind.is_none()
            && self.service.is_none()
            && self.has_mfa.is_none()
    }

    fn query(&self) -> AccountQuery {
        let text = self.text.trim();
        let mut query = AccountQuery {
            status: self.status.map(|s| s.as_str().to_owned()),
            organisation_kind: self.organisation_kind.clone(),
            client_id: self.service.clone(),
            has_mfa: self.has_mfa,
            sort: Some(match self.sort_by_email {
                true => AccountSort::Email,
                false => AccountSort::Name,
            }),
            ..AccountQuery::default()
        };
        if text.contains('@') {
            query.email_prefix = Some(text.to_lowercase());
        } else {
            let words: Vec<&str> = text.split_whitespace().collect();
            query.name_words = match words.as_slice() {
                [] => Vec::new(),
                [one] => vec![(*one).to_owned()],
                [first, .., last] => vec![(*first).to_owned(), (*last).to_owned()],
            };
        }
        query
    }

    /// What the audit trail keeps of the search: the terms (cut short) and filters.
    fn for_audit(&self) -> serde_json::Value {
        serde_json::json!({
            "text": clean(self.text.trim(), 200),
            "organisation": clean(self.organisation.trim(), 200),
            "status": self.status.map(|s| s.as_str()),
            "organisation_kind": self.organisation_kind,
            "service": self.service.as_deref().map(|s| clean(s, 200)),
            "has_mfa": self.has_mfa,
            "page": self.page,
        })
    }
}

impl Helpdesk {
    /// One page of accounts for `search`; audited as a search.
    pub async fn search(
        &self,
        on_duty: &OnDuty,
        search: &Search,
        ctx: &RequestContext,
    ) -> Result<Found, StoreError> {
        let (query, organisations) = self.resolve(search).await?;
        let offset = search.page.max(0) * PAGE_SIZE;
        let mut hits = self
            .store
            .search_accounts(&query, PAGE_SIZE + 1, offset)
            .await?;
        let more = hits.len() as i64 > PAGE_SIZE;
        hits.truncate(PAGE_SIZE as usize);
        let accounts = self.with_organisations(hits).await?;
        let mut details = search.for_audit();
        details["shown"] = accounts.len().into();
        let event = by_staff(on_duty, Action::AccountsSearched, ctx).details(details);
        self.audit_read(event).await?;
        Ok(Found {
            accounts,
            more,
            organisations,
        })
    }

    /// Every account `search` finds (up to [`EXPORT_LIMIT`]) as CSV, cells safe to open in a
    /// spreadsheet; audited as an export.
    pub async fn export(
        &self,
        on_duty: &OnDuty,
        search: &Search,
        ctx: &RequestContext,
    ) -> Result<Vec<u8>, StoreError> {
        let (query, _) = self.resolve(search).await?;
        let hits = self.store.search_accounts(&query, EXPORT_LIMIT, 0).await?;
        let accounts = self.with_organisations(hits).await?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let header = [
            "id",
            "email",
            "given_name",
            "family_name",
            "status",
            "organisations",
            "last_sign_in",
        ];
        let write = |out: &mut csv::Writer<Vec<u8>>, row: [String; 7]| {
            out.write_record(row)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        write(&mut out, header.map(str::to_owned))?;
        for found in &accounts {
            let a = &found.account;
            let last = a
                .last_sign_in_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            write(
                &mut out,
                [
                    a.id.clone(),
                    spreadsheet_safe(&a.email),
                    spreadsheet_safe(&a.given_name),
                    spreadsheet_safe(&a.family_name),
                    a.status.clone(),
                    spreadsheet_safe(&found.organisations.join("; ")),
                    last,
                ],
            )?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut details = search.for_audit();
        details["rows"] = accounts.len().into();
        let event = by_staff(on_duty, Action::AccountsExported, ctx).details(details);
        self.audit_read(event).await?;
        Ok(bytes)
    }

    /// The query for `search`, with its organisation term resolved to organisations.
    async fn resolve(&self, search: &Search) -> Result<(AccountQuery, Vec<String>), StoreError> {
        let mut query = search.query();
        let term = search.organisation.trim();
        let mut names = Vec::new();
        if !term.is_empty() {
            let found = self
                .store
                .organisations_named(term, ORGANISATIONS_PER_TERM)
                .await?;
            query.organisation_ids = Some(found.iter().map(|(id, _)| id.clone()).collect());
            names = found.into_iter().map(|(_, name)| name).collect();
        }
        Ok((query, names))
    }

    async fn with_organisations(
        &self,
        hits: Vec<AccountHit>,
    ) -> Result<Vec<FoundAccount>, StoreError> {
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
        for (user, name) in self.store.organisation_names_of(&ids).await? {
            by_user.entry(user).or_default().push(name);
        }
        Ok(hits
            .into_iter()
            .map(|account| FoundAccount {
                organisations: by_user.remove(&account.id).unwrap_or_default(),
                account,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_at_sign_searches_emails_and_words_search_names() {
        let search = |text: &str| Search {
            text: text.to_owned(),
            ..Search::default()
        };
        let q = search(" Sam.Patel@School ").query();
        assert_eq!(q.email_prefix.as_deref(), Some("sam.patel@school"));
        assert!(q.name_words.is_empty());
        let q = search("sam  van der patel").query();
        assert_eq!(q.name_words, ["sam", "patel"]);
        assert!(search("  ").is_empty());
    }
}
