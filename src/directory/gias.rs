//! Reading GIAS ("Get Information About Schools") establishment extracts: Windows-1252 as the
//! real extracts are, or UTF-8 with or without a byte-order mark. Each row becomes an
//! [`Establishment`] or a [`Rejected`] line with its number and a reason; nothing here
//! touches the database.

use chrono::NaiveDate;

use std::io::{Read, Seek};

pub use super::csv_file::{ReadError, Rejected, Rows};

use super::csv_file::{Fields, Parse};
use super::{OrgStatus, clean_text};

/// One school as the extract describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Establishment {
    /// The line it came from (the header is line 1).
    pub line: u64,
    pub urn: String,
    pub la_code: String,
    pub la_name: String,
    pub establishment_number: Option<String>,
    pub name: String,
    pub type_code: Option<String>,
    pub type_name: Option<String>,
    pub status: OrgStatus,
    pub opened_on: Option<String>,
    pub closed_on: Option<String>,
    pub phase_code: Option<String>,
    pub phase_name: Option<String>,
    pub ukprn: Option<String>,
    pub street: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
}

/// The columns we read, by their GIAS headings.
const URN: &str = "URN";
const LA_CODE: &str = "LA (code)";
const LA_NAME: &str = "LA (name)";
const NUMBER: &str = "EstablishmentNumber";
const NAME: &str = "EstablishmentName";
const TYPE_CODE: &str = "TypeOfEstablishment (code)";
const TYPE_NAME: &str = "TypeOfEstablishment (name)";
const STATUS_NAME: &str = "EstablishmentStatus (name)";
const OPENED: &str = "OpenDate";
const CLOSED: &str = "CloseDate";
const PHASE_CODE: &str = "PhaseOfEducation (code)";
const PHASE_NAME: &str = "PhaseOfEducation (name)";
const UKPRN: &str = "UKPRN";
const STREET: &str = "Street";
const TOWN: &str = "Town";
const POSTCODE: &str = "Postcode";

const REQUIRED: [&str; 5] = [URN, LA_CODE, LA_NAME, NAME, STATUS_NAME];

/// The rows of an extract, read one at a time.
pub fn rows<R: Read + Seek>(input: R) -> Result<Rows<R, Parse<Establishment>>, ReadError> {
    Rows::open(
        input,
        &REQUIRED,
        "a GIAS establishments extract",
        establishment,
    )
}

/// Every row of an extract held in memory.
#[cfg(test)]
fn read(bytes: &[u8]) -> Result<Vec<Result<Establishment, Rejected>>, ReadError> {
    rows(std::io::Cursor::new(bytes))?.collect_all()
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| clean_text(value))
}

