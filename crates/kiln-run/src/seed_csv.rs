//! Seeds: CSV files loaded with `COPY`, column types inferred as dbt-postgres infers them
//! (integer, float8 for numbers with decimals, boolean, date, timestamp, text) unless
//! `column_types` says otherwise. Integers too large for `integer` are `bigint` (dbt says
//! `integer` and the load fails).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A CSV file inspected for loading: its columns and types. The rows stay in the file, which
/// [`SeedFile::open`] streams to `COPY`, so that a seed of any size loads in bounded memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFile {
    /// Column names and PostgreSQL types, in file order.
    pub columns: Vec<(String, String)>,
    pub rows: usize,
    path: PathBuf,
}

impl SeedFile {
    /// The file's bytes for `COPY ... (format csv, header true)`, without a UTF-8 byte order mark.
    pub fn open(&self) -> std::io::Result<impl Read + use<>> {
        open_without_bom(&self.path)
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A file read from its start, past a UTF-8 byte order mark if it has one.
fn open_without_bom(path: &Path) -> std::io::Result<impl Read + use<>> {
    let mut file = File::open(path)?;
    let mut start = Vec::with_capacity(BOM.len());
    (&mut file).take(BOM.len() as u64).read_to_end(&mut start)?;
    if start == BOM {
        start.clear();
    }
    Ok(std::io::Cursor::new(start).chain(file))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Integer,
    BigInt,
    /// A number with decimals: dbt-postgres' `float8`.
    Float,
    Boolean,
    Date,
    Timestamp,
    TimestampTz,
    Text,
}

impl Kind {
    fn sql(self) -> &'static str {
        match self {
            Kind::Integer => "integer",
            Kind::BigInt => "bigint",
            Kind::Float => "float8",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp without time zone",
            Kind::TimestampTz => "timestamp with time zone",
            Kind::Text => "text",
        }
    }
}

fn is_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        && value.parse::<jiff::civil::Date>().is_ok()
}

fn timestamp_kind(value: &str) -> Option<Kind> {
    if value.len() < 16 || !is_date(&value[..10]) || !matches!(value.as_bytes()[10], b' ' | b'T') {
        return None;
    }
    let rest = &value[11..];
    let has_zone = rest.ends_with('Z') || rest.rfind(['+', '-']).is_some_and(|i| i >= 5);
    // jiff reads a space between date and time as it reads `T`.
    if has_zone {
        value
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|_| Kind::TimestampTz)
    } else {
        value
            .parse::<jiff::civil::DateTime>()
            .ok()
            .map(|_| Kind::Timestamp)
    }
}

/// The narrowest kind a single non-empty value fits.
fn kind_of(value: &str) -> Kind {
    if value.parse::<i32>().is_ok() {
        Kind::Integer
    } else if value.parse::<i64>().is_ok() {
        Kind::BigInt
    } else if value.parse::<f64>().is_ok()
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        Kind::Float
    } else if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
        Kind::Boolean
    } else if is_date(value) {
        Kind::Date
    } else if let Some(kind) = timestamp_kind(value) {
        kind
    } else {
        Kind::Text
    }
}

/// Whether a value fits a column already seen to be of `kind` (the common case, checked
/// without trying the narrower kinds first).
fn fits(kind: Kind, value: &str) -> bool {
    match kind {
        Kind::Text => true,
        Kind::Integer => value.parse::<i32>().is_ok(),
        Kind::BigInt => matches!(kind_of(value), Kind::Integer | Kind::BigInt),
        Kind::Date => is_date(value),
        Kind::Timestamp | Kind::TimestampTz => timestamp_kind(value) == Some(kind),
        Kind::Float => matches!(kind_of(value), Kind::Integer | Kind::BigInt | Kind::Float),
        Kind::Boolean => kind_of(value) == kind,
    }
}

/// Two kinds seen in one column: the narrowest that holds both.
fn widen(a: Kind, b: Kind) -> Kind {
    use Kind::*;
    match (a.min(b), a.max(b)) {
        (x, y) if x == y => x,
        (Integer, BigInt) => BigInt,
        (Integer | BigInt, Float) => Float,
        (Date, Timestamp) => Timestamp,
        (Date | Timestamp, TimestampTz) => TimestampTz,
        _ => Text,
    }
}

