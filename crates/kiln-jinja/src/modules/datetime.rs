//! `modules.datetime` and `modules.pytz`: Python's datetime, date, timedelta and time zones,
//! on jiff. Values print, compare and add up as Python's do.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, Rest, from_args};
use minijinja::{Error, State, Value};

use super::invalid;

const MICROS_PER_SECOND: i128 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400 * MICROS_PER_SECOND;

fn unknown(method: &str) -> Error {
    Error::new(
        minijinja::ErrorKind::UnknownMethod,
        format!("no method named {method}"),
    )
}

// ----- time zones -------------------------------------------------------------------------

/// A time zone: `pytz.utc`, `pytz.timezone('Europe/Paris')`, `datetime.timezone.utc`.
#[derive(Debug, Clone)]
pub struct TzValue {
    name: String,
    tz: TimeZone,
    /// A zone from `pytz.timezone(...)`: given as `tzinfo=`, pytz's zone stands at its first
    /// offset (the local mean time, `-07:53` for Los Angeles), not at the date's.
    pytz: bool,
}

impl TzValue {
    fn utc() -> Self {
        TzValue {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
            pytz: false,
        }
    }

    fn from_value(value: &Value) -> Option<TzValue> {
        value.downcast_object_ref::<TzValue>().cloned()
    }

    /// The zone as `datetime(..., tzinfo=zone)` and `replace(tzinfo=zone)` attach it: a pytz
    /// zone is its local mean time, rounded to the minute as pytz rounds it (Python gives
    /// `1997-09-29 06:14:00-07:53` for Los Angeles, and so does dbt).
    fn as_tzinfo(&self) -> TzValue {
        if !self.pytz {
            return self.clone();
        }
        let first = self.tz.to_offset(jiff::Timestamp::MIN).seconds();
        let rounded = (first + 30).div_euclid(60) * 60;
        TzValue {
            name: self.name.clone(),
            tz: TimeZone::fixed(
                jiff::tz::Offset::from_seconds(rounded).unwrap_or(jiff::tz::Offset::UTC),
            ),
            pytz: false,
        }
    }
}

impl Object for TzValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "zone" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            // pytz's way to attach a zone to a naive datetime.
            "localize" => {
                let (value,): (Value,) = from_args(args)?;
                let dt = DateTimeValue::from_value(&value)
                    .ok_or_else(|| invalid("localize() takes a datetime"))?;
                Ok(DateTimeValue {
                    dt: dt.dt,
                    tz: Some((**self).clone()),
                }
                .into_value())
            }
            _ => Err(unknown(method)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `modules.pytz`.
#[derive(Debug)]
pub struct PytzModule;

impl Object for PytzModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(Value::from_object(TzValue::utc())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "timezone" => {
                let (name,): (String,) = from_args(args)?;
                let tz = if name.eq_ignore_ascii_case("utc") {
                    TimeZone::UTC
                } else {
                    TimeZone::get(&name)
                        .map_err(|_| invalid(format!("UnknownTimeZoneError: '{name}'")))?
                };
                let pytz = tz != TimeZone::UTC;
                Ok(Value::from_object(TzValue { name, tz, pytz }))
            }
            _ => Err(unknown(method)),
        }
    }
}

// ----- timedelta --------------------------------------------------------------------------

/// `datetime.timedelta`: a duration in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timedelta {
    micros: i128,
}

impl Timedelta {
    fn into_value(self) -> Value {
        Value::from_object(self)
    }

    fn from_value(value: &Value) -> Option<Timedelta> {
        value.downcast_object_ref::<Timedelta>().copied()
    }

    /// Python's normalised parts: days (may be negative), seconds and microseconds (not).
    fn parts(self) -> (i128, i128, i128) {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let rest = self.micros.rem_euclid(MICROS_PER_DAY);
        (days, rest / MICROS_PER_SECOND, rest % MICROS_PER_SECOND)
    }
}

impl fmt::Display for Timedelta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, seconds, micros) = self.parts();
        if days != 0 {
            let plural = if days.abs() == 1 { "" } else { "s" };
            write!(f, "{days} day{plural}, ")?;
        }
        write!(
            f,
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds % 3600 / 60,
            seconds % 60
        )?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        Ok(())
    }
}

