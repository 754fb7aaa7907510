//! Finding accounts for the helpdesk among a million: prefix range scans on indexed columns
//! (email, each part of the name), organisations resolved first, filters as `EXISTS`
//! sub-queries, every value bound, one page at a time.

use super::{Engine, Store, StoreError, on_pool};

/// Sorts the helpdesk may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSort {
    Name,
    Email,
}

/// What to look for. Text terms are matched as prefixes, case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct AccountQuery {
    /// The start of an email address, lower-cased.
    pub email_prefix: Option<String>,
    /// One word: the start of the given or the family name. Two: the start of each, in
    /// either order.
    pub name_words: Vec<String>,
    /// Only members of these organisations (already resolved from a name, URN, UKPRN or
    /// LA code). `Some(empty)` finds nobody.
    pub organisation_ids: Option<Vec<String>>,
    pub status: Option<String>,
    pub organisation_kind: Option<String>,
    pub client_id: Option<String>,
    pub has_mfa: Option<bool>,
    pub sort: Option<AccountSort>,
}

/// One account in the results.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountHit {
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub status: String,
    pub last_sign_in_at: Option<i64>,
}

/// From this many first names matching one word, walking the name index in order beats
/// sorting the matches (SQLite): they are spread through it, so a walk meets a page early.
const FEW: i64 = 10_000;

/// Sorts after every string that starts with the prefix it follows.
const AFTER_PREFIX: &str = "\u{10FFFF}";

/// Expressions for one engine: byte-wise comparison, so ranges mean "starts with" and match
/// the indexes in migration 0012.
struct Columns {
    email: &'static str,
    family: &'static str,
    given: &'static str,
}

fn columns(engine: Engine) -> Columns {
    match engine {
        Engine::Sqlite => Columns {
            email: "u.email_normalised",
            family: "lower(u.family_name)",
            given: "lower(u.given_name)",
        },
        Engine::Postgres => Columns {
            email: "(u.email_normalised COLLATE \"C\")",
            family: "(lower(u.family_name) COLLATE \"C\")",
            given: "(lower(u.given_name) COLLATE \"C\")",
        },
    }
}

/// How a search runs. PostgreSQL's planner weighs the choices itself (always `Plain`);
/// SQLite's does not, so for one word a capped count of first names (index only) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// As written: no text to match, or an email prefix listed in email order (one index
    /// gives both the range and the order).
    Plain,
    /// Few text matches: find them by their index and sort them (an expression as the sort
    /// key keeps SQLite off the sort's index, which it would otherwise walk from the start).
    SortMatches,
    /// Many (a common first name): walk the sort's index in order and test each account;
    /// enough match early. A unary `+` keeps SQLite off the text indexes.
    Walk,
}

/// The text columns, unusable as indexes, for [`Plan::Walk`] on SQLite.
const WALK_SQLITE: Columns = Columns {
    email: "+u.email_normalised",
    family: "+lower(u.family_name)",
    given: "+lower(u.given_name)",
};

/// Appends `column` starts with `prefix` as an index-friendly range. The prefix is lowered
/// by the database, as the indexed column is.
macro_rules! push_prefix {
    ($q:expr, $column:expr, $prefix:expr, $lower:expr) => {{
        let (open, close) = if $lower { ("lower(", ")") } else { ("", "") };
        $q.push(format!("({} >= {open}", $column));
        $q.push_bind($prefix.to_owned());
        $q.push(format!("{close} AND {} < ({open}", $column));
        $q.push_bind($prefix.to_owned());
        $q.push(format!("{close} || "));
        $q.push_bind(AFTER_PREFIX);
        $q.push("))");
    }};
}

/// Appends the WHERE clause for `query`.
macro_rules! push_filters {
    ($q:expr, $cols:expr, $query:expr) => {{
        let query: &AccountQuery = $query;
        $q.push(" WHERE 1 = 1");
        if let Some(prefix) = &query.email_prefix {
            $q.push(" AND ");
            push_prefix!($q, $cols.email, prefix, false);
        }
        match query.name_words.as_slice() {
            [] => {}
            [word] => {
                $q.push(" AND (");
                push_prefix!($q, $cols.family, word, true);
                $q.push(" OR ");
                push_prefix!($q, $cols.given, word, true);
                $q.push(")");
            }
            [first, .., last] => {
                $q.push(" AND ((");
                push_prefix!($q, $cols.given, first, true);
                $q.push(" AND ");
                push_prefix!($q, $cols.family, last, true);
                $q.push(") OR (");
                push_prefix!($q, $cols.family, first, true);
                $q.push(" AND ");
                push_prefix!($q, $cols.given, last, true);
                $q.push("))");
            }
        }
        if let Some(ids) = &query.organisation_ids {
            if ids.is_empty() {
                $q.push(" AND 1 = 0");
            } else {
                $q.push(
                    " AND u.id IN (SELECT m.user_id FROM memberships m \
                     WHERE m.organisation_id IN (",
                );
                let mut list = $q.separated(", ");
                for id in ids {
                    list.push_bind(id.clone());
                }
                $q.push("))");
            }
        }
        if let Some(status) = &query.status {
            $q.push(" AND u.status = ");
            $q.push_bind(status.clone());
        }
        if let Some(kind) = &query.organisation_kind {
            $q.push(
                " AND EXISTS (SELECT 1 FROM memberships m JOIN organisations o \
                 ON o.id = m.organisation_id WHERE m.user_id = u.id AND o.kind = ",
            );
            $q.push_bind(kind.clone());
            $q.push(")");
        }
        if let Some(client) = &query.client_id {
            $q.push(
                " AND EXISTS (SELECT 1 FROM service_access a \
                 WHERE a.user_id = u.id AND a.client_id = ",
            );
            $q.push_bind(client.clone());
            $q.push(")");
        }
        if let Some(has) = query.has_mfa {
            $q.push(if has { " AND (" } else { " AND NOT (" });
            $q.push(
                "EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = u.id \
                 AND t.confirmed_at IS NOT NULL AND t.disabled_at IS NULL) \
                 OR EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.user_id = u.id))",
            );
        }
    }};
}

