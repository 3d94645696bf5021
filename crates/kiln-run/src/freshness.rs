//! `kiln source freshness`: how long ago each source was last loaded, against its
//! `warn_after` / `error_after`, with dbt's query and dbt's `sources.json`.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value as Json, json};

use kiln_adapter::{AdapterError, Connection, Table};
use kiln_core::{Diagnostic, Node};

/// A `warn_after` or `error_after`: `{count: 12, period: hour}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub count: f64,
    pub period: Period,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Minute,
    Hour,
    Day,
}

impl Period {
    fn seconds(self) -> f64 {
        match self {
            Period::Minute => 60.0,
            Period::Hour => 3600.0,
            Period::Day => 86400.0,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }
}

impl Threshold {
    fn seconds(self) -> f64 {
        self.count * self.period.seconds()
    }

    fn to_json(self) -> Json {
        json!({"count": self.count, "period": self.period.as_str()})
    }
}

/// What a source's freshness is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    pub loaded_at_field: String,
    pub warn_after: Option<Threshold>,
    pub error_after: Option<Threshold>,
    pub filter: Option<String>,
}

impl Criteria {
    fn to_json(&self) -> Json {
        let threshold = |t: Option<Threshold>| {
            t.map_or(json!({"count": null, "period": null}), Threshold::to_json)
        };
        json!({
            "warn_after": threshold(self.warn_after),
            "error_after": threshold(self.error_after),
            "filter": self.filter,
        })
    }
}

fn threshold(value: &Json, key: &str, node: &Node) -> Result<Option<Threshold>, Diagnostic> {
    let Some(spec) = value.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        Diagnostic::error(format!(
            "source `{}` has an invalid freshness `{key}`: {why}",
            node.name
        ))
        .at(node.location.clone())
        .help(format!(
            "write {key}: {{count: 12, period: hour}} (period: minute, hour or day)"
        ))
    };
    let count = match spec.get("count") {
        Some(Json::Number(n)) => n.as_f64().unwrap_or_default(),
        Some(Json::Null) | None => return Ok(None),
        Some(_) => return Err(invalid("`count` must be a number")),
    };
    let period = match spec.get("period").and_then(Json::as_str) {
        Some("minute") => Period::Minute,
        Some("hour") => Period::Hour,
        Some("day") => Period::Day,
        Some(other) => return Err(invalid(&format!("unknown period `{other}`"))),
        None => return Err(invalid("`period` is missing")),
    };
    Ok(Some(Threshold { count, period }))
}

/// The freshness criteria of a source, or `None` when it has none (no thresholds, or no
/// `loaded_at_field`): such sources are not checked, as in dbt.
pub fn criteria(node: &Node) -> Result<Option<Criteria>, Diagnostic> {
    let Some(info) = &node.source else {
        return Ok(None);
    };
    // dbt 1.9+ also reads both from the source's `config:`.
    let freshness = info
        .freshness
        .clone()
        .or_else(|| node.config.other.get("freshness").cloned())
        .unwrap_or(Json::Null);
    let loaded_at_field = info.loaded_at_field.clone().or_else(|| {
        node.config
            .other
            .get("loaded_at_field")
            .and_then(Json::as_str)
            .map(str::to_owned)
    });
    let warn_after = threshold(&freshness, "warn_after", node)?;
    let error_after = threshold(&freshness, "error_after", node)?;
    if warn_after.is_none() && error_after.is_none() {
        return Ok(None);
    }
    let Some(loaded_at_field) = loaded_at_field else {
        return Ok(None);
    };
    Ok(Some(Criteria {
        loaded_at_field,
        warn_after,
        error_after,
        filter: freshness
            .get("filter")
            .and_then(Json::as_str)
            .map(str::to_owned),
    }))
}

/// dbt's freshness statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FreshnessStatus {
    Pass,
    Warn,
    Error,
    #[serde(rename = "runtime error")]
    RuntimeError,
}

/// One source checked.
#[derive(Debug, Clone)]
pub struct Checked {
    pub unique_id: String,
    pub status: FreshnessStatus,
    pub max_loaded_at: Option<String>,
    pub snapshotted_at: Option<String>,
    pub age_seconds: Option<f64>,
    pub criteria: Criteria,
    /// Why it failed to run (runtime errors).
    pub message: Option<String>,
    pub execution_time: f64,
}