impl Object for Timedelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (days, seconds, micros) = self.parts();
        Some(match key.as_str()? {
            "days" => Value::from(days as i64),
            "seconds" => Value::from(seconds as i64),
            "microseconds" => Value::from(micros as i64),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => {
                from_args::<()>(args)?;
                Ok(Value::from(self.micros as f64 / MICROS_PER_SECOND as f64))
            }
            _ => Err(unknown(method)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.micros.cmp(&other.downcast_ref::<Timedelta>()?.micros))
    }

    fn arithmetic(
        self: &Arc<Self>,
        op: &str,
        other: &Value,
        self_on_left: bool,
    ) -> Option<Result<Value, Error>> {
        if let Some(other) = Timedelta::from_value(other) {
            let (a, b) = if self_on_left {
                (self.micros, other.micros)
            } else {
                (other.micros, self.micros)
            };
            return match op {
                "+" => Some(Ok(Timedelta { micros: a + b }.into_value())),
                "-" => Some(Ok(Timedelta { micros: a - b }.into_value())),
                _ => None,
            };
        }
        if op == "*" {
            let factor = i64::try_from(other.clone()).ok()?;
            return Some(Ok(Timedelta {
                micros: self.micros * i128::from(factor),
            }
            .into_value()));
        }
        None
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// `timedelta(days=0, seconds=0, microseconds=0, milliseconds=0, minutes=0, hours=0, weeks=0)`.
fn timedelta(args: &[Value]) -> Result<Value, Error> {
    let (positional, kwargs): (Rest<f64>, Kwargs) = from_args(args)?;
    const NAMES: [(&str, f64); 7] = [
        ("days", 86_400e6),
        ("seconds", 1e6),
        ("microseconds", 1.0),
        ("milliseconds", 1e3),
        ("minutes", 60e6),
        ("hours", 3_600e6),
        ("weeks", 604_800e6),
    ];
    let mut micros = 0f64;
    for (i, (name, scale)) in NAMES.iter().enumerate() {
        let value = match positional.get(i) {
            Some(value) => Some(*value),
            None => kwargs.get::<Option<f64>>(name)?,
        };
        micros += value.unwrap_or(0.0) * scale;
    }
    kwargs.assert_all_used()?;
    Ok(Timedelta {
        micros: micros.round() as i128,
    }
    .into_value())
}

// ----- datetime and date ------------------------------------------------------------------

/// `datetime.datetime`: a civil date and time, naive or in a time zone.
#[derive(Debug, Clone)]
pub struct DateTimeValue {
    dt: DateTime,
    tz: Option<TzValue>,
}

impl DateTimeValue {
    fn into_value(self) -> Value {
        Value::from_object(self)
    }

    fn from_value(value: &Value) -> Option<DateTimeValue> {
        value.downcast_object_ref::<DateTimeValue>().cloned()
    }

    /// The UTC offset in seconds, for aware values.
    fn offset_seconds(&self) -> Option<i32> {
        let tz = self.tz.as_ref()?;
        // A fixed offset (UTC) holds at any date, even past the last instant jiff can zone
        // (`pytz.utc.localize(datetime(9999, 12, 31))`).
        if let Ok(fixed) = tz.tz.to_fixed_offset() {
            return Some(fixed.seconds());
        }
        let zoned = tz.tz.to_ambiguous_zoned(self.dt).compatible().ok()?;
        Some(zoned.offset().seconds())
    }

    /// Microseconds since the epoch of the instant (aware) or of the wall time read as UTC,
    /// counted on the calendar (any year 1-9999, as Python's datetime).
    fn epoch_micros(&self) -> i128 {
        let (year, month, day) = (
            i128::from(self.dt.year()),
            i128::from(self.dt.month()),
            i128::from(self.dt.day()),
        );
        // Days from 1970-01-01 to the date (H. Hinnant's days_from_civil).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        let time = self.dt.time();
        let seconds = i128::from(time.hour()) * 3600
            + i128::from(time.minute()) * 60
            + i128::from(time.second());
        let wall = days * 86_400 * MICROS_PER_SECOND
            + seconds * MICROS_PER_SECOND
            + i128::from(time.subsec_nanosecond() / 1000);
        wall - i128::from(self.offset_seconds().unwrap_or(0)) * MICROS_PER_SECOND
    }

    fn plus_micros(&self, micros: i128) -> Result<DateTimeValue, Error> {
        let span = jiff::SignedDuration::from_micros(
            i64::try_from(micros).map_err(|_| invalid("OverflowError: date value out of range"))?,
        );
        let dt = self
            .dt
            .checked_add(span)
            .map_err(|_| invalid("OverflowError: date value out of range"))?;
        Ok(DateTimeValue {
            dt,
            tz: self.tz.clone(),
        })
    }

    fn microsecond(&self) -> i32 {
        self.dt.subsec_nanosecond() / 1000
    }

    fn write_iso(&self, f: &mut impl fmt::Write, sep: &str) -> fmt::Result {
        let dt = self.dt;
        write!(
            f,
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        if self.microsecond() != 0 {
            write!(f, ".{:06}", self.microsecond())?;
        }
        if let Some(offset) = self.offset_seconds() {
            f.write_str(&format_offset(offset, true))?;
        }
        Ok(())
    }
}

fn format_offset(seconds: i32, colon: bool) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.abs();
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    if colon {
        format!("{sign}{hours:02}:{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}")
    }
}

impl Object for DateTimeValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let dt = self.dt;
        Some(match key.as_str()? {
            "year" => Value::from(dt.year()),
            "month" => Value::from(dt.month()),
            "day" => Value::from(dt.day()),
            "hour" => Value::from(dt.hour()),
            "minute" => Value::from(dt.minute()),
            "second" => Value::from(dt.second()),
            "microsecond" => Value::from(self.microsecond()),
            "tzinfo" => self.tz.clone().map_or(Value::from(()), Value::from_object),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(strftime(self, &format)))
            }
            "isoformat" => {
                let (sep,): (Option<String>,) = from_args(args)?;
                let mut out = String::new();
                let _ = self.write_iso(&mut out, sep.as_deref().unwrap_or("T"));
                Ok(Value::from(out))
            }
            "date" => {
                from_args::<()>(args)?;
                Ok(Value::from_object(DateValue(self.dt.date())))
            }
            "weekday" => Ok(Value::from(self.dt.weekday().to_monday_zero_offset())),
            "isoweekday" => Ok(Value::from(self.dt.weekday().to_monday_one_offset())),
            "timestamp" => Ok(Value::from(
                self.epoch_micros() as f64 / MICROS_PER_SECOND as f64,
            )),
            "utcoffset" => Ok(self.offset_seconds().map_or(Value::from(()), |s| {
                Timedelta {
                    micros: i128::from(s) * MICROS_PER_SECOND,
                }
                .into_value()
            })),
            "astimezone" => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                let tz = match tz {
                    Some(tz) => TzValue::from_value(&tz)
                        .ok_or_else(|| invalid("astimezone() takes a time zone"))?,
                    None => TzValue::utc(),
                };
                let timestamp = jiff::Timestamp::from_microsecond(self.epoch_micros() as i64)
                    .map_err(invalid)?;
                Ok(DateTimeValue {
                    dt: timestamp.to_zoned(tz.tz.clone()).datetime(),
                    tz: Some(tz),
                }
                .into_value())
            }
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let dt = self.dt;
                let get = |name: &str, current: i64| -> Result<i64, Error> {
                    Ok(kwargs.get::<Option<i64>>(name)?.unwrap_or(current))
                };
                let new = DateTime::new(
                    get("year", dt.year().into())? as i16,
                    get("month", dt.month().into())? as i8,
                    get("day", dt.day().into())? as i8,
                    get("hour", dt.hour().into())? as i8,
                    get("minute", dt.minute().into())? as i8,
                    get("second", dt.second().into())? as i8,
                    (get("microsecond", self.microsecond().into())? * 1000) as i32,
                )
                .map_err(|e| invalid(format!("ValueError: {e}")))?;
                let tz = match kwargs.get::<Option<Value>>("tzinfo")? {
                    Some(value) if value.is_none() => None,
                    Some(value) => TzValue::from_value(&value).map(|tz| tz.as_tzinfo()),
                    None => self.tz.clone(),
                };
                kwargs.assert_all_used()?;
                Ok(DateTimeValue { dt: new, tz }.into_value())
            }
            _ => Err(unknown(method)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<DateTimeValue>()?;
        Some(self.epoch_micros().cmp(&other.epoch_micros()))
    }

    fn arithmetic(
        self: &Arc<Self>,
        op: &str,
        other: &Value,
        self_on_left: bool,
    ) -> Option<Result<Value, Error>> {
        if let Some(delta) = Timedelta::from_value(other) {
            return match (op, self_on_left) {
                ("+", _) => Some(
                    self.plus_micros(delta.micros)
                        .map(DateTimeValue::into_value),
                ),
                ("-", true) => Some(
                    self.plus_micros(-delta.micros)
                        .map(DateTimeValue::into_value),
                ),
                _ => None,
            };
        }
        let other = DateTimeValue::from_value(other)?;
        if op != "-" {
            return None;
        }
        if self.tz.is_some() != other.tz.is_some() {
            return Some(Err(invalid(
                "TypeError: can't subtract offset-naive and offset-aware datetimes",
            )));
        }
        let (a, b) = if self_on_left {
            (self.epoch_micros(), other.epoch_micros())
        } else {
            (other.epoch_micros(), self.epoch_micros())
        };
        Some(Ok(Timedelta { micros: a - b }.into_value()))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_iso(f, " ")
    }
}

