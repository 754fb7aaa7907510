//! An organisation's people as its approvers see them: one page of a name or email search
//! over the organisation's members, and the services each holds there.

use super::{Store, StoreError, on_pool};

/// One person in an organisation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonRow {
    pub user_id: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub status: String,
    pub level: String,
}

/// A service someone may use at an organisation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldServiceRow {
    pub client_id: String,
    pub client_name: String,
}

/// Matches a name or email containing `$2` (already lower-case and LIKE-escaped).
macro_rules! matches_person {
    () => {
        "m.organisation_id = $1 AND ($2 = '' \
     OR u.email_normalised LIKE '%' || $2 || '%' ESCAPE '\\' \
     OR LOWER(u.given_name || ' ' || u.family_name) LIKE '%' || $2 || '%' ESCAPE '\\')"
    };
}

/// Escapes `%`, `_` and `\` so a search term only ever matches itself.
pub fn like_term(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// One page of an organisation's people whose name or email contains `term`, approvers
    /// first, then by name.
    pub async fn organisation_people(
        &self,
        organisation_id: &str,
        term: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<PersonRow>, StoreError> {
        const SQL: &str = concat!(
            "SELECT u.id AS user_id, u.given_name, u.family_name, u.email, u.status, m.level \
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE ",
            matches_person!(),
            " ORDER BY CASE WHEN m.level = 'approver' THEN 0 ELSE 1 END, u.family_name, \
             u.given_name, u.id LIMIT $3 OFFSET $4"
        );
        let term = like_term(term);
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, PersonRow>(SQL)
                .bind(organisation_id)
                .bind(&term)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?
        }))
    }

    /// How many people the same search finds.
    pub async fn count_organisation_people(
        &self,
        organisation_id: &str,
        term: &str,
    ) -> Result<i64, StoreError> {
        const SQL: &str = concat!(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE ",
            matches_person!()
        );
        let term = like_term(term);
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(SQL)
                .bind(organisation_id)
                .bind(&term)
                .fetch_one(pool)
                .await?
        }))
    }

    /// The services someone may use at an organisation, by name.
    pub async fn services_held(
        &self,
        user_id: &str,
        organisation_id: &str,
    ) -> Result<Vec<HeldServiceRow>, StoreError> {
        const SQL: &str = "SELECT a.client_id, c.name AS client_name FROM service_access a \
             JOIN clients c ON c.id = a.client_id \
             WHERE a.user_id = $1 AND a.organisation_id = $2 ORDER BY c.name, c.id";
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, HeldServiceRow>(SQL)
                .bind(user_id)
                .bind(organisation_id)
                .fetch_all(pool)
                .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::like_term;

    #[test]
    fn search_terms_match_only_themselves() {
        assert_eq!(like_term(" Ana "), "ana");
        assert_eq!(like_term("100%_\\"), "100\\%\\_\\\\");
    }
}
