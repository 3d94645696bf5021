//! dbt's `microbatch` incremental strategy: the model is built for a time window, its parents
//! with an `event_time` read through that window, and the rows merged on the `unique_key`
//! (dbt-postgres' microbatch is a merge). dbt runs the window as one query per batch; Kiln runs
//! it as one query, which gives the same table for a model whose batches are independent (what
//! microbatch asks of a model: each batch reads only its own rows).
//!
//! The window, as dbt's `MicrobatchBuilder` makes it (UTC): it ends at the ceiling of now to
//! the `batch_size`; on the first build (or a full refresh) it starts at `begin` truncated to
//! the batch size, on later runs `lookback` batches (default 1) before the current one.

use jiff::ToSpan;
use jiff::civil::{Date, DateTime};
use kiln_core::{Diagnostic, Node};
use kiln_jinja::EventTimeWindow;

/// dbt's `batch_size` values.
pub const BATCH_SIZES: &[&str] = &["hour", "day", "month", "year"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchSize {
    Hour,
    Day,
    Month,
    Year,
}

impl BatchSize {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "hour" => Self::Hour,
            "day" => Self::Day,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }

    fn truncate(self, at: DateTime) -> DateTime {
        let date = at.date();
        match self {
            Self::Hour => date.at(at.hour(), 0, 0, 0),
            Self::Day => date.at(0, 0, 0, 0),
            Self::Month => date.first_of_month().at(0, 0, 0, 0),
            Self::Year => Date::new(date.year(), 1, 1).unwrap_or(date).at(0, 0, 0, 0),
        }
    }

    /// `at` truncated, then moved by `batches` batches.
    fn offset(self, at: DateTime, batches: i64) -> Option<DateTime> {
        let start = self.truncate(at);
        match self {
            Self::Hour => start.checked_add(batches.hours()).ok(),
            Self::Day => start.checked_add(batches.days()).ok(),
            Self::Month => start.checked_add(batches.months()).ok(),
            Self::Year => start.checked_add(batches.years()).ok(),
        }
    }

    fn ceiling(self, at: DateTime) -> Option<DateTime> {
        let truncated = self.truncate(at);
        if truncated == at {
            Some(at)
        } else {
            self.offset(at, 1)
        }
    }
}

/// A model's microbatch settings, read from its config.
#[derive(Debug, Clone)]
pub struct Microbatch {
    batch_size: BatchSize,
    begin: DateTime,
    lookback: i64,
}

impl Microbatch {
    /// The settings of `node`, or what is wrong with them (dbt refuses the same at parse).
    pub fn from_node(node: &Node) -> Result<Self, Diagnostic> {
        let other = &node.config.other;
        let wrong = |message: String, help: &str| {
            Diagnostic::error(format!("microbatch model `{}` {message}", node.name))
                .at(node.location.clone())
                .help(help.to_owned())
        };
        if !other.get("event_time").is_some_and(|v| v.is_string()) {
            return Err(wrong(
                "needs an `event_time` config: the column its batches are cut on".to_owned(),
                "for example `event_time='ordered_at'`",
            ));
        }
        let batch_size = other
            .get("batch_size")
            .and_then(|v| v.as_str())
            .and_then(BatchSize::parse)
            .ok_or_else(|| {
                wrong(
                    format!("needs a `batch_size` of {}", BATCH_SIZES.join(", ")),
                    "for example `batch_size='day'`",
                )
            })?;
        let begin = other
            .get("begin")
            .and_then(|v| v.as_str())
            .and_then(parse_datetime)
            .ok_or_else(|| {
                wrong(
                    "needs a `begin` config that is a date or a datetime".to_owned(),
                    "for example `begin='2024-01-01'`",
                )
            })?;
        let lookback = match other.get("lookback") {
            None | Some(serde_json::Value::Null) => 1,
            Some(value) => value.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                wrong(
                    "has a `lookback` that is not a whole number of batches".to_owned(),
                    "for example `lookback=3`",
                )
            })?,
        };
        Ok(Microbatch {
            batch_size,
            begin,
            lookback,
        })
    }

    /// The window of a run at `now` (UTC): from `begin` when the table is built from scratch,
    /// else from `lookback` batches before the current one.
    pub fn window(&self, now: DateTime, incremental: bool) -> Option<EventTimeWindow> {
        let end = self.batch_size.ceiling(now)?;
        let start = if incremental {
            // dbt counts back from the end, which is a batch boundary: one batch more.
            self.batch_size.offset(end, -(self.lookback + 1))?
        } else {
            self.batch_size.truncate(self.begin)
        };
        Some(EventTimeWindow {
            start: python_utc(start),
            end: python_utc(end),
        })
    }
}