/// `datetime.date`.
#[derive(Debug, Clone, Copy)]
pub struct DateValue(Date);

impl Object for DateValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "year" => Value::from(self.0.year()),
            "month" => Value::from(self.0.month()),
            "day" => Value::from(self.0.day()),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let as_datetime = || DateTimeValue {
            dt: self.0.to_datetime(jiff::civil::Time::midnight()),
            tz: None,
        };
        match method {
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(strftime(&as_datetime(), &format)))
            }
            "isoformat" => Ok(Value::from(self.to_string())),
            "weekday" => Ok(Value::from(self.0.weekday().to_monday_zero_offset())),
            "isoweekday" => Ok(Value::from(self.0.weekday().to_monday_one_offset())),
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let d = self.0;
                let date = Date::new(
                    kwargs.get::<Option<i16>>("year")?.unwrap_or(d.year()),
                    kwargs.get::<Option<i8>>("month")?.unwrap_or(d.month()),
                    kwargs.get::<Option<i8>>("day")?.unwrap_or(d.day()),
                )
                .map_err(|e| invalid(format!("ValueError: {e}")))?;
                kwargs.assert_all_used()?;
                Ok(Value::from_object(DateValue(date)))
            }
            _ => Err(unknown(method)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<DateValue>()?.0))
    }

    fn arithmetic(
        self: &Arc<Self>,
        op: &str,
        other: &Value,
        self_on_left: bool,
    ) -> Option<Result<Value, Error>> {
        if let Some(delta) = Timedelta::from_value(other) {
            let days = (delta.micros / MICROS_PER_DAY) as i64;
            let days = match (op, self_on_left) {
                ("+", _) => days,
                ("-", true) => -days,
                _ => return None,
            };
            return Some(
                self.0
                    .checked_add(jiff::Span::new().days(days))
                    .map(|d| Value::from_object(DateValue(d)))
                    .map_err(|_| invalid("OverflowError: date value out of range")),
            );
        }
        let other = other.downcast_object_ref::<DateValue>()?;
        if op != "-" {
            return None;
        }
        let (a, b) = if self_on_left {
            (self.0, other.0)
        } else {
            (other.0, self.0)
        };
        let days = i128::from((a - b).get_days());
        Some(Ok(Timedelta {
            micros: days * MICROS_PER_DAY,
        }
        .into_value()))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl fmt::Display for DateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }
}