/// The status of a source last loaded `age` seconds ago.
pub fn judge(criteria: &Criteria, age: f64) -> FreshnessStatus {
    if criteria.error_after.is_some_and(|t| age > t.seconds()) {
        FreshnessStatus::Error
    } else if criteria.warn_after.is_some_and(|t| age > t.seconds()) {
        FreshnessStatus::Warn
    } else {
        FreshnessStatus::Pass
    }
}

fn cell(table: &Table, column: usize) -> Option<String> {
    table
        .rows
        .first()
        .and_then(|row| row.get(column))
        .filter(|v| !v.is_null())
        .map(Table::cell_text)
}

/// Checks one source. The connection's time zone must be UTC (naive timestamps are read as
/// UTC, as dbt reads them).
pub fn check(conn: &mut dyn Connection, node: &Node, criteria: Criteria) -> Checked {
    let started = Instant::now();
    let filter = criteria
        .filter
        .as_ref()
        .map(|f| format!("\nwhere {f}"))
        .unwrap_or_default();
    let field = criteria.loaded_at_field.clone();
    let sql = format!(
        "select\n  max({field})::timestamptz::text as max_loaded_at,\n  now()::text as snapshotted_at,\n  \
         extract(epoch from now() - max({field})::timestamptz)::float8 as age\nfrom {}{filter}",
        node.relation
    );
    let result: Result<Table, AdapterError> = conn.query(&sql);
    let mut checked = Checked {
        unique_id: node.unique_id.clone(),
        status: FreshnessStatus::RuntimeError,
        max_loaded_at: None,
        snapshotted_at: None,
        age_seconds: None,
        criteria,
        message: None,
        execution_time: 0.0,
    };
    match result {
        Ok(table) => {
            checked.max_loaded_at = cell(&table, 0);
            checked.snapshotted_at = cell(&table, 1);
            checked.age_seconds = table
                .rows
                .first()
                .and_then(|row| row.get(2))
                .and_then(Json::as_f64);
            match checked.age_seconds {
                Some(age) => checked.status = judge(&checked.criteria, age),
                None => {
                    checked.message = Some(format!(
                        "{} has no rows with a {field}{}: it has never been loaded",
                        node.relation,
                        if filter.is_empty() {
                            ""
                        } else {
                            " matching the filter"
                        }
                    ))
                }
            }
        }
        Err(error) => checked.message = Some(error.full_message()),
    }
    checked.execution_time = started.elapsed().as_secs_f64();
    checked
}

/// `sources.json`, as dbt writes it (schema v3).
pub fn sources_json(checked: &[Checked], invocation_id: &str, elapsed: f64) -> Json {
    let results: Vec<Json> = checked
        .iter()
        .map(|c| match c.status {
            FreshnessStatus::RuntimeError => json!({
                "unique_id": c.unique_id,
                "status": c.status,
                "error": c.message,
            }),
            _ => json!({
                "unique_id": c.unique_id,
                "max_loaded_at": c.max_loaded_at,
                "snapshotted_at": c.snapshotted_at,
                "max_loaded_at_time_ago_in_s": c.age_seconds,
                "status": c.status,
                "criteria": c.criteria.to_json(),
                "adapter_response": {},
                "timing": [],
                "thread_id": "Thread-1",
                "execution_time": c.execution_time,
            }),
        })
        .collect();
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json",
            "dbt_version": kiln_core::DBT_VERSION,
            "generated_at": jiff::Timestamp::now().to_string(),
            "invocation_id": invocation_id,
            "env": {},
        },
        "results": results,
        "elapsed_time": elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_threshold_passed_decides() {
        let criteria = Criteria {
            loaded_at_field: "loaded_at".into(),
            warn_after: Some(Threshold {
                count: 12.0,
                period: Period::Hour,
            }),
            error_after: Some(Threshold {
                count: 1.0,
                period: Period::Day,
            }),
            filter: None,
        };
        assert_eq!(judge(&criteria, 3600.0), FreshnessStatus::Pass);
        assert_eq!(judge(&criteria, 13.0 * 3600.0), FreshnessStatus::Warn);
        assert_eq!(judge(&criteria, 25.0 * 3600.0), FreshnessStatus::Error);
    }
}
