//! Applying a GIAS extract: every school by URN and every local authority by LA code created
//! or brought up to date in one transaction (or none, for a dry run), with a report of what
//! changed and of each row refused.

use std::collections::HashMap;
use std::io::{Read, Seek};

use chrono::{DateTime, Utc};

use super::csv_file::Rejections;
use super::gias::{self, Establishment, Rejected};
use super::{Directory, DirectoryError, OrgKind, OrgStatus};
use crate::audit::{Action, Actor, AuditEvent, RequestContext};
use crate::store::OrganisationRow;

/// What an import did (or, for a dry run, would have done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    /// Schools that were open and are now closed.
    pub closed: usize,
    pub unchanged: usize,
    /// Rows refused, in file order (the first thousand; all are counted).
    pub rejected: Rejections,
    pub local_authorities_created: usize,
    pub local_authorities_updated: usize,
    pub dry_run: bool,
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn school_row(e: &Establishment, id: String, created_at: i64, now: i64) -> OrganisationRow {
    OrganisationRow {
        id,
        kind: OrgKind::School.as_str().to_owned(),
        name_normalised: e.name.to_lowercase(),
        name: e.name.clone(),
        urn: Some(e.urn.clone()),
        ukprn: e.ukprn.clone(),
        la_code: Some(e.la_code.clone()),
        establishment_number: e.establishment_number.clone(),
        type_code: e.type_code.clone(),
        type_name: e.type_name.clone(),
        phase_code: e.phase_code.clone(),
        phase_name: e.phase_name.clone(),
        status: e.status.as_str().to_owned(),
        street: e.street.clone(),
        town: e.town.clone(),
        postcode: e.postcode.clone(),
        opened_on: e.opened_on.clone(),
        closed_on: e.closed_on.clone(),
        source: "gias".to_owned(),
        created_at,
        updated_at: now,
    }
}

fn authority_row(code: &str, name: &str, id: String, created_at: i64, now: i64) -> OrganisationRow {
    OrganisationRow {
        id,
        kind: OrgKind::LocalAuthority.as_str().to_owned(),
        name: name.to_owned(),
        name_normalised: name.to_lowercase(),
        urn: None,
        ukprn: None,
        la_code: Some(code.to_owned()),
        establishment_number: None,
        type_code: None,
        type_name: None,
        phase_code: None,
        phase_name: None,
        status: OrgStatus::Open.as_str().to_owned(),
        street: None,
        town: None,
        postcode: None,
        opened_on: None,
        closed_on: None,
        source: "gias".to_owned(),
        created_at,
        updated_at: now,
    }
}

/// Whether two rows say the same thing (ignoring when they were written).
fn same(a: &OrganisationRow, b: &OrganisationRow) -> bool {
    let strip = |r: &OrganisationRow| OrganisationRow {
        updated_at: 0,
        created_at: 0,
        ..r.clone()
    };
    strip(a) == strip(b)
}

/// Reads the file's rows into schools to apply and rows refused, refusing a URN seen
/// before in the same file. Memory grows with the schools kept, not with the file.
fn sort_rows<R: Read + Seek>(
    input: R,
) -> Result<(usize, Vec<Establishment>, Rejections), DirectoryError> {
    let mut rows = gias::rows(input)?;
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut schools = Vec::new();
    let mut rejected = Rejections::default();
    while let Some(row) = rows.next_row()? {
        match row {
            Ok(e) => match first_line.get(&e.urn) {
                Some(first) => rejected.push(Rejected {
                    line: e.line,
                    reason: format!("the URN {} is also on line {first}", e.urn),
                }),
                None => {
                    first_line.insert(e.urn.clone(), e.line);
                    schools.push(e);
                }
            },
            Err(r) => rejected.push(r),
        }
    }
    rejected.sort();
    Ok((rows.read, schools, rejected))
}

impl Directory {
    /// Imports a GIAS establishments extract, read from `input` as it goes.
    pub async fn import_gias<R: Read + Seek>(
        &self,
        input: R,
        dry_run: bool,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<ImportReport, DirectoryError> {
        let (rows, schools, rejected) = sort_rows(input)?;
        let mut report = ImportReport {
            rows,
            dry_run,
            rejected,
            ..ImportReport::default()
        };
        let now: DateTime<Utc> = self.clock.now();
        let millis = now.timestamp_millis();

        let mut tx = self.store.begin().await?;
        let existing = self.store.organisations_for_import(&mut tx).await?;
        let mut by_urn: HashMap<String, OrganisationRow> = HashMap::new();
        let mut by_la: HashMap<String, OrganisationRow> = HashMap::new();
        for row in existing {
            if row.kind == OrgKind::LocalAuthority.as_str() {
                if let Some(code) = row.la_code.clone() {
                    by_la.insert(code, row);
                }
            } else if let Some(urn) = row.urn.clone() {
                by_urn.insert(urn, row);
            }
        }

        // Local authorities first, named as their schools' rows name them.
        let mut seen_la: HashMap<&str, ()> = HashMap::new();
        for school in &schools {
            if seen_la.insert(school.la_code.as_str(), ()).is_some() {
                continue;
            }
            match by_la.get(&school.la_code) {
                Some(old) => {
                    let wanted = authority_row(
                        &school.la_code,
                        &school.la_name,
                        old.id.clone(),
                        old.created_at,
                        millis,
                    );
                    if !same(old, &wanted) {
                        self.store.update_organisation(&mut tx, &wanted).await?;
                        report.local_authorities_updated += 1;
                    }
                }
                None => {
                    let row =
                        authority_row(&school.la_code, &school.la_name, fresh_id(), millis, millis);
                    self.store.insert_organisation(&mut tx, &row).await?;
                    report.local_authorities_created += 1;
                }
            }
        }

        for school in &schools {
            match by_urn.get(&school.urn) {
                None => {
                    let row = school_row(school, fresh_id(), millis, millis);
                    self.store.insert_organisation(&mut tx, &row).await?;
                    report.created += 1;
                }
                Some(old) => {
                    let wanted = school_row(school, old.id.clone(), old.created_at, millis);
                    if same(old, &wanted) {
                        report.unchanged += 1;
                        continue;
                    }
                    self.store.update_organisation(&mut tx, &wanted).await?;
                    let closed_now =
                        wanted.status == OrgStatus::Closed.as_str() && old.status != wanted.status;
                    if closed_now {
                        report.closed += 1;
                    } else {
                        report.updated += 1;
                    }
                }
            }
        }

        let mut event = AuditEvent::new(Action::OrganisationsImported)
            .context(ctx.clone())
            .details(serde_json::json!({
                "source": "gias",
                "dry_run": dry_run,
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "closed": report.closed,
                "unchanged": report.unchanged,
                "rejected": report.rejected.total,
                "local_authorities_created": report.local_authorities_created,
                "local_authorities_updated": report.local_authorities_updated,
            }));
        event.actor = actor;
        if dry_run {
            // Nothing is kept, not even the event: a dry run changes nothing.
            drop(tx);
        } else {
            self.store.append_audit(&mut tx, &event, now).await?;
            tx.commit().await?;
        }
        Ok(report)
    }
}
