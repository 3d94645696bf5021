//! Writing the generated rows: CSV fields, UTC timestamps, money.

use std::collections::BTreeMap;
use std::path::Path;

/// 2025-01-01T00:00:00Z, the start of every generated dataset.
const EPOCH_2025: i64 = 1_735_689_600;

/// A CSV table being built: a header, then one line per row.
pub struct Table {
    text: String,
}

impl Table {
    pub fn new(columns: &[&str]) -> Self {
        Table {
            text: format!("{}\n", columns.join(",")),
        }
    }

    pub fn row<S: AsRef<str>>(&mut self, fields: &[S]) {
        let line: Vec<String> = fields.iter().map(|f| field(f.as_ref())).collect();
        self.text.push_str(&line.join(","));
        self.text.push('\n');
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// A CSV field, quoted when it must be.
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `2025-01-01 00:00:00+00` plus `seconds`.
pub fn timestamp(seconds: i64) -> String {
    let base = jiff::Timestamp::from_second(EPOCH_2025).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let at = base
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or(base);
    at.strftime("%Y-%m-%d %H:%M:%S+00").to_string()
}

/// The UTC date `seconds` after 2025-01-01, as `YYYY-MM-DD`.
pub fn date(seconds: i64) -> String {
    timestamp(seconds)[..10].to_owned()
}

/// Hundredths as a decimal: `-1234` -> `-12.34`.
pub fn cents(value: i64) -> String {
    fixed(value, 2)
}

/// An integer `value` scaled down by 10^`places`, printed exactly.
pub fn fixed(value: i64, places: u32) -> String {
    let scale = 10_i64.pow(places);
    let sign = if value < 0 { "-" } else { "" };
    let (whole, fraction) = (value.abs() / scale, value.abs() % scale);
    if places == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction:0width$}", width = places as usize)
    }
}

/// `numerator / denominator` rounded half away from zero to `places` decimals, as PostgreSQL's
/// `round(numeric, places)` prints it. `None` when the denominator is zero.
pub fn ratio(numerator: i128, denominator: i128, places: u32) -> Option<String> {
    if denominator == 0 {
        return None;
    }
    let scale = 10_i128.pow(places);
    let scaled = numerator * scale;
    let negative = (scaled < 0) != (denominator < 0);
    let (n, d) = (scaled.abs(), denominator.abs());
    let rounded = (2 * n + d) / (2 * d);
    let value = i64::try_from(if negative { -rounded } else { rounded }).ok()?;
    Some(fixed(value, places))
}

/// Writes `files` (path under `out` -> contents), creating folders.
pub fn write_all(out: &Path, files: &[(String, String)]) -> Result<(), String> {
    for (relative, contents) in files {
        let path = out.join(relative);
        let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&path, contents).map_err(io)?;
    }
    Ok(())
}

/// The answer-key seed `answer_key/<name>.csv`: one `metric,value` row per figure.
pub fn answer_key_file(name: &str, key: &BTreeMap<String, String>) -> (String, String) {
    let mut table = Table::new(&["metric", "value"]);
    for (metric, value) in key {
        table.row(&[metric, value]);
    }
    (format!("answer_key/{name}.csv"), table.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_round_half_away_from_zero_like_postgres() {
        assert_eq!(ratio(1, 8, 2).as_deref(), Some("0.13"));
        assert_eq!(ratio(-1, 8, 2).as_deref(), Some("-0.13"));
        assert_eq!(ratio(2, 3, 4).as_deref(), Some("0.6667"));
        assert_eq!(ratio(5, 1, 2).as_deref(), Some("5.00"));
        assert_eq!(ratio(1, 0, 2), None);
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(timestamp(0), "2025-01-01 00:00:00+00");
        assert_eq!(timestamp(86_399), "2025-01-01 23:59:59+00");
        assert_eq!(date(86_400), "2025-01-02");
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(cents(-1234), "-12.34");
        assert_eq!(cents(5), "0.05");
        assert_eq!(fixed(1_080_000, 6), "1.080000");
    }
}
