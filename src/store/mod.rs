//! All SQL lives here. One [`Store`] runs the same portable statements on SQLite (embedded,
//! zero set-up) or PostgreSQL (production, several nodes), chosen by the database URL.
//!
//! Each query is a `const` string in the subset both engines share (`$1` placeholders,
//! `ON CONFLICT`, `RETURNING`); [`on_pool!`] and [`on_tx!`] run it on whichever engine is in use.

mod access_requests;
mod account_file;
mod account_search;
mod account_tokens;
mod audit;
mod audit_retention;
mod authorization;
mod bulk;
mod clients;
mod connect;
mod database_clock;
mod error;
mod grants;
mod logout_notices;
mod memberships;
mod mfa_reset;
mod migration;
mod migration_dashboard;
mod organisations;
mod outbox;
mod pending_sign_ins;
mod people;
mod policy;
mod second_factors;
mod sessions;
mod staff;
mod unused_accounts;
mod users;
mod webauthn;

pub use access_requests::{AccessRequestRow, NewAccessRequest};
pub use account_file::{AccessRow, HeldRoleRow, PlaceRow};
pub use account_search::{AccountHit, AccountQuery, AccountSort};
pub use account_tokens::{AccountTokenRow, NewAccountToken};
pub use audit::{AuditRow, ChainBreak};
pub use authorization::ConsentRow;
pub use bulk::{BULK_ROWS, InvitedRow};
pub use clients::{ClientRow, SecretHash};
pub use connect::ConnectError;
pub use error::StoreError;
pub use grants::{CodeRow, GrantRow, Redemption};
pub use logout_notices::NoticeRow;
pub use memberships::{MembershipRow, RoleRow};
pub use migration_dashboard::{CountedLine, DAY_MS, SavedCount};
pub use organisations::OrganisationRow;
pub use outbox::{OutboxRow, OutboxStats};
pub use pending_sign_ins::PendingRow;
pub use people::{HeldServiceRow, PersonRow, like_term};
pub use second_factors::TotpRow;
pub use sessions::{NewSession, SessionRow};
pub use staff::StaffRow;
pub use unused_accounts::UnusedAccount;
pub use users::{NewUser, UserRow};
pub use webauthn::{CredentialRow, NewCredential};

use std::time::Duration;

use sqlx::{PgPool, SqlitePool};

/// Runs `$body` with `$pool` bound to the right pool. On SQLite `read` uses the shared reader
/// pool and `write` the single writer connection; PostgreSQL has one pool for both.
macro_rules! on_pool {
    ($store:expr, $mode:ident, |$pool:ident| $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite { $mode: $pool, .. } => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};

/// Whether every embedded migration is recorded as applied, unchanged. Any doubt (no
/// table yet, a read refused) answers no, and the migrator decides.
async fn up_to_date(pool: &PgPool, migrator: &sqlx::migrate::Migrator) -> bool {
    const APPLIED: &str = "SELECT version, checksum FROM _sqlx_migrations WHERE success";
    let Ok(applied) = sqlx::query_as::<_, (i64, Vec<u8>)>(APPLIED)
        .fetch_all(pool)
        .await
    else {
        return false;
    };
    migrator.iter().all(|m| {
        applied
            .iter()
            .any(|(version, checksum)| *version == m.version && *checksum == *m.checksum)
    })
}

/// The database, whichever engine it is.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// Readers share a pool; every write goes through one connection, because SQLite has one
    /// writer at a time and queueing here is cheaper than spinning on `SQLITE_BUSY`.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// An open transaction: a multi-step change commits whole or not at all.
#[derive(Debug)]
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// How busy the connection pools are, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl Store {
    pub fn engine(&self) -> Engine {
        match self.db {
            Db::Sqlite { .. } => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Applies every embedded migration that has not run yet. A database already up to date
    /// is left untouched, so a server may run as a role that cannot create tables (on
    /// PostgreSQL, `gatehouse_app`: see migration 0013).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite").run(write).await?,
            Db::Postgres(pool) => {
                let migrator = sqlx::migrate!("migrations/postgres");
                if !up_to_date(pool, &migrator).await {
                    migrator.run(pool).await?;
                }
            }
        }
        Ok(())
    }

    /// Answers whether the database responds within `limit` (for `/readyz`).
    pub async fn ping(&self, limit: Duration) -> bool {
        let query = async {
            on_pool!(self, read, |pool| sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(|_| ()))
        };
        matches!(tokio::time::timeout(limit, query).await, Ok(Ok(_)))
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes cannot fail half-way.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.db {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub fn pool_use(&self) -> PoolUse {
        let of = |open: u32, idle: usize, max: u32| PoolUse {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        };
        match &self.db {
            Db::Sqlite { read, write } => {
                let r = of(
                    read.size(),
                    read.num_idle(),
                    read.options().get_max_connections(),
                );
                let w = of(
                    write.size(),
                    write.num_idle(),
                    write.options().get_max_connections(),
                );
                PoolUse {
                    open: r.open + w.open,
                    idle: r.idle + w.idle,
                    max: r.max + w.max,
                }
            }
            Db::Postgres(pool) => of(
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        }
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}
