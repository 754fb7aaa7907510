//! Multi-row statements for bulk work (the Authentix import): one statement per batch of
//! rows instead of one per row, inside the caller's transaction. Batches must stay under
//! [`BULK_ROWS`] rows (both engines cap the number of bound values per statement).

use super::{Store, StoreError, Tx, on_tx};

/// The most rows one bulk statement takes.
pub const BULK_ROWS: usize = 500;

/// An invited account to create.
#[derive(Debug, Clone)]
pub struct InvitedRow {
    pub id: String,
    pub email: String,
    pub email_normalised: String,
    pub given_name: String,
    pub family_name: String,
    pub job_title: Option<String>,
}

impl Store {
    /// (normalised email, id, created at) of the accounts with any of these addresses.
    pub async fn user_ids_by_emails_in(
        &self,
        tx: &mut Tx,
        emails: &[&str],
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_tx!(tx, |conn| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT email_normalised, id, created_at FROM users WHERE email_normalised IN (",
            );
            let mut list = q.separated(", ");
            for email in emails {
                list.push_bind(*email);
            }
            q.push(")");
            q.build_query_as::<(String, String, i64)>()
                .fetch_all(conn)
                .await?
        }))
    }

    /// Creates invited accounts; an address already taken fails the whole statement.
    pub async fn insert_invited_users_in(
        &self,
        tx: &mut Tx,
        rows: &[InvitedRow],
        now: i64,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        on_tx!(tx, |conn| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO users (id, email, email_normalised, given_name, family_name, \
                 job_title, status, created_at, updated_at) ",
            );
            q.push_values(rows, |mut b, r| {
                b.push_bind(r.id.as_str())
                    .push_bind(r.email.as_str())
                    .push_bind(r.email_normalised.as_str())
                    .push_bind(r.given_name.as_str())
                    .push_bind(r.family_name.as_str())
                    .push_bind(r.job_title.as_deref())
                    .push_bind("invited")
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build()
                .execute(conn)
                .await
                .map_err(StoreError::conflict_as(
                    "An account with that email address",
                ))?;
        });
        Ok(())
    }

    /// Records people as brought over by `source` (ignoring any already recorded).
    pub async fn insert_migration_contacts_in(
        &self,
        tx: &mut Tx,
        user_ids: &[&str],
        source: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        on_tx!(tx, |conn| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO migration_contacts (user_id, source, imported_at) ",
            );
            q.push_values(user_ids, |mut b, id| {
                b.push_bind(*id).push_bind(source).push_bind(now);
            });
            q.push(" ON CONFLICT (user_id) DO NOTHING");
            q.build().execute(conn).await?;
        });
        Ok(())
    }

    /// (user, organisation, level) of every membership these people hold.
    pub async fn memberships_of_users_in(
        &self,
        tx: &mut Tx,
        user_ids: &[&str],
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_tx!(tx, |conn| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT user_id, organisation_id, level FROM memberships WHERE user_id IN (",
            );
            let mut list = q.separated(", ");
            for id in user_ids {
                list.push_bind(*id);
            }
            q.push(")");
            q.build_query_as::<(String, String, String)>()
                .fetch_all(conn)
                .await?
        }))
    }

    /// Sets (user, organisation, level) memberships, approved. Each pair at most once.
    pub async fn upsert_memberships_in(
        &self,
        tx: &mut Tx,
        rows: &[(String, String, &'static str)],
        now: i64,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        on_tx!(tx, |conn| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO memberships (user_id, organisation_id, level, status, created_at, \
                 updated_at) ",
            );
            q.push_values(rows, |mut b, (user, org, level)| {
                b.push_bind(user.as_str())
                    .push_bind(org.as_str())
                    .push_bind(*level)
                    .push_bind("approved")
                    .push_bind(now)
                    .push_bind(now);
            });
            q.push(
                " ON CONFLICT (user_id, organisation_id) DO UPDATE SET level = excluded.level, \
                 status = 'approved', updated_at = excluded.updated_at",
            );
            q.build().execute(conn).await?;
        });
        Ok(())
    }

    /// Gives (user, organisation, service) access where it is missing, keeping roles already
    /// held; returns how many were new.
    pub async fn ensure_access_many_in(
        &self,
        tx: &mut Tx,
        rows: &[(String, String, String)],
        now: i64,
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        Ok(on_tx!(tx, |conn| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO service_access (user_id, organisation_id, client_id, created_at) ",
            );
            q.push_values(rows, |mut b, (user, org, client)| {
                b.push_bind(user.as_str())
                    .push_bind(org.as_str())
                    .push_bind(client.as_str())
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (user_id, organisation_id, client_id) DO NOTHING");
            q.build().execute(conn).await?.rows_affected()
        }))
    }
}