impl Microbatch {
    /// The window `--event-time-start` / `--event-time-end` ask for: the start truncated to
    /// the batch size, the end moved up to its ceiling, as dbt does.
    pub fn explicit_window(&self, start: DateTime, end: DateTime) -> Option<EventTimeWindow> {
        Some(EventTimeWindow {
            start: python_utc(self.batch_size.truncate(start)),
            end: python_utc(self.batch_size.ceiling(end)?),
        })
    }
}

/// A datetime as Python prints a UTC one: `2024-01-01 00:00:00+00:00`.
fn python_utc(at: DateTime) -> String {
    let base = at.strftime("%Y-%m-%d %H:%M:%S").to_string();
    match at.subsec_nanosecond() / 1000 {
        0 => format!("{base}+00:00"),
        micros => format!("{base}.{micros:06}+00:00"),
    }
}

/// `begin` as dbt reads it: a date, or a datetime (ISO, `T` or a space), with or without an
/// offset; the result in UTC.
pub fn parse_datetime(text: &str) -> Option<DateTime> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(timestamp.to_zoned(jiff::tz::TimeZone::UTC).datetime());
    }
    if let Ok(at) = text.replacen(' ', "T", 1).parse::<DateTime>() {
        return Some(at);
    }
    text.parse::<Date>().ok().map(|date| date.at(0, 0, 0, 0))
}

/// Now, in UTC.
pub fn now_utc() -> DateTime {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime {
        parse_datetime(text).unwrap()
    }

    fn settings(batch_size: BatchSize, begin: &str, lookback: i64) -> Microbatch {
        Microbatch {
            batch_size,
            begin: at(begin),
            lookback,
        }
    }

    #[test]
    fn windows_are_cut_as_dbt_cuts_them() {
        let daily = settings(BatchSize::Day, "2024-09-01T06:30:00", 1);
        let now = at("2024-09-17 16:06:00");
        // First build: from begin truncated to the day, to the end of today.
        let first = daily.window(now, false).unwrap();
        assert_eq!(first.start, "2024-09-01 00:00:00+00:00");
        assert_eq!(first.end, "2024-09-18 00:00:00+00:00");
        // Later runs: yesterday and today.
        let later = daily.window(now, true).unwrap();
        assert_eq!(later.start, "2024-09-16 00:00:00+00:00");
        // Months and years move by calendar units; hours by hours.
        let monthly = settings(BatchSize::Month, "2024-01-15", 2);
        let window = monthly.window(at("2024-03-31T23:00:00"), true).unwrap();
        assert_eq!(
            (window.start.as_str(), window.end.as_str()),
            ("2024-01-01 00:00:00+00:00", "2024-04-01 00:00:00+00:00")
        );
        let hourly = settings(BatchSize::Hour, "2024-01-01", 0);
        let window = hourly.window(at("2024-03-31T23:00:00"), true).unwrap();
        assert_eq!(
            (window.start.as_str(), window.end.as_str()),
            ("2024-03-31 22:00:00+00:00", "2024-03-31 23:00:00+00:00")
        );
        let yearly = settings(BatchSize::Year, "2020-06-01", 1);
        assert_eq!(
            yearly.window(now, false).unwrap().start,
            "2020-01-01 00:00:00+00:00"
        );
    }

    #[test]
    fn begin_is_read_in_the_forms_dbt_accepts() {
        assert_eq!(at("2024-01-02"), at("2024-01-02T00:00:00"));
        assert_eq!(
            at("2024-01-02 03:04:05.123456"),
            at("2024-01-02T03:04:05.123456")
        );
        assert_eq!(at("2024-01-02T03:00:00+02:00"), at("2024-01-02T01:00:00"));
        assert!(parse_datetime("yesterday").is_none());
        assert_eq!(
            python_utc(at("2024-01-02T03:04:05.5")),
            "2024-01-02 03:04:05.500000+00:00"
        );
    }
}
