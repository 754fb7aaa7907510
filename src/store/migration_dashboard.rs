//! The Authentix migration dashboard's counting and its saved result (decision 0021): a few
//! set-based passes over every imported contact, run in the background by one node at a
//! time, and the lines the page reads.

use std::collections::BTreeMap;

use super::{Store, StoreError, on_pool, on_tx};

/// One UTC day, in milliseconds: "not activated" is kept by day of invitation.
pub const DAY_MS: i64 = 86_400_000;

/// A person counted once per line, with what the dashboard asks of them. `p` names each
/// contact once per line (`p.code`, `p.user_id`). Second factors are index probes per
/// person (`EXISTS`), not `IN (subquery)`: PostgreSQL runs an `IN` set too big for
/// `work_mem` once per row, which took hours at a million contacts.
macro_rules! per_person {
    ($lines:expr) => {
        concat!(
            "SELECT p.code AS code, CASE WHEN u.status = 'invited' AND c.invited_at IS NOT NULL \
                 THEN c.invited_at / 86400000 END AS day, \
             COUNT(*) AS imported, \
             SUM(CASE WHEN c.invited_at IS NOT NULL THEN 1 ELSE 0 END) AS invited, \
             SUM(CASE WHEN u.status = 'active' THEN 1 ELSE 0 END) AS activated, \
             SUM(CASE WHEN u.status = 'active' AND (EXISTS (SELECT 1 FROM totp_factors t \
                 WHERE t.user_id = c.user_id AND t.confirmed_at IS NOT NULL \
                 AND t.disabled_at IS NULL) OR EXISTS (SELECT 1 FROM webauthn_credentials w \
                 WHERE w.user_id = c.user_id)) THEN 1 ELSE 0 END) AS with_mfa \
             FROM (",
            $lines,
            ") p JOIN migration_contacts c ON c.user_id = p.user_id \
             JOIN users u ON u.id = c.user_id GROUP BY p.code, 2"
        )
    };
}

/// Each contact once per local authority they belong to (a school counts under its LA).
const BY_LA_PEOPLE: &str = per_person!(
    "SELECT DISTINCT COALESCE(o.la_code, '') AS code, c.user_id FROM migration_contacts c \
     JOIN memberships m ON m.user_id = c.user_id JOIN organisations o ON o.id = m.organisation_id"
);
/// Each contact once per service they may use.
const BY_SERVICE_PEOPLE: &str =
    per_person!("SELECT DISTINCT a.client_id AS code, a.user_id FROM service_access a");
/// Per LA: organisations with a contact, and of those, how many have an active one.
const BY_LA_ORGANISATIONS: &str = "SELECT COALESCE(o.la_code, '') AS code, \
     COUNT(*) AS organisations, SUM(r.ready) AS ready FROM (SELECT m.organisation_id, \
     MAX(CASE WHEN u.status = 'active' THEN 1 ELSE 0 END) AS ready FROM migration_contacts c \
     JOIN memberships m ON m.user_id = c.user_id JOIN users u ON u.id = c.user_id \
     GROUP BY m.organisation_id) r JOIN organisations o ON o.id = r.organisation_id \
     GROUP BY COALESCE(o.la_code, '')";
/// Per service: organisations using it, and of those, how many have an active account that
/// may use it.
const BY_SERVICE_ORGANISATIONS: &str = "SELECT a.client_id AS code, \
     COUNT(DISTINCT a.organisation_id) AS organisations, COUNT(DISTINCT CASE WHEN \
     u.status = 'active' THEN a.organisation_id END) AS ready FROM service_access a \
     JOIN users u ON u.id = a.user_id GROUP BY a.client_id";
const LA_NAMES: &str = "SELECT la_code, name FROM organisations \
     WHERE kind = 'local_authority' AND la_code IS NOT NULL";
const SERVICE_NAMES: &str = "SELECT id, name FROM clients";

const TAKE_LEASE: &str = "UPDATE migration_dashboard_counts SET lease_until = $2 \
     WHERE id = 1 AND lease_until <= $1";
