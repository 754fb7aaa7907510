//! Services (OAuth clients) and their hashed secrets.

use chrono::{DateTime, Utc};

use super::users::millis;
use super::{Store, StoreError, Tx, on_pool, on_tx};

/// A service as stored. Lists are JSON arrays; times are Unix milliseconds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub auth_method: String,
    pub grant_types: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub scopes: String,
    pub backchannel_logout_uri: Option<String>,
    pub jwks: Option<String>,
    pub first_party: bool,
    pub mfa_required: bool,
    pub refresh_tokens: bool,
    pub id_token_alg: String,
    pub access_token_alg: String,
    pub access_token_seconds: i64,
    pub id_token_seconds: i64,
    pub refresh_token_seconds: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! client_columns {
    () => {
        "id, name, kind, auth_method, grant_types, redirect_uris, post_logout_redirect_uris, \
         scopes, backchannel_logout_uri, jwks, first_party, mfa_required, refresh_tokens, \
         id_token_alg, access_token_alg, access_token_seconds, id_token_seconds, \
         refresh_token_seconds, created_at, updated_at"
    };
}

/// A service with one of its secrets (or none): one round trip for client authentication.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ClientWithSecret {
    #[sqlx(flatten)]
    client: ClientRow,
    secret_hash: Option<String>,
    secret_expires_at: Option<i64>,
}

/// A secret's hash and when it stops working (Unix milliseconds; `None`: until rotated).
pub type SecretHash = (String, Option<i64>);

const WITH_SECRETS: &str = "SELECT c.id, c.name, c.kind, c.auth_method, c.grant_types, \
     c.redirect_uris, c.post_logout_redirect_uris, c.scopes, c.backchannel_logout_uri, c.jwks, \
     c.first_party, c.mfa_required, c.refresh_tokens, c.id_token_alg, c.access_token_alg, \
     c.access_token_seconds, c.id_token_seconds, c.refresh_token_seconds, c.created_at, \
     c.updated_at, s.secret_hash, s.expires_at AS secret_expires_at FROM clients c \
     LEFT JOIN client_secrets s ON s.client_id = c.id WHERE c.id = $1";
const GENERATION: &str = "SELECT generation FROM client_changes WHERE id = 1";

const INSERT: &str = concat!(
    "INSERT INTO clients (",
    client_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20)"
);
const UPDATE: &str = "UPDATE clients SET name = $2, kind = $3, auth_method = $4, \
     grant_types = $5, redirect_uris = $6, post_logout_redirect_uris = $7, scopes = $8, \
     backchannel_logout_uri = $9, jwks = $10, first_party = $11, mfa_required = $12, \
     refresh_tokens = $13, id_token_alg = $14, access_token_alg = $15, \
     access_token_seconds = $16, id_token_seconds = $17, refresh_token_seconds = $18, \
     updated_at = $20 WHERE id = $1 AND created_at = $19";
const BY_ID: &str = concat!("SELECT ", client_columns!(), " FROM clients WHERE id = $1");
const LIST: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients ORDER BY name, id"
);
const DELETE: &str = "DELETE FROM clients WHERE id = $1";

const INSERT_SECRET: &str = "INSERT INTO client_secrets (secret_hash, client_id, created_at, expires_at) \
     VALUES ($1, $2, $3, NULL)";
/// Every secret still open-ended gets an end date: used when a new one is issued.
const EXPIRE_SECRETS: &str = "UPDATE client_secrets SET expires_at = $2 \
     WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)";
const DROP_OLD_SECRETS: &str = "DELETE FROM client_secrets WHERE client_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2";

impl Store {
    /// Registers a service inside `tx`; an existing client id is a conflict.
    pub async fn insert_client(&self, tx: &mut Tx, row: &ClientRow) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            bind_client(sqlx::query(INSERT), row)
                .execute(conn)
                .await
                .map_err(StoreError::conflict_as("A service with that client id"))?;
        });
        Ok(())
    }

    /// Saves every field of a service except its id and creation time.
    pub async fn update_client(&self, tx: &mut Tx, row: &ClientRow) -> Result<(), StoreError> {
        let n = on_tx!(tx, |conn| {
            bind_client(sqlx::query(UPDATE), row)
                .execute(conn)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn client_by_id(&self, id: &str) -> Result<Option<ClientRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, ClientRow>(BY_ID)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A service and the hashes of all its secrets with their expiry, in one query.
    pub async fn client_with_secrets(
        &self,
        id: &str,
    ) -> Result<Option<(ClientRow, Vec<SecretHash>)>, StoreError> {
        let rows = on_pool!(self, read, |pool| {
            sqlx::query_as::<_, ClientWithSecret>(WITH_SECRETS)
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        let secrets = rows
            .iter()
            .filter_map(|r| Some((r.secret_hash.clone()?, r.secret_expires_at)))
            .collect();
        Ok(rows.into_iter().next().map(|r| (r.client, secrets)))
    }

    /// The number the database moves on every change to a service or its secrets.
    pub async fn client_generation(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, i64>(GENERATION)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, ClientRow>(LIST).fetch_all(pool).await?
        }))
    }

    /// Removes a service with its secrets, grants, codes and tokens (cascade).
    pub async fn delete_client(&self, tx: &mut Tx, id: &str) -> Result<(), StoreError> {
        let n = on_tx!(tx, |conn| {
            sqlx::query(DELETE)
                .bind(id)
                .execute(conn)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Adds a secret; earlier secrets stay valid until `old_until`, then are removed.
    pub async fn add_client_secret(
        &self,
        tx: &mut Tx,
        client_id: &str,
        secret_hash: &str,
        now: DateTime<Utc>,
        old_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(DROP_OLD_SECRETS)
                .bind(client_id)
                .bind(millis(now))
                .execute(&mut *conn)
                .await?;
            sqlx::query(EXPIRE_SECRETS)
                .bind(client_id)
                .bind(millis(old_until))
                .execute(&mut *conn)
                .await?;
            sqlx::query(INSERT_SECRET)
                .bind(secret_hash)
                .bind(client_id)
                .bind(millis(now))
                .execute(&mut *conn)
                .await?;
        });
        Ok(())
    }
}

type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>;

fn bind_client<'q, DB>(query: Query<'q, DB>, row: &'q ClientRow) -> Query<'q, DB>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .bind(row.id.clone())
        .bind(row.name.clone())
        .bind(row.kind.clone())
        .bind(row.auth_method.clone())
        .bind(row.grant_types.clone())
        .bind(row.redirect_uris.clone())
        .bind(row.post_logout_redirect_uris.clone())
        .bind(row.scopes.clone())
        .bind(row.backchannel_logout_uri.clone())
        .bind(row.jwks.clone())
        .bind(row.first_party)
        .bind(row.mfa_required)
        .bind(row.refresh_tokens)
        .bind(row.id_token_alg.clone())
        .bind(row.access_token_alg.clone())
        .bind(row.access_token_seconds)
        .bind(row.id_token_seconds)
        .bind(row.refresh_token_seconds)
        .bind(row.created_at)
        .bind(row.updated_at)
}