/// Why a seed file cannot be loaded. Paths are as given (relative to the project when the
/// runner reads them).
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: the first line must name every column")]
    NoHeader { path: String },
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}:{line}: {values} values, but the header names {columns} columns")]
    Ragged {
        path: String,
        line: usize,
        values: usize,
        columns: usize,
    },
}

impl SeedError {
    /// The same error naming the file as `shown` (relative to the project, for messages).
    pub fn shown_as(self, shown: &Path) -> SeedError {
        let shown = shown.display().to_string();
        match self {
            SeedError::Read { source, .. } => SeedError::Read {
                path: shown,
                source,
            },
            SeedError::NoHeader { .. } => SeedError::NoHeader { path: shown },
            SeedError::Malformed { line, message, .. } => SeedError::Malformed {
                path: shown,
                line,
                message,
            },
            SeedError::Ragged {
                line,
                values,
                columns,
                ..
            } => SeedError::Ragged {
                path: shown,
                line,
                values,
                columns,
            },
        }
    }
}

/// Reads a seed file through once to find its columns' types (streaming: the rows are not
/// kept). Column names are lowercased unless `quote_columns` is true (PostgreSQL folds unquoted
/// names, which is what dbt's default produces). A column typed in `column_types` is not
/// inspected. A large file without quoted values is read in parts on every core.
pub fn inspect(
    path: &Path,
    column_types: &BTreeMap<String, String>,
    quote_columns: bool,
    delimiter: u8,
) -> Result<SeedFile, SeedError> {
    let shown = || path.display().to_string();
    let file = open_without_bom(path).map_err(|source| SeedError::Read {
        path: shown(),
        source,
    })?;
    let mut reader = csv_reader(delimiter, file);
    let headers = reader
        .byte_headers()
        .map_err(|e| malformed(path, e, 1))?
        .clone();
    let headers: Vec<String> = headers
        .iter()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    if headers.is_empty() || headers.iter().any(|h| h.trim().is_empty()) {
        return Err(SeedError::NoHeader { path: shown() });
    }
    let names: Vec<String> = headers
        .iter()
        .map(|name| {
            if quote_columns {
                name.to_owned()
            } else {
                name.to_lowercase()
            }
        })
        .collect();
    let declared: Vec<Option<&String>> = names
        .iter()
        .map(|name| {
            column_types
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .collect();
    let scan = Scan {
        path,
        names: &names,
        delimiter,
        inspected: (0..names.len())
            .filter(|&i| declared[i].is_none())
            .collect(),
    };
    let bom = if has_bom(path) { BOM.len() as u64 } else { 0 };
    let records_start = bom + reader.position().byte();
    let found = match scan.in_parts(records_start) {
        Some(found) => found,
        None => scan.records(&mut reader, 2, u64::MAX, false)?,
    };
    let columns = names
        .into_iter()
        .zip(found.kinds)
        .zip(declared)
        .map(|((name, kind), declared)| {
            let sql =
                declared.map_or_else(|| kind.unwrap_or(Kind::Text).sql().to_owned(), Clone::clone);
            (name, sql)
        })
        .collect();
    Ok(SeedFile {
        columns,
        rows: found.rows,
        path: path.to_owned(),
    })
}

fn csv_reader<R: Read>(delimiter: u8, data: R) -> csv::Reader<BufReader<R>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .buffer_capacity(1 << 20)
        .from_reader(BufReader::with_capacity(1 << 20, data))
}

fn has_bom(path: &Path) -> bool {
    let mut start = Vec::with_capacity(BOM.len());
    File::open(path)
        .and_then(|file| file.take(BOM.len() as u64).read_to_end(&mut start))
        .is_ok_and(|_| start == BOM)
}

fn malformed(path: &Path, error: csv::Error, line: u64) -> SeedError {
    SeedError::Malformed {
        path: path.display().to_string(),
        line,
        message: error.to_string(),
    }
}

/// What reading rows found: each column's narrowest kind (`None`: no value), and the rows.
struct Found {
    kinds: Vec<Option<Kind>>,
    rows: usize,
}

impl Found {
    /// The kinds of two parts of one file.
    fn join(mut self, other: Found) -> Found {
        for (kind, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            *kind = match (*kind, theirs) {
                (Some(a), Some(b)) => Some(widen(a, b)),
                (a, b) => a.or(b),
            };
        }
        self.rows += other.rows;
        self
    }
}

/// Reading a seed's rows for their kinds.
struct Scan<'a> {
    path: &'a Path,
    names: &'a [String],
    delimiter: u8,
    /// The columns whose values are looked at (those without a declared type).
    inspected: Vec<usize>,
}