// ----- strftime / strptime ----------------------------------------------------------------

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Python's `strftime` directives (C locale).
fn strftime(value: &DateTimeValue, format: &str) -> String {
    let dt = value.dt;
    let weekday = dt.weekday().to_monday_zero_offset() as usize;
    let month = (dt.month() - 1) as usize;
    let mut out = String::with_capacity(format.len() + 8);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(directive) = chars.next() else {
            out.push('%');
            break;
        };
        let text = match directive {
            'Y' => format!("{:04}", dt.year()),
            'y' => format!("{:02}", dt.year().rem_euclid(100)),
            'm' => format!("{:02}", dt.month()),
            'd' => format!("{:02}", dt.day()),
            'H' => format!("{:02}", dt.hour()),
            'I' => format!("{:02}", (dt.hour() + 11) % 12 + 1),
            'p' => (if dt.hour() < 12 { "AM" } else { "PM" }).to_owned(),
            'M' => format!("{:02}", dt.minute()),
            'S' => format!("{:02}", dt.second()),
            'f' => format!("{:06}", value.microsecond()),
            'j' => format!("{:03}", dt.day_of_year()),
            'a' => WEEKDAYS[weekday][..3].to_owned(),
            'A' => WEEKDAYS[weekday].to_owned(),
            'w' => ((weekday + 1) % 7).to_string(),
            'u' => (weekday + 1).to_string(),
            'b' | 'h' => MONTHS[month][..3].to_owned(),
            'B' => MONTHS[month].to_owned(),
            'z' => value
                .offset_seconds()
                .map_or(String::new(), |s| format_offset(s, false)),
            'Z' => value
                .tz
                .as_ref()
                .map_or(String::new(), |tz| tz.name.clone()),
            'F' => format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day()),
            'T' => format!("{:02}:{:02}:{:02}", dt.hour(), dt.minute(), dt.second()),
            '%' => "%".to_owned(),
            other => format!("%{other}"),
        };
        out.push_str(&text);
    }
    out
}