const RELEASE: &str = "UPDATE migration_dashboard_counts SET lease_until = 0 WHERE id = 1";
const CLEAR: &str = "DELETE FROM migration_dashboard_lines";
const INSERT_LINE: &str = "INSERT INTO migration_dashboard_lines (section, code, name, \
     imported, invited, activated, with_mfa, organisations, ready, waiting) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const MARK_COUNTED: &str = "UPDATE migration_dashboard_counts SET counted_at = $1, \
     took_ms = $2, lease_until = 0 WHERE id = 1";
const COUNTED_AT: &str = "SELECT counted_at, took_ms FROM migration_dashboard_counts WHERE id = 1";
const LINES: &str = "SELECT section, code, name, imported, invited, activated, with_mfa, \
     organisations, ready, waiting FROM migration_dashboard_lines";

/// Which table of the dashboard a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    LocalAuthority,
    Service,
}

impl Section {
    fn as_str(self) -> &'static str {
        match self {
            Self::LocalAuthority => "local_authority",
            Self::Service => "service",
        }
    }

    fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "local_authority" => Ok(Self::LocalAuthority),
            "service" => Ok(Self::Service),
            other => Err(StoreError::Corrupt(format!("dashboard section {other}"))),
        }
    }
}

/// One counted line: a local authority's or a service's contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountedLine {
    /// The LA code, or the service's client id.
    pub code: String,
    /// The LA's or service's name (empty when the LA is not in the directory).
    pub name: String,
    pub imported: i64,
    pub invited: i64,
    pub activated: i64,
    pub with_mfa: i64,
    /// Organisations involved (for a service: those where anyone has access to it).
    pub organisations: i64,
    /// Of those, organisations with at least one active account (with access to the service).
    pub ready: i64,
    /// Invited and not yet activated: (UTC day of invitation, people), oldest first.
    pub waiting: Vec<(i64, i64)>,
}

/// The dashboard as last counted.
#[derive(Debug, Clone, Default)]
pub struct SavedCount {
    /// When the count began (milliseconds), or `None` before the first count.
    pub counted_at: Option<i64>,
    pub took_ms: Option<i64>,
    pub by_local_authority: Vec<CountedLine>,
    pub by_service: Vec<CountedLine>,
}

type PersonCounts = (String, Option<i64>, i64, i64, i64, i64);

impl Store {
    /// Claims the next count until `until` (milliseconds); false while another node's count
    /// is under way.
    pub async fn take_migration_count(&self, now: i64, until: i64) -> Result<bool, StoreError> {
        Ok(on_pool!(self, write, |pool| {
            sqlx::query(TAKE_LEASE)
                .bind(now)
                .bind(until)
                .execute(pool)
                .await?
                .rows_affected()
                == 1
        }))
    }

