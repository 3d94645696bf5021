//! dbt's `modules` context object: the parts of Python's `datetime`, `re`, `itertools` and
//! `pytz` that dbt packages call, with Python's behaviour (names, results, printing).
//!
//! - `modules.datetime`: `datetime` (`now`, `utcnow`, `today`, `strptime`, `fromisoformat`,
//!   `fromtimestamp`, the constructor), `date`, `timedelta`, `timezone.utc`; values with
//!   `strftime`, `isoformat`, `replace`, `date()`, `weekday()`, `timestamp()`, `astimezone`,
//!   comparisons and `+`/`-` arithmetic;
//! - `modules.re`: `sub`, `subn`, `match`, `search`, `fullmatch`, `findall`, `split`,
//!   `compile`, `escape` and the flags; Python's replacement syntax (`\1`, `\g<name>`);
//! - `modules.itertools`: `product`, `chain`, `combinations`, `permutations`, `groupby`,
//!   `islice`, `repeat`;
//! - `modules.pytz`: `utc` and `timezone(name)`.

mod datetime;
mod itertools;
mod re;

use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

/// The `modules` global.
#[derive(Debug)]
pub struct Modules;

impl Object for Modules {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "datetime" => Value::from_object(datetime::DatetimeModule),
            "re" => Value::from_object(re::ReModule),
            "itertools" => Value::from_object(itertools::ItertoolsModule),
            "pytz" => Value::from_object(datetime::PytzModule),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["datetime", "re", "itertools", "pytz"])
    }
}

/// `run_started_at`: an aware UTC datetime, as in dbt.
pub fn run_started_at(rfc3339: &str) -> Value {
    datetime::run_started_at(rfc3339)
}

fn invalid(message: impl std::fmt::Display) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message.to_string())
}