/// Python's `strptime` for the numeric and month-name directives.
fn strptime(text: &str, format: &str) -> Result<DateTimeValue, Error> {
    let fail = || {
        invalid(format!(
            "ValueError: time data '{text}' does not match format '{format}'"
        ))
    };
    let (mut year, mut month, mut day) = (1900i64, 1i64, 1i64);
    let (mut hour, mut minute, mut second, mut micros) = (0i64, 0i64, 0i64, 0i64);
    let mut pm = None;
    let mut offset = None;
    let mut rest = text;
    let mut chars = format.chars();
    let take_digits = |rest: &mut &str, max: usize| -> Option<i64> {
        let len = rest
            .char_indices()
            .take(max)
            .take_while(|(_, c)| c.is_ascii_digit())
            .count();
        if len == 0 {
            return None;
        }
        let (digits, tail) = rest.split_at(len);
        *rest = tail;
        digits.parse().ok()
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            rest = rest.strip_prefix(c).ok_or_else(fail)?;
            continue;
        }
        match chars.next().ok_or_else(fail)? {
            'Y' => year = take_digits(&mut rest, 4).ok_or_else(fail)?,
            'y' => {
                let y = take_digits(&mut rest, 2).ok_or_else(fail)?;
                year = if y < 69 { 2000 + y } else { 1900 + y };
            }
            'm' => month = take_digits(&mut rest, 2).ok_or_else(fail)?,
            'd' => day = take_digits(&mut rest, 2).ok_or_else(fail)?,
            'H' | 'I' => hour = take_digits(&mut rest, 2).ok_or_else(fail)?,
            'M' => minute = take_digits(&mut rest, 2).ok_or_else(fail)?,
            'S' => second = take_digits(&mut rest, 2).ok_or_else(fail)?,
            'f' => {
                let before = rest.len();
                let value = take_digits(&mut rest, 6).ok_or_else(fail)?;
                let len = (before - rest.len()) as u32;
                micros = value * 10i64.pow(6 - len);
            }
            'p' => {
                let upper = rest.get(..2).map(str::to_ascii_uppercase);
                pm = Some(match upper.as_deref() {
                    Some("AM") => false,
                    Some("PM") => true,
                    _ => return Err(fail()),
                });
                rest = &rest[2..];
            }
            'b' | 'B' | 'h' => {
                let found = MONTHS.iter().enumerate().find_map(|(i, name)| {
                    [*name, &name[..3]]
                        .into_iter()
                        .find(|n| {
                            rest.get(..n.len())
                                .is_some_and(|r| r.eq_ignore_ascii_case(n))
                        })
                        .map(|n| (i, n.len()))
                });
                let (index, len) = found.ok_or_else(fail)?;
                month = index as i64 + 1;
                rest = &rest[len..];
            }
            'z' => {
                let sign = match rest.chars().next() {
                    Some('+') => 1,
                    Some('-') => -1,
                    Some('Z') => {
                        rest = &rest[1..];
                        offset = Some(0);
                        continue;
                    }
                    _ => return Err(fail()),
                };
                rest = &rest[1..];
                let hours = take_digits(&mut rest, 2).ok_or_else(fail)?;
                rest = rest.strip_prefix(':').unwrap_or(rest);
                let minutes = take_digits(&mut rest, 2).ok_or_else(fail)?;
                offset = Some(sign * (hours * 3600 + minutes * 60));
            }
            '%' => rest = rest.strip_prefix('%').ok_or_else(fail)?,
            _ => return Err(fail()),
        }
    }
    if !rest.is_empty() {
        return Err(invalid(format!(
            "ValueError: unconverted data remains: {rest}"
        )));
    }
    if let Some(pm) = pm {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let dt = DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        minute as i8,
        second as i8,
        (micros * 1000) as i32,
    )
    .map_err(|_| fail())?;
    let tz = offset.map(|seconds| TzValue {
        name: format!("UTC{}", format_offset(seconds as i32, true)),
        tz: TimeZone::fixed(
            jiff::tz::Offset::from_seconds(seconds as i32).unwrap_or(jiff::tz::Offset::UTC),
        ),
        pytz: false,
    });
    Ok(DateTimeValue { dt, tz })
}

