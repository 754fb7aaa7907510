//! Organisations as stored: schools by URN, local authorities by LA code, and those added by
//! hand. Imports read everything they might touch in one query and write inside one
//! transaction.

use super::{Store, StoreError, Tx, on_pool, on_tx};

/// An organisation as stored. Dates are ISO `YYYY-MM-DD`; `*_at` are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct OrganisationRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub name_normalised: String,
    pub urn: Option<String>,
    pub ukprn: Option<String>,
    pub la_code: Option<String>,
    pub establishment_number: Option<String>,
    pub type_code: Option<String>,
    pub type_name: Option<String>,
    pub phase_code: Option<String>,
    pub phase_name: Option<String>,
    pub status: String,
    pub street: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
    pub opened_on: Option<String>,
    pub closed_on: Option<String>,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! organisation_columns {
    () => {
        "id, kind, name, name_normalised, urn, ukprn, la_code, establishment_number, \
         type_code, type_name, phase_code, phase_name, status, street, town, postcode, \
         opened_on, closed_on, source, created_at, updated_at"
    };
}

/// Binds every descriptive field, `kind` to `source`, in column order.
macro_rules! bind_fields {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.kind)
            .bind(&$row.name)
            .bind(&$row.name_normalised)
            .bind(&$row.urn)
            .bind(&$row.ukprn)
            .bind(&$row.la_code)
            .bind(&$row.establishment_number)
            .bind(&$row.type_code)
            .bind(&$row.type_name)
            .bind(&$row.phase_code)
            .bind(&$row.phase_name)
            .bind(&$row.status)
            .bind(&$row.street)
            .bind(&$row.town)
            .bind(&$row.postcode)
            .bind(&$row.opened_on)
            .bind(&$row.closed_on)
            .bind(&$row.source)
    };
}

const INSERT: &str = concat!(
    "INSERT INTO organisations (",
    organisation_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21)"
);
const UPDATE: &str = "UPDATE organisations SET kind = $2, name = $3, name_normalised = $4, \
     urn = $5, ukprn = $6, la_code = $7, establishment_number = $8, type_code = $9, \
     type_name = $10, phase_code = $11, phase_name = $12, status = $13, street = $14, \
     town = $15, postcode = $16, opened_on = $17, closed_on = $18, source = $19, \
     updated_at = $20 WHERE id = $1";
/// Everything an import may match: schools by URN and local authorities by code.
const FOR_IMPORT: &str = concat!(
    "SELECT ",
    organisation_columns!(),
    " FROM organisations WHERE urn IS NOT NULL OR kind = 'local_authority'"
);
const BY_ID: &str = concat!(
    "SELECT ",
    organisation_columns!(),
    " FROM organisations WHERE id = $1"
);
const BY_URN: &str = concat!(
    "SELECT ",
    organisation_columns!(),
    " FROM organisations WHERE urn = $1"
);
const BY_LA: &str = concat!(
    "SELECT ",
    organisation_columns!(),
    " FROM organisations WHERE kind = 'local_authority' AND la_code = $1"
);
const COUNT: &str = "SELECT kind, status, COUNT(*) FROM organisations GROUP BY kind, status \
     ORDER BY kind, status";

impl Store {
    pub async fn organisations_for_import(
        &self,
        tx: &mut Tx,
    ) -> Result<Vec<OrganisationRow>, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query_as::<_, OrganisationRow>(FOR_IMPORT)
                .fetch_all(conn)
                .await?
        }))
    }

    /// Adds an organisation; a URN or LA code already held is a [`StoreError::Conflict`].
    pub async fn insert_organisation(
        &self,
        tx: &mut Tx,
        row: &OrganisationRow,
    ) -> Result<(), StoreError> {
        let result = on_tx!(tx, |conn| {
            bind_fields!(sqlx::query(INSERT).bind(&row.id), row)
                .bind(row.created_at)
                .bind(row.updated_at)
                .execute(conn)
                .await
                .map(|_| ())
        });
        result.map_err(StoreError::conflict_as(
            "an organisation with that URN or LA code",
        ))
    }

    /// Writes every field of `row` (its id decides which); a taken URN is a conflict.
    pub async fn update_organisation(
        &self,
        tx: &mut Tx,
        row: &OrganisationRow,
    ) -> Result<(), StoreError> {
        let result = on_tx!(tx, |conn| {
            bind_fields!(sqlx::query(UPDATE).bind(&row.id), row)
                .bind(row.updated_at)
                .execute(conn)
                .await
                .map(|_| ())
        });
        result.map_err(StoreError::conflict_as(
            "an organisation with that URN or LA code",
        ))
    }

    pub async fn organisation_by_id(
        &self,
        id: &str,
    ) -> Result<Option<OrganisationRow>, StoreError> {
        self.organisation_by(BY_ID, id).await
    }

    pub async fn organisation_by_urn(
        &self,
        urn: &str,
    ) -> Result<Option<OrganisationRow>, StoreError> {
        self.organisation_by(BY_URN, urn).await
    }

    pub async fn local_authority(
        &self,
        la_code: &str,
    ) -> Result<Option<OrganisationRow>, StoreError> {
        self.organisation_by(BY_LA, la_code).await
    }

    async fn organisation_by(
        &self,
        query: &'static str,
        key: &str,
    ) -> Result<Option<OrganisationRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, OrganisationRow>(query)
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// How many organisations there are of each kind and status.
    pub async fn organisation_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, (String, String, i64)>(COUNT)
                .fetch_all(pool)
                .await?
        }))
    }
}
