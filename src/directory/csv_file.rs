//! What both imports share about reading a CSV file: the encoding (UTF-8, with or without a
//! byte-order mark, else Windows-1252), columns found by heading, and each row turned into a
//! value or a [`Rejected`] line with the line number a person sees in an editor. Files are
//! streamed: memory stays the same whatever the file's size, and a "row" that never ends (a
//! stray quote, a binary file) is refused once it passes [`MAX_ROW_BYTES`].

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex, PoisonError};

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
    #[error("line {line}: a row runs on for more than {} MiB; is this a CSV file?", MAX_ROW_BYTES >> 20)]
    RowTooLong { line: u64 },
    #[error("cannot read the file: {0}")]
    Io(String),
}

/// The most bytes one row (with any blank lines before it) may span.
pub const MAX_ROW_BYTES: u64 = 4 << 20;

/// Rejected rows reported one by one; beyond this they are only counted.
pub const MAX_REJECTED_SHOWN: usize = 1000;

/// Rejected rows: the first [`MAX_REJECTED_SHOWN`] with their lines, and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejections {
    pub shown: Vec<Rejected>,
    pub total: usize,
}

impl Rejections {
    pub fn push(&mut self, rejected: Rejected) {
        self.total += 1;
        if self.shown.len() < MAX_REJECTED_SHOWN {
            self.shown.push(rejected);
        }
    }

    /// Those not shown.
    pub fn more(&self) -> usize {
        self.total - self.shown.len()
    }

    pub fn sort(&mut self) {
        self.shown.sort_by_key(|r| r.line);
    }
}

/// Whether the whole of `input` is UTF-8, read in pieces (a character split between two
/// pieces is carried over), then rewound to just after any byte-order mark.
fn sniff_utf8<R: Read + Seek>(input: &mut R) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0usize;
    let mut utf8 = true;
    loop {
        let n = input.read(&mut buf[carry..])?;
        let filled = carry + n;
        if n == 0 {
            utf8 &= carry == 0;
            break;
        }
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..filled, 0);
                carry = filled - valid;
            }
            Err(_) => {
                utf8 = false;
                break;
            }
        }
    }
    input.seek(SeekFrom::Start(0))?;
    let mut bom = [0u8; 3];
    let mut got = 0;
    while got < 3 {
        match input.read(&mut bom[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let skip = if got == 3 && bom == *b"\xEF\xBB\xBF" {
        3
    } else {
        0
    };
    input.seek(SeekFrom::Start(skip))?;
    Ok(utf8)
}

/// One record's fields by column heading (headings compared trimmed and lower-cased).
#[derive(Debug)]
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

/// A run of line-break bytes (`\r`, `\n`) at `start..end`, holding `feeds` line feeds.
#[derive(Debug, Clone, Copy)]
struct Breaks {
    start: u64,
    end: u64,
    feeds: u64,
}

/// Where the line breaks are in the part of the file read but not yet numbered, so a record's
/// byte offset becomes the line a person sees in an editor. Only breaks ahead of the last
/// record are kept (a run of blank lines is one entry).
#[derive(Debug, Default)]
struct LineTracker {
    pulled: u64,
    pending: VecDeque<Breaks>,
    line: u64,
    last_start: u64,
}

impl LineTracker {
    fn saw(&mut self, offset: u64, byte: u8) {
        let feed = u64::from(byte == b'\n');
        match self.pending.back_mut() {
            Some(run) if run.end == offset => {
                run.end += 1;
                run.feeds += feed;
            }
            _ => self.pending.push_back(Breaks {
                start: offset,
                end: offset + 1,
                feeds: feed,
            }),
        }
    }

    /// The line a record starting at byte `start` is on. After CRLF the csv crate's offset
    /// stops one short, on the line feed, so line breaks at `start` are skipped first.
    fn line_of(&mut self, start: u64) -> u64 {
        let mut start = start;
        if let Some(run) = self
            .pending
            .iter()
            .find(|r| r.start <= start && start < r.end)
        {
            start = run.end;
        }
        while let Some(run) = self.pending.front() {
            if run.end > start {
                break;
            }
            self.line += run.feeds;
            self.pending.pop_front();
        }
        self.last_start = start;
        self.line
    }
}

/// The input as the csv reader sees it, noting line breaks and refusing endless rows.
struct Tracked<R> {
    inner: R,
    tracker: Arc<Mutex<LineTracker>>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut t = self.tracker.lock().unwrap_or_else(PoisonError::into_inner);
        let base = t.pulled;
        for (i, b) in buf[..n].iter().enumerate() {
            if matches!(b, b'\r' | b'\n') {
                t.saw(base + i as u64, *b);
            }
        }
        t.pulled += n as u64;
        if t.pulled - t.last_start > MAX_ROW_BYTES {
            return Err(io::Error::other(RowTooLong));
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct RowTooLong;

impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("row too long")
    }
}

impl std::error::Error for RowTooLong {}

/// The rows of a CSV file, read one at a time with `parse`.
pub struct Rows<R, F> {
    reader: csv::Reader<Tracked<R>>,
    tracker: Arc<Mutex<LineTracker>>,
    columns: HashMap<String, usize>,
    utf8: bool,
    record: csv::ByteRecord,
    parse: F,
    /// Rows read so far.
    pub read: usize,
}

impl<R, F> std::fmt::Debug for Rows<R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("read", &self.read)
            .field("utf8", &self.utf8)
            .finish_non_exhaustive()
    }
}