/// `datetime.fromisoformat` / `date.fromisoformat`: `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][offset]`.
fn fromisoformat(text: &str) -> Result<DateTimeValue, Error> {
    let fail = || invalid(format!("ValueError: Invalid isoformat string: '{text}'"));
    let (date, time) = match text.len() {
        10 => (text, None),
        n if n > 10 && matches!(text.as_bytes()[10], b' ' | b'T') => {
            (&text[..10], Some(&text[11..]))
        }
        _ => return Err(fail()),
    };
    let date_value = strptime(date, "%Y-%m-%d").map_err(|_| fail())?;
    let Some(time) = time else {
        return Ok(date_value);
    };
    let (clock, offset) = match time.find(['+', '-', 'Z']) {
        Some(i) => (&time[..i], Some(&time[i..])),
        None => (time, None),
    };
    let format = match clock.len() {
        5 => "%H:%M",
        8 => "%H:%M:%S",
        n if n > 9 => "%H:%M:%S.%f",
        _ => return Err(fail()),
    };
    let clock_value = strptime(clock, format).map_err(|_| fail())?;
    let mut value = DateTimeValue {
        dt: date_value.dt.date().to_datetime(clock_value.dt.time()),
        tz: None,
    };
    if let Some(offset) = offset {
        value.tz = strptime(offset, "%z").map_err(|_| fail())?.tz;
    }
    Ok(value)
}

fn now_in(tz: Option<TzValue>) -> DateTimeValue {
    match tz {
        Some(tz) => DateTimeValue {
            dt: jiff::Timestamp::now().to_zoned(tz.tz.clone()).datetime(),
            tz: Some(tz),
        },
        None => DateTimeValue {
            dt: jiff::Zoned::now().datetime(),
            tz: None,
        },
    }
}

/// `run_started_at`: an aware UTC datetime.
pub fn run_started_at(rfc3339: &str) -> Value {
    let timestamp = rfc3339
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now());
    DateTimeValue {
        dt: timestamp.to_zoned(TimeZone::UTC).datetime(),
        tz: Some(TzValue::utc()),
    }
    .into_value()
}

// ----- the module and its classes ---------------------------------------------------------

/// `modules.datetime`.
#[derive(Debug)]
pub struct DatetimeModule;

impl Object for DatetimeModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "datetime" => Value::from_object(Class::Datetime),
            "date" => Value::from_object(Class::Date),
            "timedelta" => Value::from_object(Class::Timedelta),
            "timezone" => Value::from_object(Class::Timezone),
            "MINYEAR" => Value::from(1),
            "MAXYEAR" => Value::from(9999),
            _ => return None,
        })
    }
}

