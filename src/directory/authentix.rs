//! Reading the legacy Authentix contact export (one row per named contact of a school's or
//! local authority's shared account): addresses trimmed and lower-cased, names split, legacy
//! service codes listed. Rows that cannot be used are refused with their line number.

use std::collections::HashMap;

use super::clean_text;
use super::gias::{Lines, Rejected, decode};
use crate::domain::Email;

/// Where a contact works: a school by URN or a local authority by LA code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Workplace {
    School(String),
    LocalAuthority(String),
}

/// One usable row.
#[derive(Debug, Clone)]
pub struct Contact {
    pub line: u64,
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    pub job_title: Option<String>,
    pub workplace: Workplace,
    pub services: Vec<String>,
    /// What the file says about being an approver, when it says anything.
    pub approver: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has no {0:?} column; is it an Authentix contact export?")]
    MissingColumn(&'static str),
    #[error("the file is not a CSV file: {0}")]
    Csv(String),
}

const REQUIRED: [&str; 5] = [
    "urn",
    "la_code",
    "contact_name",
    "contact_email",
    "services",
];

/// Reads every row of an export.
pub fn read(bytes: &[u8]) -> Result<Vec<Result<Contact, Rejected>>, ReadError> {
    let text = decode(bytes);
    if text.trim().is_empty() {
        return Err(ReadError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ReadError::Csv(e.to_string()))?
        .clone();
    let columns: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_lowercase(), i))
        .collect();
    for name in REQUIRED {
        if !columns.contains_key(name) {
            return Err(ReadError::MissingColumn(name));
        }
    }
    let mut rows = Vec::new();
    let mut lines = Lines::new(&text);
    for (index, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .and_then(|p| usize::try_from(p.byte()).ok())
            .map_or(index as u64 + 2, |start| lines.of(start));
        let row = match record {
            Ok(record) => {
                let get = |name: &str| {
                    columns
                        .get(name)
                        .and_then(|i| record.get(*i))
                        .map(str::trim)
                        .unwrap_or_default()
                        .to_owned()
                };
                contact(line, &get).map_err(|reason| Rejected { line, reason })
            }
            Err(e) => Err(Rejected {
                line,
                reason: format!("the row cannot be read ({e})"),
            }),
        };
        rows.push(row);
    }
    Ok(rows)
}

fn contact(line: u64, get: &dyn Fn(&str) -> String) -> Result<Contact, String> {
    let raw = get("contact_email");
    if raw.is_empty() {
        return Err("the email address is missing".to_owned());
    }
    let email = Email::parse(&raw.to_lowercase())
        .map_err(|_| format!("the email address {raw:?} is not valid"))?;
    let name = clean_text(&get("contact_name"));
    let (given_name, family_name) = match name.rsplit_once(' ') {
        Some((given, family)) => (given.to_owned(), family.to_owned()),
        None if !name.is_empty() => (name.clone(), name.clone()),
        None => return Err("the contact name is missing".to_owned()),
    };
    let urn = get("urn");
    let la = get("la_code");
    let workplace = match (urn.is_empty(), la.is_empty()) {
        (false, _) => Workplace::School(urn),
        (true, false) => Workplace::LocalAuthority(la),
        (true, true) => return Err("the row has neither a URN nor an LA code".to_owned()),
    };
    let services = get("services")
        .split(';')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let approver = match get("approver").to_lowercase().as_str() {
        "yes" | "true" | "y" | "1" => Some(true),
        "no" | "false" | "n" | "0" => Some(false),
        _ => None,
    };
    let job_title = Some(clean_text(&get("job_title"))).filter(|t| !t.is_empty());
    Ok(Contact {
        line,
        email,
        given_name,
        family_name,
        job_title,
        workplace,
        services,
        approver,
    })
}