impl Scan<'_> {
    /// Files smaller than this are read in one pass.
    const PARTS_FROM: u64 = 16 << 20;

    /// The rows from `start` read in one part per core. `None` when the file is small, a value
    /// is quoted (a line break may then sit inside a value, so a part cannot start at any
    /// line) or anything is wrong: the caller reads the file in one pass, which says where.
    fn in_parts(&self, start: u64) -> Option<Found> {
        let size = std::fs::metadata(self.path).ok()?.len();
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as u64;
        if size < Self::PARTS_FROM || cores < 2 || start >= size {
            return None;
        }
        let step = (size - start).div_ceil(cores);
        let bounds: Vec<(u64, u64)> = (0..cores)
            .map(|i| (start + i * step, (start + (i + 1) * step).min(size)))
            .filter(|(from, to)| from < to)
            .collect();
        std::thread::scope(|scope| {
            let parts: Vec<_> = bounds
                .iter()
                .map(|&(from, to)| scope.spawn(move || self.part(start, from, to)))
                .collect();
            parts
                .into_iter()
                .map(|part| part.join().ok().flatten())
                .try_fold(None, |joined: Option<Found>, part| {
                    let part = part?;
                    Some(Some(match joined {
                        Some(joined) => joined.join(part),
                        None => part,
                    }))
                })
                .flatten()
        })
    }

    /// The rows that start in bytes `from..to`: a part other than the first begins after the
    /// first line break at or after `from - 1`.
    fn part(&self, start: u64, from: u64, to: u64) -> Option<Found> {
        use std::io::{BufRead, Seek, SeekFrom};
        let mut file = BufReader::with_capacity(1 << 20, File::open(self.path).ok()?);
        let mut begin = from;
        if from > start {
            file.seek(SeekFrom::Start(from - 1)).ok()?;
            let mut skipped = Vec::new();
            file.read_until(b'\n', &mut skipped).ok()?;
            begin = from - 1 + skipped.len() as u64;
        } else {
            file.seek(SeekFrom::Start(from)).ok()?;
        }
        if begin >= to {
            return Some(Found {
                kinds: vec![None; self.names.len()],
                rows: 0,
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .quoting(false)
            .buffer_capacity(1 << 20)
            .from_reader(file);
        self.records(&mut reader, 0, to - begin, true).ok()
    }

    /// Reads records until the end or until one starts at byte `stop` of `reader`.
    /// `first_line` numbers the first record in errors. With `unquoted`, a value holding a
    /// quote is an error (the reader was told not to interpret them).
    fn records<R: Read>(
        &self,
        reader: &mut csv::Reader<R>,
        first_line: u64,
        stop: u64,
        unquoted: bool,
    ) -> Result<Found, SeedError> {
        let columns = self.names.len();
        let mut kinds: Vec<Option<Kind>> = vec![None; columns];
        let mut open = self.inspected.clone();
        let mut record = csv::ByteRecord::new();
        let mut rows = 0;
        loop {
            let line = first_line + rows as u64;
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => return Err(malformed(self.path, error, line)),
            }
            if record.position().is_some_and(|p| p.byte() >= stop) {
                break;
            }
            if record.len() != columns {
                return Err(SeedError::Ragged {
                    path: self.path.display().to_string(),
                    line: line as usize,
                    values: record.len(),
                    columns,
                });
            }
            if unquoted && record.as_slice().contains(&b'"') {
                return Err(SeedError::Malformed {
                    path: self.path.display().to_string(),
                    line,
                    message: "a quoted value".to_owned(),
                });
            }
            let mut became_text = false;
            for &i in &open {
                let value = &record[i];
                if value.is_empty() {
                    continue;
                }
                let Ok(value) = std::str::from_utf8(value) else {
                    return Err(SeedError::Malformed {
                        path: self.path.display().to_string(),
                        line,
                        message: format!("the value of column {} is not UTF-8", self.names[i]),
                    });
                };
                let kind = match kinds[i] {
                    Some(seen) if fits(seen, value) => continue,
                    Some(seen) => widen(seen, kind_of(value)),
                    None => kind_of(value),
                };
                kinds[i] = Some(kind);
                became_text |= kind == Kind::Text;
            }
            if became_text {
                open.retain(|&i| kinds[i] != Some(Kind::Text));
            }
            rows += 1;
        }
        Ok(Found { kinds, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(csv: &str) -> Vec<(String, String)> {
        let path = std::env::temp_dir().join(format!(
            "kiln-seed-{}-{}.csv",
            std::process::id(),
            csv.len()
        ));
        std::fs::write(&path, csv).unwrap();
        let seed = inspect(&path, &BTreeMap::new(), false, b',').unwrap();
        std::fs::remove_file(&path).unwrap();
        seed.columns
    }

    #[test]
    fn infers_types_like_dbt() {
        let columns = infer(
            "Id,amount,active,day,at,at_utc,note,big\n1,1.5,true,2024-01-31,2024-01-31 10:00:00,2024-01-31T10:00:00Z,x,1\n2,2,False,2024-02-01,2024-02-01 00:00:00,,,3000000000\n",
        );
        let types: Vec<&str> = columns.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(columns[0].0, "id");
        assert_eq!(
            types,
            [
                "integer",
                "float8",
                "boolean",
                "date",
                "timestamp without time zone",
                "timestamp with time zone",
                "text",
                // dbt says `integer`, and the load fails.
                "bigint",
            ]
        );
    }

    #[test]
    fn mixed_columns_widen() {
        let columns = infer("a,b,c\n1,2024-01-01,1\n2.5,2024-01-01 10:00:00,x\n");
        let types: Vec<&str> = columns.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(types, ["float8", "timestamp without time zone", "text"]);
    }

    #[test]
    fn ragged_rows_are_errors_with_the_line() {
        let path =
            std::env::temp_dir().join(format!("kiln-seed-ragged-{}.csv", std::process::id()));
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let error = inspect(&path, &BTreeMap::new(), false, b',')
            .unwrap_err()
            .to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains(":3:"), "{error}");
    }

    /// A file over 16 MiB: read in parts, with a part boundary at any byte.
    fn large(rows: usize, row: impl Fn(usize) -> String) -> (Vec<String>, usize) {
        let path =
            std::env::temp_dir().join(format!("kiln-seed-large-{}-{rows}.csv", std::process::id()));
        let mut csv = String::from("id,amount,day,note\n");
        for i in 0..rows {
            csv.push_str(&row(i));
        }
        assert!(csv.len() as u64 > Scan::PARTS_FROM);
        std::fs::write(&path, csv).unwrap();
        let seed = inspect(&path, &BTreeMap::new(), false, b',').unwrap();
        std::fs::remove_file(&path).unwrap();
        (
            seed.columns.into_iter().map(|(_, t)| t).collect(),
            seed.rows,
        )
    }

    #[test]
    fn a_large_file_read_in_parts_finds_what_one_pass_finds() {
        let rows = 1_200_000;
        // The last row widens `amount` to float8 and `day` to a timestamp; the first row
        // makes `note` text.
        let (types, count) = large(rows, |i| {
            if i + 1 == rows {
                format!("{i},2.5,2024-01-02 10:00:00,\n")
            } else if i == 0 {
                format!("{i},1,2024-01-01,first\n")
            } else {
                format!("{i},{},2024-01-01,\n", i % 1000)
            }
        });
        assert_eq!(count, rows);
        assert_eq!(
            types,
            ["integer", "float8", "timestamp without time zone", "text"]
        );
    }

    #[test]
    fn a_large_file_with_quoted_line_breaks_counts_its_rows() {
        let rows = 1_000_000;
        let (types, count) = large(rows, |i| format!("{i},{i},2024-01-01,\"a,\nb\"\n"));
        assert_eq!(count, rows);
        assert_eq!(types, ["integer", "integer", "date", "text"]);
    }
}
