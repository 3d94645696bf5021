//! Seeds: CSV files loaded with `COPY`, column types inferred as dbt does (integer, numeric,
//! boolean, date, timestamp, text) unless `column_types` says otherwise.

use std::collections::BTreeMap;
use std::path::Path;

/// A CSV file read for loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedData {
    /// Column names and PostgreSQL types, in file order.
    pub columns: Vec<(String, String)>,
    /// The bytes to send to `COPY ... (format csv, header true)`.
    pub data: Vec<u8>,
    pub rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Integer,
    Numeric,
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
            Kind::Numeric => "numeric",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp without time zone",
            Kind::TimestampTz => "timestamp with time zone",
            Kind::Text => "text",
        }
    }
}

fn is_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && value.parse::<jiff::civil::Date>().is_ok()
}

fn timestamp_kind(value: &str) -> Option<Kind> {
    if value.len() < 16 || !is_date(&value[..10]) || !matches!(value.as_bytes()[10], b' ' | b'T') {
        return None;
    }
    let rest = &value[11..];
    let has_zone = rest.ends_with('Z') || rest.rfind(['+', '-']).is_some_and(|i| i >= 5);
    let normalized = value.replacen(' ', "T", 1);
    if has_zone {
        normalized
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|_| Kind::TimestampTz)
    } else {
        normalized
            .parse::<jiff::civil::DateTime>()
            .ok()
            .map(|_| Kind::Timestamp)
    }
}

/// The narrowest kind a single non-empty value fits.
fn kind_of(value: &str) -> Kind {
    if value.parse::<i32>().is_ok() {
        Kind::Integer
    } else if value.parse::<f64>().is_ok()
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        Kind::Numeric
    } else if matches!(value.to_ascii_lowercase().as_str(), "true" | "false") {
        Kind::Boolean
    } else if is_date(value) {
        Kind::Date
    } else if let Some(kind) = timestamp_kind(value) {
        kind
    } else {
        Kind::Text
    }
}

/// Two kinds seen in one column: the narrowest that holds both.
fn widen(a: Kind, b: Kind) -> Kind {
    use Kind::*;
    match (a.min(b), a.max(b)) {
        (x, y) if x == y => x,
        (Integer, Numeric) => Numeric,
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

/// Reads a seed file. Column names are lowercased unless `quote_columns` is true (PostgreSQL
/// folds unquoted names, which is what dbt's default produces).
pub fn read(
    path: &Path,
    column_types: &BTreeMap<String, String>,
    quote_columns: bool,
    delimiter: u8,
) -> Result<SeedData, SeedError> {
    let shown = || path.display().to_string();
    let mut data = std::fs::read(path).map_err(|source| SeedError::Read {
        path: shown(),
        source,
    })?;
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(data.as_slice());
    let malformed = |error: csv::Error, line: u64| SeedError::Malformed {
        path: shown(),
        line,
        message: error.to_string(),
    };
    let headers = reader.headers().map_err(|e| malformed(e, 1))?.clone();
    if headers.is_empty() || headers.iter().any(|h| h.trim().is_empty()) {
        return Err(SeedError::NoHeader { path: shown() });
    }
    let mut kinds: Vec<Option<Kind>> = vec![None; headers.len()];
    let mut rows = 0;
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| malformed(e, line as u64 + 2))?;
        if record.len() != headers.len() {
            return Err(SeedError::Ragged {
                path: shown(),
                line: line + 2,
                values: record.len(),
                columns: headers.len(),
            });
        }
        for (i, value) in record.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            let kind = kind_of(value);
            kinds[i] = Some(kinds[i].map_or(kind, |k| widen(k, kind)));
        }
        rows += 1;
    }
    let columns = headers
        .iter()
        .zip(kinds)
        .map(|(name, kind)| {
            let name = if quote_columns {
                name.to_owned()
            } else {
                name.to_lowercase()
            };
            let sql = column_types
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&name))
                .map_or_else(
                    || kind.unwrap_or(Kind::Text).sql().to_owned(),
                    |(_, v)| v.clone(),
                );
            (name, sql)
        })
        .collect();
    Ok(SeedData {
        columns,
        data,
        rows,
    })
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
        let seed = read(&path, &BTreeMap::new(), false, b',').unwrap();
        std::fs::remove_file(&path).unwrap();
        seed.columns
    }

    #[test]
    fn infers_types_like_dbt() {
        let columns = infer(
            "Id,amount,active,day,at,at_utc,note\n1,1.5,true,2024-01-31,2024-01-31 10:00:00,2024-01-31T10:00:00Z,x\n2,2,False,2024-02-01,2024-02-01 00:00:00,,\n",
        );
        let types: Vec<&str> = columns.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(columns[0].0, "id");
        assert_eq!(
            types,
            [
                "integer",
                "numeric",
                "boolean",
                "date",
                "timestamp without time zone",
                "timestamp with time zone",
                "text"
            ]
        );
    }

    #[test]
    fn mixed_columns_widen() {
        let columns = infer("a,b,c\n1,2024-01-01,1\n2.5,2024-01-01 10:00:00,x\n");
        let types: Vec<&str> = columns.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(types, ["numeric", "timestamp without time zone", "text"]);
    }

    #[test]
    fn ragged_rows_are_errors_with_the_line() {
        let path =
            std::env::temp_dir().join(format!("kiln-seed-ragged-{}.csv", std::process::id()));
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let error = read(&path, &BTreeMap::new(), false, b',')
            .unwrap_err()
            .to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains(":3:"), "{error}");
    }
}
