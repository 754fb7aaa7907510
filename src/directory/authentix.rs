//! Reading the legacy Authentix contact export (one row per named contact of a school's or
//! local authority's shared account): addresses trimmed and lower-cased, names split, legacy
//! service codes listed. Rows that cannot be used are refused with their line number.

use super::clean_text;
use std::io::{Read, Seek};

use super::csv_file::{Parse, ReadError, Rows};
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

const REQUIRED: [&str; 5] = [
    "urn",
    "la_code",
    "contact_name",
    "contact_email",
    "services",
];

/// The rows of an export, read one at a time.
pub fn rows<R: Read + Seek>(input: R) -> Result<Rows<R, Parse<Contact>>, ReadError> {
    Rows::open(
        input,
        &REQUIRED,
        "an Authentix contact export",
        |line, fields| contact(line, &|name| fields.get(name).to_owned()),
    )
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
