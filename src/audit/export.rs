//! The audit trail as lines for an external store: JSON Lines (one event per line, `details`
//! as JSON) or CSV (cells that a spreadsheet would read as formulas neutralised). Both keep
//! `prev_hash` and `hash`, so the chain can be checked again where it is shipped.

use std::io::Write;

use crate::store::AuditRow;

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    JsonLines,
    Csv,
}

impl ExportFormat {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "jsonl" => Some(Self::JsonLines),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

const COLUMNS: [&str; 16] = [
    "seq",
    "id",
    "occurred_at",
    "actor",
    "subject_user_id",
    "organisation_id",
    "client_id",
    "action",
    "outcome",
    "reason",
    "ip",
    "user_agent",
    "request_id",
    "details",
    "prev_hash",
    "hash",
];

fn time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Writes rows in `format`; `header` is written first for CSV.
#[derive(Debug)]
pub struct Exporter<W: Write> {
    format: ExportFormat,
    csv: Option<csv::Writer<W>>,
    out: Option<W>,
}

impl<W: Write> Exporter<W> {
    pub fn new(format: ExportFormat, out: W) -> std::io::Result<Self> {
        match format {
            ExportFormat::JsonLines => Ok(Self {
                format,
                csv: None,
                out: Some(out),
            }),
            ExportFormat::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(COLUMNS).map_err(std::io::Error::other)?;
                Ok(Self {
                    format,
                    csv: Some(csv),
                    out: None,
                })
            }
        }
    }

    pub fn write(&mut self, row: &AuditRow) -> std::io::Result<()> {
        match (self.format, &mut self.csv, &mut self.out) {
            (ExportFormat::Csv, Some(csv), _) => {
                let cells = [
                    row.seq.to_string(),
                    row.id.clone(),
                    time(row.occurred_at),
                    row.actor.clone(),
                    row.subject_user_id.clone().unwrap_or_default(),
                    row.organisation_id.clone().unwrap_or_default(),
                    row.client_id.clone().unwrap_or_default(),
                    row.action.clone(),
                    row.outcome.clone(),
                    row.reason.clone().unwrap_or_default(),
                    row.ip.clone().unwrap_or_default(),
                    row.user_agent.clone().unwrap_or_default(),
                    row.request_id.clone().unwrap_or_default(),
                    row.details.clone().unwrap_or_default(),
                    row.prev_hash.clone(),
                    row.hash.clone(),
                ];
                csv.write_record(cells.iter().map(|c| crate::directory::spreadsheet_safe(c)))
                    .map_err(std::io::Error::other)
            }
            (_, _, Some(out)) => {
                let details = row
                    .details
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
                let line = serde_json::json!({
                    "seq": row.seq,
                    "id": row.id,
                    "occurred_at": time(row.occurred_at),
                    "actor": row.actor,
                    "subject_user_id": row.subject_user_id,
                    "organisation_id": row.organisation_id,
                    "client_id": row.client_id,
                    "action": row.action,
                    "outcome": row.outcome,
                    "reason": row.reason,
                    "ip": row.ip,
                    "user_agent": row.user_agent,
                    "request_id": row.request_id,
                    "details": details,
                    "prev_hash": row.prev_hash,
                    "hash": row.hash,
                });
                writeln!(out, "{line}")
            }
            _ => Ok(()),
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        if let Some(mut csv) = self.csv {
            csv.flush()?;
        }
        if let Some(mut out) = self.out {
            out.flush()?;
        }
        Ok(())
    }
}
