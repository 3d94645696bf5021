//! Node configuration in layers.
//!
//! A node's config comes from up to four places. From weakest to strongest:
//!
//! 1. the project file's `models:` / `seeds:` / `data_tests:` tree, outer folders first;
//! 2. the `config:` block of the node's entry in schema YAML;
//! 3. `config(...)` calls in the node's SQL, in call order;
//! 4. the command line (`--full-refresh`), applied by the runner.
//!
//! Each layer is a [`RawConfig`] (every field optional); [`RawConfig::merge`] applies a stronger
//! layer over a weaker one with dbt's rules (`tags`, hooks and `meta` accumulate, everything else
//! is replaced), and [`RawConfig::resolve`] fills in defaults to give a [`NodeConfig`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// Config keys Kiln understands, for unknown-key suggestions and for telling config keys from
/// folder names in the project file's `models:` tree.
pub const CONFIG_KEYS: &[&str] = &[
    "enabled",
    "materialized",
    "schema",
    "database",
    "alias",
    "tags",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "full_refresh",
    "pre_hook",
    "post_hook",
    "pre-hook",
    "post-hook",
    "incremental_predicates",
    "meta",
    "docs",
    "persist_docs",
    "grants",
    "contract",
    "indexes",
    "column_types",
    "quote_columns",
    "delimiter",
    "severity",
    "warn_if",
    "error_if",
    "where",
    "limit",
    "store_failures",
    "store_failures_as",
    "fail_calc",
    "sql_header",
    "on_configuration_change",
    "unlogged",
    "access",
    "group",
    "event_time",
    "quoting",
    "static_analysis",
];

/// A string or a list of strings (`tags: nightly` and `tags: [a, b]` are both valid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s.clone()],
            StringOrList::Many(v) => v.clone(),
        }
    }
}

/// A hook: SQL text, or dbt's `{sql: ..., transaction: ...}` form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Hook {
    Sql(String),
    Detailed {
        sql: String,
        #[serde(default = "default_true")]
        transaction: bool,
    },
}

fn default_true() -> bool {
    true
}