/// `datetime.datetime`, `datetime.date`, `datetime.timedelta`, `datetime.timezone`: callable,
/// with their class methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Datetime,
    Date,
    Timedelta,
    Timezone,
}

impl Object for Class {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match (**self, key.as_str()?) {
            (Class::Timezone, "utc") => Some(Value::from_object(TzValue::utc())),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match **self {
            Class::Datetime => {
                let (parts, kwargs): (Rest<i64>, Kwargs) = from_args(args)?;
                let get = |i: usize, name: &str, default: i64| -> Result<i64, Error> {
                    match parts.get(i) {
                        Some(v) => Ok(*v),
                        None => Ok(kwargs.get::<Option<i64>>(name)?.unwrap_or(default)),
                    }
                };
                let dt = DateTime::new(
                    get(0, "year", 1)? as i16,
                    get(1, "month", 1)? as i8,
                    get(2, "day", 1)? as i8,
                    get(3, "hour", 0)? as i8,
                    get(4, "minute", 0)? as i8,
                    get(5, "second", 0)? as i8,
                    (get(6, "microsecond", 0)? * 1000) as i32,
                )
                .map_err(|e| invalid(format!("ValueError: {e}")))?;
                let tz = kwargs
                    .get::<Option<Value>>("tzinfo")?
                    .and_then(|v| TzValue::from_value(&v))
                    .map(|tz| tz.as_tzinfo());
                kwargs.assert_all_used()?;
                Ok(DateTimeValue { dt, tz }.into_value())
            }
            Class::Date => {
                let (year, month, day): (i16, i8, i8) = from_args(args)?;
                Date::new(year, month, day)
                    .map(|d| Value::from_object(DateValue(d)))
                    .map_err(|e| invalid(format!("ValueError: {e}")))
            }
            Class::Timedelta => timedelta(args),
            Class::Timezone => Err(invalid(
                "timezone(offset) is not supported; use timezone.utc",
            )),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (**self, method) {
            (Class::Datetime, "now") => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                Ok(now_in(tz.and_then(|t| TzValue::from_value(&t))).into_value())
            }
            (Class::Datetime, "utcnow") => Ok(DateTimeValue {
                dt: jiff::Timestamp::now().to_zoned(TimeZone::UTC).datetime(),
                tz: None,
            }
            .into_value()),
            (Class::Datetime, "today") => Ok(now_in(None).into_value()),
            (Class::Date, "today") => Ok(Value::from_object(DateValue(now_in(None).dt.date()))),
            (Class::Datetime, "strptime") => {
                let (text, format): (String, String) = from_args(args)?;
                Ok(strptime(&text, &format)?.into_value())
            }
            (Class::Datetime, "fromisoformat") => {
                let (text,): (String,) = from_args(args)?;
                Ok(fromisoformat(&text)?.into_value())
            }
            (Class::Date, "fromisoformat") => {
                let (text,): (String,) = from_args(args)?;
                if text.len() != 10 {
                    return Err(invalid(format!(
                        "ValueError: Invalid isoformat string: '{text}'"
                    )));
                }
                Ok(Value::from_object(DateValue(
                    fromisoformat(&text)?.dt.date(),
                )))
            }
            (Class::Datetime, "fromtimestamp" | "utcfromtimestamp") => {
                let (seconds, tz): (f64, Option<Value>) = from_args(args)?;
                let timestamp = jiff::Timestamp::from_microsecond((seconds * 1e6).round() as i64)
                    .map_err(invalid)?;
                let tz = tz.and_then(|t| TzValue::from_value(&t));
                let zone = match (&tz, method) {
                    (Some(tz), _) => tz.tz.clone(),
                    (None, "utcfromtimestamp") => TimeZone::UTC,
                    (None, _) => TimeZone::system(),
                };
                Ok(DateTimeValue {
                    dt: timestamp.to_zoned(zone).datetime(),
                    tz,
                }
                .into_value())
            }
            _ => Err(unknown(method)),
        }
    }
}
