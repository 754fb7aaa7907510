//! What both imports share about reading a CSV file: the encoding (UTF-8, with or without a
//! byte-order mark, else Windows-1252), columns found by heading, and each row turned into a
//! value or a [`Rejected`] line with the line number a person sees in an editor.

use std::collections::HashMap;

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has no {column:?} column; is it {expected}?")]
    MissingColumn {
        column: &'static str,
        expected: &'static str,
    },
    #[error("the file is not a CSV file: {0}")]
    Csv(String),
}

/// The text of a file: UTF-8 (a byte-order mark is dropped), otherwise Windows-1252.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// One record's fields by column heading (headings compared trimmed and lower-cased).
pub struct Fields<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl<'a> Fields<'a> {
    /// The trimmed value under `heading`, or "" when the column or value is absent.
    pub fn get(&self, heading: &str) -> &'a str {
        self.columns
            .get(&heading.to_lowercase())
            .and_then(|i| self.record.get(*i))
            .map(str::trim)
            .unwrap_or_default()
    }
}

/// Line numbers of records by their byte offsets, counted on from the last record (so reading
/// stays linear in the file's size).
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl Lines<'_> {
    /// The line a record starting at byte `start` is on (after CRLF the csv crate's offset
    /// stops one short, on the line feed, so line breaks at `start` are skipped).
    fn of(&mut self, start: usize) -> u64 {
        let mut start = start.min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.at {
            self.line += self.text[self.at..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.at = start;
        }
        self.line
    }
}

/// Reads every row of `bytes` with `parse`, after checking the `required` headings are
/// there; `expected` names the kind of file in the error when they are not.
pub fn read<T>(
    bytes: &[u8],
    required: &[&'static str],
    expected: &'static str,
    parse: impl Fn(u64, &Fields<'_>) -> Result<T, String>,
) -> Result<Vec<Result<T, Rejected>>, ReadError> {
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
    if let Some(column) = required
        .iter()
        .find(|c| !columns.contains_key(&c.to_lowercase()))
    {
        return Err(ReadError::MissingColumn { column, expected });
    }
    let mut rows = Vec::new();
    let mut lines = Lines {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    for (index, record) in reader.records().enumerate() {
        // The header is line 1.
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .and_then(|p| usize::try_from(p.byte()).ok())
            .map_or(index as u64 + 2, |start| lines.of(start));
        rows.push(match record {
            Ok(record) => {
                let fields = Fields {
                    record: &record,
                    columns: &columns,
                };
                parse(line, &fields).map_err(|reason| Rejected { line, reason })
            }
            Err(e) => Err(Rejected {
                line,
                reason: format!("the row cannot be read ({e})"),
            }),
        });
    }
    Ok(rows)
}
