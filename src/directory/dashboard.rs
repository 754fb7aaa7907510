//! The Authentix migration dashboard: per local authority and per service, how many contacts
//! were brought over, invited, activated and using 2-step verification, how many have not
//! activated after N days, and per service how many organisations are ready to switch off
//! the shared password. Also as CSV. Read from the last count (see `counting`).

use chrono::{DateTime, Duration, Utc};

use super::{Directory, DirectoryError};
use crate::store::{CountedLine, DAY_MS, SavedCount};

/// One line of the dashboard: a local authority's or a service's contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationLine {
    /// The LA code, or the service's client id.
    pub code: String,
    /// The LA's or service's name (empty when the LA is not in the directory).
    pub name: String,
    pub imported: i64,
    pub invited: i64,
    pub activated: i64,
    pub with_mfa: i64,
    /// Invited on or before the cut-off day and still not activated.
    pub stalled: i64,
    /// Organisations involved (for a service: those where anyone has access to it).
    pub organisations: i64,
    /// Of those, organisations with at least one active account (with access to the service).
    pub ready: i64,
}

impl MigrationLine {
    /// `counted`, with people invited on or before `cutoff_day` and still waiting as stalled.
    fn from_counted(counted: CountedLine, cutoff_day: i64) -> Self {
        let stalled = counted
            .waiting
            .iter()
            .filter(|(day, _)| *day <= cutoff_day)
            .map(|(_, people)| people)
            .sum();
        Self {
            code: counted.code,
            name: counted.name,
            imported: counted.imported,
            invited: counted.invited,
            activated: counted.activated,
            with_mfa: counted.with_mfa,
            stalled,
            organisations: counted.organisations,
            ready: counted.ready,
        }
    }
}

/// The whole dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// "Not activated" counts people invited at least this many days ago.
    pub stalled_days: i64,
    /// When the figures were counted; `None` until the first count.
    pub counted_at: Option<DateTime<Utc>>,
    /// How long that count took.
    pub took_ms: Option<i64>,
    pub by_local_authority: Vec<MigrationLine>,
    pub by_service: Vec<MigrationLine>,
}

impl Dashboard {
    /// Percentage of a service's organisations with an active account, rounded down.
    pub fn ready_percent(line: &MigrationLine) -> i64 {
        (line.ready * 100)
            .checked_div(line.organisations)
            .unwrap_or(0)
    }

    /// Both tables as one CSV document (a `section` column tells them apart).
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record([
            "section",
            "code",
            "name",
            "imported",
            "invited",
            "activated",
            "with_2_step_verification",
            &format!("not_activated_after_{}_days", self.stalled_days),
            "organisations",
            "organisations_ready",
            "percent_ready",
            "counted_at",
        ])?;
        let counted_at = self
            .counted_at
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let sections = [
            ("local_authority", &self.by_local_authority),
            ("service", &self.by_service),
        ];
        for (section, lines) in sections {
            for l in lines.iter() {
                out.write_record([
                    section.to_owned(),
                    spreadsheet_safe(&l.code),
                    spreadsheet_safe(&l.name),
                    l.imported.to_string(),
                    l.invited.to_string(),
                    l.activated.to_string(),
                    l.with_mfa.to_string(),
                    l.stalled.to_string(),
                    l.organisations.to_string(),
                    l.ready.to_string(),
                    Self::ready_percent(l).to_string(),
                    counted_at.clone(),
                ])?;
            }
        }
        let bytes = out.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Stops a spreadsheet reading a cell as a formula (OWASP "CSV injection").
pub fn spreadsheet_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

impl Directory {
    /// The dashboard as last counted, counting "not activated" from people invited
    /// `stalled_days` or more days ago (by UTC day). Before the first count, counts now.
    pub async fn migration_dashboard(
        &self,
        stalled_days: i64,
    ) -> Result<Dashboard, DirectoryError> {
        let days = stalled_days.clamp(0, 3650);
        let mut saved = self.store.saved_migration_count().await?;
        if saved.counted_at.is_none() && self.count_migration().await? {
            saved = self.store.saved_migration_count().await?;
        }
        let cutoff_day = (self.clock.now() - Duration::days(days))
            .timestamp_millis()
            .div_euclid(DAY_MS);
        let SavedCount {
            counted_at,
            took_ms,
            by_local_authority,
            by_service,
        } = saved;
        let lines = |counted: Vec<CountedLine>| -> Vec<MigrationLine> {
            counted
                .into_iter()
                .map(|c| MigrationLine::from_counted(c, cutoff_day))
                .collect()
        };
        Ok(Dashboard {
            stalled_days: days,
            counted_at: counted_at.and_then(DateTime::from_timestamp_millis),
            took_ms,
            by_local_authority: lines(by_local_authority),
            by_service: lines(by_service),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_percentages_round_down() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("Leeds"), "Leeds");
        let line = MigrationLine {
            code: "s".into(),
            name: "S".into(),
            imported: 3,
            invited: 3,
            activated: 1,
            with_mfa: 0,
            stalled: 2,
            organisations: 3,
            ready: 2,
        };
        assert_eq!(Dashboard::ready_percent(&line), 66);
        let csv = Dashboard {
            stalled_days: 14,
            counted_at: DateTime::from_timestamp_millis(0),
            took_ms: Some(1),
            by_local_authority: vec![],
            by_service: vec![line],
        }
        .to_csv()
        .unwrap();
        assert!(csv.starts_with("section,code,name"));
        assert!(csv.contains("not_activated_after_14_days"));
        assert!(csv.contains("service,s,S,3,3,1,0,2,3,2,66,1970-01-01T00:00:00Z"));
    }

    #[test]
    fn people_invited_on_or_before_the_cut_off_day_are_stalled() {
        let counted = CountedLine {
            waiting: vec![(10, 4), (11, 2), (12, 1)],
            ..CountedLine::default()
        };
        let stalled = |cutoff| MigrationLine::from_counted(counted.clone(), cutoff).stalled;
        assert_eq!(stalled(9), 0);
        assert_eq!(stalled(11), 6);
        assert_eq!(stalled(12), 7);
    }
}
