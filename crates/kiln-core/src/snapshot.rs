//! A snapshot's settings, read from its config and checked once, at parse time.
//!
//! dbt keeps these as free-form config keys (`strategy`, `updated_at`, `check_cols`,
//! `snapshot_meta_column_names`...) that its materialization interprets while it runs, so a typo
//! surfaces in the middle of a nightly run. Kiln reads them into [`SnapshotConfig`] when the
//! project is parsed and refuses a snapshot that could not run.

use serde::Serialize;
use serde_json::Value as Json;

use crate::config::{HardDeletes, InvalidValue, NodeConfig};

/// How a snapshot tells that a row changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "strategy", rename_all = "lowercase")]
pub enum Strategy {
    /// The row's `updated_at` column moved forward.
    Timestamp { updated_at: String },
    /// One of the checked columns differs from the current version.
    Check {
        columns: CheckCols,
        /// The expression that stamps new versions; the run's time when unset.
        updated_at: Option<String>,
    },
}

/// `check_cols`: every column of the query, or these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CheckCols {
    All,
    Only(Vec<String>),
}

/// The names of the columns a snapshot adds (`snapshot_meta_column_names`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaColumns {
    pub dbt_scd_id: String,
    pub dbt_updated_at: String,
    pub dbt_valid_from: String,
    pub dbt_valid_to: String,
    pub dbt_is_deleted: String,
}

impl Default for MetaColumns {
    fn default() -> Self {
        MetaColumns {
            dbt_scd_id: "dbt_scd_id".to_owned(),
            dbt_updated_at: "dbt_updated_at".to_owned(),
            dbt_valid_from: "dbt_valid_from".to_owned(),
            dbt_valid_to: "dbt_valid_to".to_owned(),
            dbt_is_deleted: "dbt_is_deleted".to_owned(),
        }
    }
}

/// A snapshot's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotConfig {
    #[serde(flatten)]
    pub strategy: Strategy,
    /// The columns (or expressions) that identify a row of the source.
    pub unique_key: Vec<String>,
    pub hard_deletes: HardDeletes,
    /// What `dbt_valid_to` holds for current rows (an SQL expression), instead of null.
    pub valid_to_current: Option<String>,
    pub columns: MetaColumns,
    /// dbt's legacy `target_schema` / `target_database`: the exact schema and database, not
    /// passed through `generate_schema_name`.
    pub target_schema: Option<String>,
    pub target_database: Option<String>,
}