fn digits(value: &str, lengths: &[usize]) -> bool {
    lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

/// `DD-MM-YYYY` (or `DD/MM/YYYY`) as ISO `YYYY-MM-DD`.
fn date(value: &str, column: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    ["%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(value, f).ok())
        .map(|d| Some(d.format("%Y-%m-%d").to_string()))
        .ok_or_else(|| format!("{column} {value:?} is not a date"))
}

fn establishment(line: u64, row: &Fields<'_>) -> Result<Establishment, String> {
    let get = |name: &str| row.get(name);
    let urn = get(URN);
    if !digits(urn, &[6, 7]) {
        return Err(if urn.is_empty() {
            "the URN is missing".to_owned()
        } else {
            format!("the URN {urn:?} is not 6 or 7 digits")
        });
    }
    let name = clean_text(get(NAME));
    if name.is_empty() {
        return Err("the establishment name is missing".to_owned());
    }
    if name.chars().count() > 200 {
        return Err("the establishment name is longer than 200 characters".to_owned());
    }
    let la_code = get(LA_CODE);
    if !digits(la_code, &[3]) {
        return Err(format!("the LA code {la_code:?} is not 3 digits"));
    }
    let la_name = clean_text(get(LA_NAME));
    if la_name.is_empty() {
        return Err("the LA name is missing".to_owned());
    }
    let status = OrgStatus::from_gias(get(STATUS_NAME))
        .ok_or_else(|| format!("the status {:?} is not one GIAS uses", get(STATUS_NAME)))?;
    let ukprn = get(UKPRN);
    if !ukprn.is_empty() && !digits(ukprn, &[8]) {
        return Err(format!("the UKPRN {ukprn:?} is not 8 digits"));
    }
    Ok(Establishment {
        line,
        urn: urn.to_owned(),
        la_code: la_code.to_owned(),
        la_name,
        establishment_number: optional(get(NUMBER)),
        name,
        type_code: optional(get(TYPE_CODE)),
        type_name: optional(get(TYPE_NAME)),
        status,
        opened_on: date(get(OPENED), OPENED)?,
        closed_on: date(get(CLOSED), CLOSED)?,
        phase_code: optional(get(PHASE_CODE)),
        phase_name: optional(get(PHASE_NAME)),
        ukprn: optional(ukprn),
        street: optional(get(STREET)),
        town: optional(get(TOWN)),
        postcode: optional(get(POSTCODE)).map(|p| p.to_uppercase()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "URN,LA (code),LA (name),EstablishmentNumber,EstablishmentName,\
TypeOfEstablishment (code),TypeOfEstablishment (name),EstablishmentStatus (code),\
EstablishmentStatus (name),OpenDate,CloseDate,PhaseOfEducation (code),PhaseOfEducation (name),\
UKPRN,Street,Town,Postcode\n";

    #[test]
    fn windows_1252_and_utf8_with_a_bom_read_alike() {
        let row = "100000,801,Brampton Council,5342,\"St Th\u{e9}r\u{e8}se\u{2019}s High School, Thornbury\",28,Academy sponsor led,1,Open,01-09-1988,,04,Secondary,11791965,143 High Street,Brampton,KR7 8NG\n";
        let utf8 = format!("{HEADER}{row}");
        let (cp1252, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&utf8);
        assert!(!unmappable);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(utf8.as_bytes());
        let a = read(&cp1252).unwrap();
        let b = read(&bom).unwrap();
        let c = read(utf8.as_bytes()).unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        let school = a[0].clone().unwrap();
        assert_eq!(
            school.name,
            "St Th\u{e9}r\u{e8}se\u{2019}s High School, Thornbury"
        );
        assert_eq!(school.opened_on.as_deref(), Some("1988-09-01"));
        assert_eq!(school.status, OrgStatus::Open);
        assert_eq!(school.line, 2);
    }

    #[test]
    fn bad_rows_are_rejected_with_their_line_and_reason() {
        let text = format!(
            "{HEADER}\
12,801,Brampton Council,1,A School,01,Community school,1,Open,,,02,Primary,,,,\n\
100001,8011,Brampton Council,1,A School,01,Community school,1,Open,,,02,Primary,,,,\n\
100002,801,Brampton Council,1,,01,Community school,1,Open,,,02,Primary,,,,\n\
100003,801,Brampton Council,1,A School,01,Community school,9,Vanished,,,02,Primary,,,,\n\
100004,801,Brampton Council,1,A School,01,Community school,1,Open,31-02-2020,,02,Primary,,,,\n\
100005,801,Brampton Council,1,A School,01,Community school,1,Open,,,02,Primary,123,,,\n\
100006,801,Brampton Council,1,Good School,01,Community school,2,Closed,01-09-1990,31-08-2020,02,Primary,12345678,,,kr7 8ng\n"
        );
        let rows = read(text.as_bytes()).unwrap();
        let reasons: Vec<(u64, String)> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|r| (r.line, r.reason.clone()))
            .collect();
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        assert_eq!(
            reasons[0],
            (2, "the URN \"12\" is not 6 or 7 digits".to_owned())
        );
        assert!(reasons[1].1.contains("LA code"));
        assert!(reasons[2].1.contains("name is missing"));
        assert!(reasons[3].1.contains("status"));
        assert!(reasons[4].1.contains("not a date"));
        assert!(reasons[5].1.contains("UKPRN"));
        let good = rows[6].clone().unwrap();
        assert_eq!(good.line, 8);
        assert_eq!(good.status, OrgStatus::Closed);
        assert_eq!(good.postcode.as_deref(), Some("KR7 8NG"));
    }

    #[test]
    fn line_numbers_hold_for_crlf_files() {
        let text = format!(
            "{HEADER}100001,801,B,1,A,01,C,1,Open,,,02,P,,,,\n12,801,B,1,A,01,C,1,Open,,,02,P,,,,\n"
        )
        .replace('\n', "\r\n");
        let rows = read(text.as_bytes()).unwrap();
        assert_eq!(rows[0].as_ref().unwrap().line, 2);
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
    }

    #[test]
    fn a_file_without_the_columns_is_refused_whole() {
        assert!(matches!(read(b""), Err(ReadError::Empty)));
        assert!(matches!(
            read(b"name,email\nA,b@c\n"),
            Err(ReadError::MissingColumn { column: "URN", .. })
        ));
    }
}