impl Store {
    /// One page of accounts matching `query`: up to `limit` rows from `offset`.
    pub async fn search_accounts(
        &self,
        query: &AccountQuery,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AccountHit>, StoreError> {
        let sort = query.sort.unwrap_or(AccountSort::Name);
        let plan = self.plan(query, sort).await?;
        let cols = match plan {
            Plan::Walk => WALK_SQLITE,
            Plan::Plain | Plan::SortMatches => columns(self.engine()),
        };
        let order = match (sort, plan) {
            (AccountSort::Name, Plan::SortMatches) => {
                " ORDER BY u.family_name || '', u.given_name || '', u.id || ''"
            }
            (AccountSort::Name, _) => " ORDER BY u.family_name, u.given_name, u.id",
            (AccountSort::Email, Plan::SortMatches) => " ORDER BY u.email_normalised || ''",
            (AccountSort::Email, _) => " ORDER BY u.email_normalised",
        };
        Ok(on_pool!(self, read, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT u.id, u.email, u.given_name, u.family_name, u.status, \
                 u.last_sign_in_at FROM users u",
            );
            push_filters!(q, cols, query);
            q.push(order);
            q.push(" LIMIT ");
            q.push_bind(limit);
            q.push(" OFFSET ");
            q.push_bind(offset);
            q.build_query_as::<AccountHit>().fetch_all(pool).await?
        }))
    }

    /// How to run `query` on this engine (see [`Plan`]).
    async fn plan(&self, query: &AccountQuery, sort: AccountSort) -> Result<Plan, StoreError> {
        let text = query.email_prefix.is_some() || !query.name_words.is_empty();
        let email_in_order = sort == AccountSort::Email && query.name_words.is_empty();
        if self.engine() == Engine::Postgres || !text || email_in_order {
            return Ok(Plan::Plain);
        }
        // Only a first name common enough is spread through the name index; a surname's
        // matches sit together, so they are found by their own index and sorted.
        let [word] = query.name_words.as_slice() else {
            return Ok(Plan::SortMatches);
        };
        if query.email_prefix.is_some() || sort == AccountSort::Email {
            return Ok(Plan::SortMatches);
        }
        Ok(if self.count_given_names(word, FEW).await? >= FEW {
            Plan::Walk
        } else {
            Plan::SortMatches
        })
    }

    /// How many first names start with `prefix`, counting no further than `cap` (SQLite;
    /// read from the index alone).
    async fn count_given_names(&self, prefix: &str, cap: i64) -> Result<i64, StoreError> {
        let cols = columns(Engine::Sqlite);
        Ok(on_pool!(self, read, |pool| {
            let mut q =
                sqlx::QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM users u WHERE ");
            push_prefix!(q, cols.given, prefix, true);
            q.push(" LIMIT ");
            q.push_bind(cap);
            q.push(")");
            q.build_query_scalar::<i64>().fetch_one(pool).await?
        }))
    }

    /// Organisations a helpdesk search term names: by URN, UKPRN or LA code exactly, or by
    /// the start of the name; at most `limit`.
    pub async fn organisations_named(
        &self,
        term: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let term = term.trim();
        let lowered = term.to_lowercase();
        let name = match self.engine() {
            Engine::Sqlite => "name_normalised",
            Engine::Postgres => "(name_normalised COLLATE \"C\")",
        };
        Ok(on_pool!(self, read, |pool| {
            let mut q = sqlx::QueryBuilder::new("SELECT id, name FROM organisations WHERE urn = ");
            q.push_bind(term.to_owned());
            q.push(" OR ukprn = ");
            q.push_bind(term.to_owned());
            q.push(" OR (kind = 'local_authority' AND la_code = ");
            q.push_bind(term.to_owned());
            q.push(") OR ");
            push_prefix!(q, name, &lowered, false);
            q.push(" ORDER BY name, id LIMIT ");
            q.push_bind(limit);
            q.build_query_as::<(String, String)>()
                .fetch_all(pool)
                .await?
        }))
    }

    /// (user id, organisation name) for each membership of these accounts, by name.
    pub async fn organisation_names_of(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, read, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT m.user_id, o.name FROM memberships m \
                 JOIN organisations o ON o.id = m.organisation_id WHERE m.user_id IN (",
            );
            let mut list = q.separated(", ");
            for id in user_ids {
                list.push_bind(id.clone());
            }
            q.push(") ORDER BY o.name");
            q.build_query_as::<(String, String)>()
                .fetch_all(pool)
                .await?
        }))
    }
}