/// Why a snapshot's config cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotConfigError {
    #[error("has no `{0}` configured")]
    Missing(&'static str),
    #[error("has {0}")]
    Invalid(InvalidValue),
    #[error("config `{key}`: {message}")]
    WrongType { key: &'static str, message: String },
    #[error("sets both `invalidate_hard_deletes` and `hard_deletes`")]
    BothHardDeleteKeys,
}

impl SnapshotConfigError {
    /// What the user can do about it.
    pub fn help(&self) -> String {
        match self {
            SnapshotConfigError::Missing("strategy") => {
                "add strategy='timestamp' (with updated_at) or strategy='check' (with check_cols) to its config".to_owned()
            }
            SnapshotConfigError::Missing("unique_key") => {
                "add unique_key: the column (or list of columns) that identifies a row of the source".to_owned()
            }
            SnapshotConfigError::Missing("updated_at") => {
                "the timestamp strategy needs updated_at: the column that says when a row last changed".to_owned()
            }
            SnapshotConfigError::Missing("check_cols") => {
                "the check strategy needs check_cols: 'all' or a list of columns to compare".to_owned()
            }
            SnapshotConfigError::Missing(_) => "add it to the snapshot's config".to_owned(),
            SnapshotConfigError::Invalid(invalid) => {
                match crate::diagnostic::closest(&invalid.value, invalid.allowed.iter().copied()) {
                    Some(known) => format!("did you mean `{known}`?"),
                    None => format!("use one of {}", invalid.allowed.join(", ")),
                }
            }
            SnapshotConfigError::WrongType { .. } => "see dbt's snapshot configs".to_owned(),
            SnapshotConfigError::BothHardDeleteKeys => {
                "keep hard_deletes (ignore, invalidate or new_record); invalidate_hard_deletes is its older spelling".to_owned()
            }
        }
    }
}

const STRATEGIES: &[&str] = &["timestamp", "check"];

fn text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn wrong(key: &'static str, message: &str) -> SnapshotConfigError {
    SnapshotConfigError::WrongType {
        key,
        message: message.to_owned(),
    }
}

impl SnapshotConfig {
    /// Reads the snapshot keys of a resolved config.
    pub fn from_config(config: &NodeConfig) -> Result<SnapshotConfig, SnapshotConfigError> {
        let get = |key: &str| config.other.get(key).filter(|v| !v.is_null());
        let optional_text = |key: &'static str| -> Result<Option<String>, SnapshotConfigError> {
            get(key)
                .map(|v| text(v).ok_or_else(|| wrong(key, "expected a string")))
                .transpose()
        };
        let unique_key: Vec<String> = config
            .unique_key
            .iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        let strategy_name =
            optional_text("strategy")?.ok_or(SnapshotConfigError::Missing("strategy"))?;
        if unique_key.is_empty() {
            return Err(SnapshotConfigError::Missing("unique_key"));
        }
        let updated_at = optional_text("updated_at")?;
        let strategy = match strategy_name.as_str() {
            "timestamp" => Strategy::Timestamp {
                updated_at: updated_at.ok_or(SnapshotConfigError::Missing("updated_at"))?,
            },
            "check" => {
                let columns = match get("check_cols") {
                    None => return Err(SnapshotConfigError::Missing("check_cols")),
                    Some(Json::String(s)) if s == "all" => CheckCols::All,
                    Some(Json::String(s)) if !s.trim().is_empty() => {
                        CheckCols::Only(vec![s.trim().to_owned()])
                    }
                    Some(Json::Array(items)) if !items.is_empty() => CheckCols::Only(
                        items
                            .iter()
                            .map(|item| {
                                text(item).ok_or_else(|| {
                                    wrong("check_cols", "expected 'all' or a list of column names")
                                })
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                    Some(_) => {
                        return Err(wrong(
                            "check_cols",
                            "expected 'all' or a list of column names",
                        ));
                    }
                };
                Strategy::Check {
                    columns,
                    updated_at,
                }
            }
            other => {
                return Err(SnapshotConfigError::Invalid(InvalidValue {
                    key: "snapshot strategy",
                    value: other.to_owned(),
                    allowed: STRATEGIES,
                }));
            }
        };
        let legacy = match get("invalidate_hard_deletes") {
            None => None,
            Some(Json::Bool(b)) => Some(*b),
            Some(_) => return Err(wrong("invalidate_hard_deletes", "expected true or false")),
        };
        let hard_deletes = match (legacy, config.hard_deletes) {
            (Some(_), Some(_)) => return Err(SnapshotConfigError::BothHardDeleteKeys),
            (Some(true), None) => HardDeletes::Invalidate,
            (_, Some(configured)) => configured,
            (_, None) => HardDeletes::Ignore,
        };
        let mut columns = MetaColumns::default();
        if let Some(names) = get("snapshot_meta_column_names") {
            let Json::Object(names) = names else {
                return Err(wrong(
                    "snapshot_meta_column_names",
                    "expected a mapping such as {dbt_valid_from: valid_from}",
                ));
            };
            for (key, value) in names {
                let slot = match key.as_str() {
                    "dbt_scd_id" => &mut columns.dbt_scd_id,
                    "dbt_updated_at" => &mut columns.dbt_updated_at,
                    "dbt_valid_from" => &mut columns.dbt_valid_from,
                    "dbt_valid_to" => &mut columns.dbt_valid_to,
                    "dbt_is_deleted" => &mut columns.dbt_is_deleted,
                    other => {
                        return Err(SnapshotConfigError::Invalid(InvalidValue {
                            key: "snapshot_meta_column_names key",
                            value: other.to_owned(),
                            allowed: &[
                                "dbt_scd_id",
                                "dbt_updated_at",
                                "dbt_valid_from",
                                "dbt_valid_to",
                                "dbt_is_deleted",
                            ],
                        }));
                    }
                };
                if let Some(name) = text(value) {
                    *slot = name;
                }
            }
        }
        Ok(SnapshotConfig {
            strategy,
            unique_key,
            hard_deletes,
            valid_to_current: optional_text("dbt_valid_to_current")?,
            columns,
            target_schema: optional_text("target_schema")?,
            target_database: optional_text("target_database")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CliFlags, RawConfig};
    use crate::resource_type::ResourceType;
    use serde_json::json;

    fn read(value: Json) -> Result<SnapshotConfig, SnapshotConfigError> {
        let config = RawConfig::from_json(value)
            .unwrap()
            .resolve(ResourceType::Snapshot, &CliFlags::default())
            .unwrap();
        SnapshotConfig::from_config(&config)
    }

    #[test]
    fn reads_both_strategies_and_renamed_columns() {
        let timestamp = read(json!({"strategy": "timestamp", "unique_key": "id",
            "updated_at": "updated_at", "invalidate_hard_deletes": true}))
        .unwrap();
        assert_eq!(
            timestamp.strategy,
            Strategy::Timestamp {
                updated_at: "updated_at".into()
            }
        );
        assert_eq!(timestamp.hard_deletes, HardDeletes::Invalidate);
        let check = read(json!({"strategy": "check", "unique_key": ["region", "id"],
            "check_cols": "all", "snapshot_meta_column_names": {"dbt_valid_to": "valid_to"}}))
        .unwrap();
        assert_eq!(check.unique_key, ["region", "id"]);
        assert_eq!(
            check.strategy,
            Strategy::Check {
                columns: CheckCols::All,
                updated_at: None
            }
        );
        assert_eq!(check.columns.dbt_valid_to, "valid_to");
        assert_eq!(check.columns.dbt_valid_from, "dbt_valid_from");
    }

    #[test]
    fn refuses_what_could_not_run() {
        assert_eq!(
            read(json!({"unique_key": "id"})),
            Err(SnapshotConfigError::Missing("strategy"))
        );
        assert_eq!(
            read(json!({"strategy": "timestamp", "unique_key": "id"})),
            Err(SnapshotConfigError::Missing("updated_at"))
        );
        assert_eq!(
            read(json!({"strategy": "check", "unique_key": ""})),
            Err(SnapshotConfigError::Missing("unique_key"))
        );
        let typo = read(json!({"strategy": "timestamps", "unique_key": "id"})).unwrap_err();
        assert_eq!(typo.help(), "did you mean `timestamp`?");
        assert_eq!(
            read(
                json!({"strategy": "check", "unique_key": "id", "check_cols": "all",
                "hard_deletes": "invalidate", "invalidate_hard_deletes": false})
            ),
            Err(SnapshotConfigError::BothHardDeleteKeys)
        );
    }
}