    /// Gives the claim back after a count that failed.
    pub async fn release_migration_count(&self) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(RELEASE).execute(pool).await?;
        });
        Ok(())
    }

    /// Counts the whole dashboard from the live tables. Slow at scale: minutes of reads at
    /// most, never a write, so the page never waits for it.
    pub async fn count_migration(&self) -> Result<SavedCount, StoreError> {
        let mut lines: BTreeMap<(Section, String), CountedLine> = BTreeMap::new();
        let people = [
            (Section::LocalAuthority, BY_LA_PEOPLE),
            (Section::Service, BY_SERVICE_PEOPLE),
        ];
        for (section, sql) in people {
            let rows: Vec<PersonCounts> = on_pool!(self, read, |pool| sqlx::query_as(sql)
                .fetch_all(pool)
                .await?);
            for (code, day, imported, invited, activated, with_mfa) in rows {
                let line = lines.entry((section, code.clone())).or_default();
                line.code = code;
                line.imported += imported;
                line.invited += invited;
                line.activated += activated;
                line.with_mfa += with_mfa;
                if let Some(day) = day {
                    line.waiting.push((day, imported));
                }
            }
        }
        let organisations = [
            (Section::LocalAuthority, BY_LA_ORGANISATIONS),
            (Section::Service, BY_SERVICE_ORGANISATIONS),
        ];
        for (section, sql) in organisations {
            let rows: Vec<(String, i64, i64)> = on_pool!(self, read, |pool| sqlx::query_as(sql)
                .fetch_all(pool)
                .await?);
            for (code, count, ready) in rows {
                // Organisations without contacts are not lines of the LA table.
                if let Some(line) = lines.get_mut(&(section, code)) {
                    line.organisations = count;
                    line.ready = ready;
                }
            }
        }
        let la_names: Vec<(String, String)> = on_pool!(self, read, |pool| sqlx::query_as(LA_NAMES)
            .fetch_all(pool)
            .await?);
        for (code, name) in la_names {
            if let Some(line) = lines.get_mut(&(Section::LocalAuthority, code)) {
                line.name = name;
            }
        }
        // Every registered service has a line, used or not.
        let services: Vec<(String, String)> =
            on_pool!(self, read, |pool| sqlx::query_as(SERVICE_NAMES)
                .fetch_all(pool)
                .await?);
        let mut by_service = Vec::new();
        for (code, name) in services {
            let mut line = lines
                .remove(&(Section::Service, code.clone()))
                .unwrap_or_default();
            line.code = code;
            line.name = name;
            by_service.push(line);
        }
        let mut count = SavedCount {
            by_local_authority: lines
                .into_iter()
                .filter(|((section, _), _)| *section == Section::LocalAuthority)
                .map(|(_, line)| line)
                .collect(),
            by_service,
            ..SavedCount::default()
        };
        count.sort();
        Ok(count)
    }

    /// Replaces the saved lines with `count`, in one transaction, and ends the claim.
    pub async fn save_migration_count(
        &self,
        count: &SavedCount,
        counted_at: i64,
        took_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(CLEAR).execute(&mut *conn).await?;
            let sections = [
                (Section::LocalAuthority, &count.by_local_authority),
                (Section::Service, &count.by_service),
            ];
            for (section, lines) in sections {
                for l in lines.iter() {
                    let waiting = serde_json::to_string(&l.waiting)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    sqlx::query(INSERT_LINE)
                        .bind(section.as_str())
                        .bind(&l.code)
                        .bind(&l.name)
                        .bind(l.imported)
                        .bind(l.invited)
                        .bind(l.activated)
                        .bind(l.with_mfa)
                        .bind(l.organisations)
                        .bind(l.ready)
                        .bind(waiting)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            sqlx::query(MARK_COUNTED)
                .bind(counted_at)
                .bind(took_ms)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// When the saved lines were counted (milliseconds), if ever.
    pub async fn saved_migration_counted_at(&self) -> Result<Option<i64>, StoreError> {
        let (counted_at, _): (Option<i64>, Option<i64>) = on_pool!(self, read, |pool| {
            sqlx::query_as(COUNTED_AT).fetch_one(pool).await?
        });
        Ok(counted_at)
    }

    /// The lines as last counted.
    pub async fn saved_migration_count(&self) -> Result<SavedCount, StoreError> {
        type Row = (String, String, String, i64, i64, i64, i64, i64, i64, String);
        let (counted_at, took_ms): (Option<i64>, Option<i64>) = on_pool!(self, read, |pool| {
            sqlx::query_as(COUNTED_AT).fetch_one(pool).await?
        });
        let rows: Vec<Row> = on_pool!(self, read, |pool| sqlx::query_as(LINES)
            .fetch_all(pool)
            .await?);
        let mut count = SavedCount {
            counted_at,
            took_ms,
            ..SavedCount::default()
        };
        for (section, code, name, imported, invited, activated, with_mfa, orgs, ready, waiting) in
            rows
        {
            let line = CountedLine {
                code,
                name,
                imported,
                invited,
                activated,
                with_mfa,
                organisations: orgs,
                ready,
                waiting: serde_json::from_str(&waiting)
                    .map_err(|e| StoreError::Corrupt(format!("dashboard waiting: {e}")))?,
            };
            match Section::parse(&section)? {
                Section::LocalAuthority => count.by_local_authority.push(line),
                Section::Service => count.by_service.push(line),
            }
        }
        count.sort();
        Ok(count)
    }
}

impl SavedCount {
    /// Local authorities by code; services by name, then id.
    fn sort(&mut self) {
        self.by_local_authority.sort_by(|a, b| a.code.cmp(&b.code));
        self.by_service
            .sort_by(|a, b| (&a.name, &a.code).cmp(&(&b.name, &b.code)));
        for line in self
            .by_local_authority
            .iter_mut()
            .chain(self.by_service.iter_mut())
        {
            line.waiting.sort_unstable();
        }
    }
}
