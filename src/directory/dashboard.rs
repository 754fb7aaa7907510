//! The Authentix migration dashboard: per local authority and per service, how many contacts
//! were brought over, invited, activated and using 2-step verification, how many have not
//! activated after N days, and per service how many organisations are ready to switch off
//! the shared password. Also as CSV.

use chrono::Duration;

use super::{Directory, DirectoryError};
use crate::store::MigrationLine;

/// The whole dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// "Not activated" counts people invited at least this many days ago.
    pub stalled_days: i64,
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
        ])?;
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
    /// The dashboard now, counting as stalled people invited `stalled_days` or more ago.
    pub async fn migration_dashboard(
        &self,
        stalled_days: i64,
    ) -> Result<Dashboard, DirectoryError> {
        let days = stalled_days.clamp(0, 3650);
        let before = (self.clock.now() - Duration::days(days)).timestamp_millis();
        Ok(Dashboard {
            stalled_days: days,
            by_local_authority: self.store.migration_by_local_authority(before).await?,
            by_service: self.store.migration_by_service(before).await?,
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
            by_local_authority: vec![],
            by_service: vec![line],
        }
        .to_csv()
        .unwrap();
        assert!(csv.starts_with("section,code,name"));
        assert!(csv.contains("not_activated_after_14_days"));
        assert!(csv.contains("service,s,S,3,3,1,0,2,3,2,66"));
    }
}