impl<R, T, F> Rows<R, F>
where
    R: Read + Seek,
    F: Fn(u64, &Fields<'_>) -> Result<T, String>,
{
    /// Opens `input`, after checking the `required` headings are there; `expected` names the
    /// kind of file in the error when they are not.
    pub fn open(
        mut input: R,
        required: &[&'static str],
        expected: &'static str,
        parse: F,
    ) -> Result<Self, ReadError> {
        let utf8 = sniff_utf8(&mut input).map_err(|e| ReadError::Io(e.to_string()))?;
        let tracker = Arc::new(Mutex::new(LineTracker {
            line: 1,
            ..LineTracker::default()
        }));
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(Tracked {
                inner: input,
                tracker: tracker.clone(),
            });
        let headers = match reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(read_error(e, 1)),
        };
        let headers = decode_record(&headers, utf8);
        if headers.iter().all(|h| h.trim().is_empty()) {
            return Err(ReadError::Empty);
        }
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
        Ok(Self {
            reader,
            tracker,
            columns,
            utf8,
            record: csv::ByteRecord::new(),
            parse,
            read: 0,
        })
    }

    /// The next row (parsed, or rejected with its line), or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Result<T, Rejected>>, ReadError> {
        let more = match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => more,
            Err(e) => {
                let line = self
                    .tracker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .line;
                return Err(read_error(e, line + 1));
            }
        };
        if !more {
            return Ok(None);
        }
        self.read += 1;
        let start = self.record.position().map_or(0, csv::Position::byte);
        let line = self
            .tracker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .line_of(start);
        let record = decode_record(&self.record, self.utf8);
        let fields = Fields {
            record: &record,
            columns: &self.columns,
        };
        Ok(Some(
            (self.parse)(line, &fields).map_err(|reason| Rejected { line, reason }),
        ))
    }
}

impl<R, T, F> Rows<R, F>
where
    R: Read + Seek,
    F: Fn(u64, &Fields<'_>) -> Result<T, String>,
{
    /// Every remaining row (for tests of the readers).
    #[cfg(test)]
    pub fn collect_all(mut self) -> Result<Vec<Result<T, Rejected>>, ReadError> {
        let mut out = Vec::new();
        while let Some(row) = self.next_row()? {
            out.push(row);
        }
        Ok(out)
    }
}

/// How a reader turns one row into a value, or says why it cannot.
pub type Parse<T> = fn(u64, &Fields<'_>) -> Result<T, String>;

/// A record's fields as text in the file's encoding.
fn decode_record(record: &csv::ByteRecord, utf8: bool) -> csv::StringRecord {
    record
        .iter()
        .map(|field| {
            if utf8 {
                String::from_utf8_lossy(field).into_owned()
            } else {
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(field)
                    .0
                    .into_owned()
            }
        })
        .collect()
}

fn read_error(e: csv::Error, line: u64) -> ReadError {
    match e.kind() {
        csv::ErrorKind::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<RowTooLong>().is_some()) =>
        {
            ReadError::RowTooLong { line }
        }
        csv::ErrorKind::Io(io) => ReadError::Io(io.to_string()),
        _ => ReadError::Csv(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn lines_of(text: &[u8]) -> Vec<(u64, String)> {
        let mut rows = Rows::open(Cursor::new(text), &["a"], "a test file", |line, f| {
            Ok::<_, String>((line, f.get("a").to_owned()))
        })
        .unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next_row().unwrap() {
            out.push(row.unwrap());
        }
        out
    }

    #[test]
    fn rows_have_the_line_numbers_an_editor_shows() {
        let want = vec![
            (2, "1".to_owned()),
            (3, "x\ny".to_owned()),
            (6, "4".to_owned()),
        ];
        assert_eq!(lines_of(b"a,b\n1,2\n\"x\ny\",3\n\n4,5\n"), want);
        let crlf = lines_of(b"a,b\r\n1,2\r\n\"x\r\ny\",3\r\n\r\n4,5\r\n");
        assert_eq!(crlf[0].0, 2);
        assert_eq!(crlf[1].0, 3);
        assert_eq!(crlf[2].0, 6);
    }

    #[test]
    fn encodings_are_told_apart_across_read_boundaries() {
        // A curly apostrophe in Windows-1252, after enough text to span reads.
        let mut text = b"a\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 70_000));
        text.extend(b"\nSt Bede\x92s\n");
        assert_eq!(lines_of(&text)[1].1, "St Bede\u{2019}s");
        // The same in UTF-8 with a byte-order mark, the character split across a read.
        let mut text = b"\xEF\xBB\xBFa\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 65_533));
        text.extend("\nSt Bede\u{2019}s\n".as_bytes());
        assert_eq!(lines_of(&text)[1].1, "St Bede\u{2019}s");
    }

    #[test]
    fn a_row_that_never_ends_is_refused_with_its_line() {
        let mut text = b"a,b\n1,2\n\"unclosed,".to_vec();
        text.extend(std::iter::repeat_n(b'z', 5 << 20));
        let mut rows = Rows::open(Cursor::new(text), &["a"], "a test file", |_, f| {
            Ok::<_, String>(f.get("a").to_owned())
        })
        .unwrap();
        assert!(rows.next_row().unwrap().is_some());
        match rows.next_row() {
            Err(ReadError::RowTooLong { line }) => assert_eq!(line, 3),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn empty_and_headless_files_are_refused() {
        let open = |text: &'static [u8]| {
            Rows::open(Cursor::new(text), &["a"], "a test file", |_, _| {
                Ok::<_, String>(())
            })
            .map(|_| ())
        };
        assert!(matches!(open(b""), Err(ReadError::Empty)));
        assert!(matches!(open(b"\n\n"), Err(ReadError::Empty)));
        assert!(matches!(
            open(b"x,y\n1,2\n"),
            Err(ReadError::MissingColumn { column: "a", .. })
        ));
    }
}