impl Hook {
    pub fn sql(&self) -> &str {
        match self {
            Hook::Sql(sql) | Hook::Detailed { sql, .. } => sql,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Hooks {
    One(Hook),
    Many(Vec<Hook>),
}

impl Hooks {
    fn into_vec(self) -> Vec<Hook> {
        match self {
            Hooks::One(hook) => vec![hook],
            Hooks::Many(hooks) => hooks,
        }
    }
}

/// One layer of configuration, exactly as written. `None` means "not set in this layer".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<StringOrList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<StringOrList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_schema_change: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_refresh: Option<bool>,
    #[serde(alias = "pre-hook", skip_serializing_if = "Option::is_none")]
    pub pre_hook: Option<Hooks>,
    #[serde(alias = "post-hook", skip_serializing_if = "Option::is_none")]
    pub post_hook: Option<Hooks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_predicates: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, Json>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_types: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_columns: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Any other key: kept so that `config.get('my_key')` sees it.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

impl RawConfig {
    /// Reads a layer from a JSON map (a YAML `config:` block, a `config()` call, a `+key` in
    /// the project file). The error names the key and what was expected.
    pub fn from_json(value: Json) -> Result<RawConfig, String> {
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            format!("config `{path}`: {}", error.into_inner())
        })
    }

    /// Applies `stronger` over `self`. `tags`, `meta` and hooks accumulate as in dbt;
    /// every other key set in `stronger` replaces the weaker value.
    pub fn merge(&mut self, stronger: RawConfig) {
        fn replace<T>(weak: &mut Option<T>, strong: Option<T>) {
            if strong.is_some() {
                *weak = strong;
            }
        }
        replace(&mut self.enabled, stronger.enabled);
        replace(&mut self.materialized, stronger.materialized);
        replace(&mut self.schema, stronger.schema);
        replace(&mut self.database, stronger.database);
        replace(&mut self.alias, stronger.alias);
        replace(&mut self.unique_key, stronger.unique_key);
        replace(
            &mut self.incremental_strategy,
            stronger.incremental_strategy,
        );
        replace(&mut self.on_schema_change, stronger.on_schema_change);
        replace(&mut self.full_refresh, stronger.full_refresh);
        replace(
            &mut self.incremental_predicates,
            stronger.incremental_predicates,
        );
        replace(&mut self.column_types, stronger.column_types);
        replace(&mut self.quote_columns, stronger.quote_columns);
        replace(&mut self.severity, stronger.severity);
        if let Some(tags) = stronger.tags {
            let mut all = self.tags.take().map(|t| t.to_vec()).unwrap_or_default();
            for tag in tags.to_vec() {
                if !all.contains(&tag) {
                    all.push(tag);
                }
            }
            self.tags = Some(StringOrList::Many(all));
        }
        if let Some(meta) = stronger.meta {
            self.meta.get_or_insert_with(BTreeMap::new).extend(meta);
        }
        for (weak, strong) in [
            (&mut self.pre_hook, stronger.pre_hook),
            (&mut self.post_hook, stronger.post_hook),
        ] {
            if let Some(strong) = strong {
                let mut hooks = weak.take().map(Hooks::into_vec).unwrap_or_default();
                hooks.extend(strong.into_vec());
                *weak = Some(Hooks::Many(hooks));
            }
        }
        self.other.extend(stronger.other);
    }

    /// Fills in defaults: `materialized` defaults to `default_materialization` (view for
    /// models, seed for seeds, test for tests).
    pub fn resolve(self, default_materialization: &str) -> NodeConfig {
        NodeConfig {
            enabled: self.enabled.unwrap_or(true),
            materialized: self
                .materialized
                .unwrap_or_else(|| default_materialization.to_owned()),
            schema: self.schema,
            database: self.database,
            alias: self.alias,
            tags: self.tags.map(|t| t.to_vec()).unwrap_or_default(),
            unique_key: self.unique_key.map(|k| k.to_vec()).unwrap_or_default(),
            incremental_strategy: self.incremental_strategy,
            on_schema_change: self.on_schema_change.unwrap_or_else(|| "ignore".to_owned()),
            full_refresh: self.full_refresh,
            pre_hook: self.pre_hook.map(Hooks::into_vec).unwrap_or_default(),
            post_hook: self.post_hook.map(Hooks::into_vec).unwrap_or_default(),
            incremental_predicates: self.incremental_predicates.unwrap_or_default(),
            meta: self.meta.unwrap_or_default(),
            column_types: self.column_types.unwrap_or_default(),
            quote_columns: self.quote_columns,
            severity: self
                .severity
                .unwrap_or_else(|| "ERROR".to_owned())
                .to_uppercase(),
            other: self.other,
        }
    }
}

/// A node's final configuration. Serialized, it is the `config` of the manifest and what
/// `config.get()` reads in Jinja.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeConfig {
    pub enabled: bool,
    pub materialized: String,
    /// The custom schema asked for (`+schema`), before `generate_schema_name`.
    pub schema: Option<String>,
    pub database: Option<String>,
    pub alias: Option<String>,
    pub tags: Vec<String>,
    pub unique_key: Vec<String>,
    pub incremental_strategy: Option<String>,
    pub on_schema_change: String,
    pub full_refresh: Option<bool>,
    #[serde(rename = "pre-hook")]
    pub pre_hook: Vec<Hook>,
    #[serde(rename = "post-hook")]
    pub post_hook: Vec<Hook>,
    pub incremental_predicates: Vec<String>,
    pub meta: BTreeMap<String, Json>,
    pub column_types: BTreeMap<String, String>,
    pub quote_columns: Option<bool>,
    pub severity: String,
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

impl NodeConfig {
    /// The config as the JSON map that Jinja's `config.get()` and the manifest see.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layer(value: Json) -> RawConfig {
        RawConfig::from_json(value).unwrap()
    }

    #[test]
    fn stronger_layers_replace_and_tags_accumulate() {
        let mut config =
            layer(json!({"materialized": "view", "tags": "nightly", "schema": "staging"}));
        config.merge(layer(
            json!({"materialized": "table", "tags": ["finance", "nightly"]}),
        ));
        let resolved = config.resolve("view");
        assert_eq!(resolved.materialized, "table");
        assert_eq!(resolved.schema.as_deref(), Some("staging"));
        assert_eq!(resolved.tags, ["nightly", "finance"]);
    }

    #[test]
    fn hooks_accept_both_spellings_and_accumulate() {
        let mut config = layer(json!({"pre-hook": "select 1"}));
        config.merge(layer(
            json!({"pre_hook": ["select 2", {"sql": "select 3", "transaction": false}]}),
        ));
        let hooks: Vec<_> = config
            .resolve("view")
            .pre_hook
            .iter()
            .map(|h| h.sql().to_owned())
            .collect();
        assert_eq!(hooks, ["select 1", "select 2", "select 3"]);
    }

    #[test]
    fn wrong_types_name_the_key() {
        let error = RawConfig::from_json(json!({"enabled": "yes please"})).unwrap_err();
        assert!(error.contains("enabled"), "{error}");
    }

    #[test]
    fn unknown_keys_are_kept_for_config_get() {
        let resolved = layer(json!({"my_setting": 3})).resolve("view");
        assert_eq!(resolved.to_json()["my_setting"], json!(3));
    }
}
