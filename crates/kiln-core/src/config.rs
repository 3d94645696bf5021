//! Node configuration in layers.
//!
//! A node's config comes from up to five places. From weakest to strongest:
//!
//! 1. the project file's `models:` / `seeds:` / `data_tests:` tree, outer folders first;
//! 2. the `config:` block of the node's entry in schema YAML;
//! 3. `config(...)` calls in the node's SQL, in call order;
//! 4. the command line ([`CliFlags`]: `--full-refresh`, `--store-failures`), which only fills
//!    in what the layers above leave unset, as in dbt (`full_refresh: false` on a model wins
//!    over `--full-refresh`).
//!
//! Each written layer is a [`RawConfig`] (every field optional, values as written);
//! [`RawConfig::merge`] applies a stronger layer over a weaker one with dbt's rules (`tags`,
//! hooks and `meta` accumulate, everything else is replaced), and [`RawConfig::resolve`] fills
//! in defaults, applies the command line and checks every enumerated value, giving a
//! [`NodeConfig`] in which nothing is a free-form string that the runner must interpret.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value as Json;

use crate::diagnostic::{Diagnostic, closest};
use crate::resource_type::ResourceType;

/// A config value that is not one of the values its key allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {key} `{value}`")]
pub struct InvalidValue {
    /// What is configured, as messages name it (`materialization`, `on_schema_change`...).
    pub key: &'static str,
    pub value: String,
    /// The values that would have been accepted.
    pub allowed: &'static [&'static str],
}

impl InvalidValue {
    /// The message for `node` (`model `orders` has unknown materialization `tabel``), with a
    /// did-you-mean or the list of allowed values.
    pub fn to_diagnostic(&self, resource: ResourceType, node: &str) -> Diagnostic {
        let error = Diagnostic::error(format!("{resource} `{node}` has {self}"));
        match closest(&self.value, self.allowed.iter().copied()) {
            Some(known) => error.help(format!("did you mean `{known}`?")),
            None => error.help(format!("use one of {}", self.allowed.join(", "))),
        }
    }
}

/// A config value of the wrong type (`enabled: "yes please"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config `{path}`: {message}")]
pub struct WrongType {
    /// The key, or the path to the value inside it (`meta.owner`).
    pub path: String,
    pub message: String,
}

/// An enumerated config value: the Rust enum, its spellings, parsing and serialization.
macro_rules! config_enum {
    (
        $(#[$meta:meta])*
        $name:ident as $key:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, as a config spells it.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// Reads a value as written in a config.
            pub fn parse(text: &str) -> Result<Self, InvalidValue> {
                match text {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(InvalidValue {
                        key: $key,
                        value: text.to_owned(),
                        allowed: Self::NAMES,
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// How a node is built (`materialized`): one of Kiln's own materializations, or a name that a
/// `{% materialization %}` block of the project or a package defines (whether one does is
/// known only with the macros, so the parse checks it, not this type).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Materialization {
    View,
    Table,
    Incremental,
    Ephemeral,
    Seed,
    Test,
    Snapshot,
    /// dbt-postgres' `materialized_view`: created once, refreshed on later runs.
    MaterializedView,
    /// A `{% materialization <name> %}` block, run as dbt runs it.
    Custom(String),
}

impl Materialization {
    /// Kiln's own materializations, as a config spells them.
    pub const NAMES: &'static [&'static str] = &[
        "view",
        "table",
        "incremental",
        "ephemeral",
        "seed",
        "test",
        "snapshot",
        "materialized_view",
    ];

    /// What a model may be built as without a materialization macro.
    pub const FOR_MODELS: &'static [&'static str] = &[
        "view",
        "table",
        "incremental",
        "ephemeral",
        "materialized_view",
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Materialization::View => "view",
            Materialization::Table => "table",
            Materialization::Incremental => "incremental",
            Materialization::Ephemeral => "ephemeral",
            Materialization::Seed => "seed",
            Materialization::Test => "test",
            Materialization::Snapshot => "snapshot",
            Materialization::MaterializedView => "materialized_view",
            Materialization::Custom(name) => name,
        }
    }

    /// One of Kiln's own materializations, as written in a config.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        Ok(match text {
            "view" => Materialization::View,
            "table" => Materialization::Table,
            "incremental" => Materialization::Incremental,
            "ephemeral" => Materialization::Ephemeral,
            "seed" => Materialization::Seed,
            "test" => Materialization::Test,
            "snapshot" => Materialization::Snapshot,
            "materialized_view" => Materialization::MaterializedView,
            _ => {
                return Err(InvalidValue {
                    key: "materialization",
                    value: text.to_owned(),
                    allowed: Self::NAMES,
                });
            }
        })
    }

    /// A model's materialization: Kiln's own, or the name of a materialization macro.
    pub fn for_model(text: &str) -> Self {
        match Self::parse(text) {
            Ok(own) if Self::FOR_MODELS.contains(&own.as_str()) => own,
            _ => Materialization::Custom(text.to_owned()),
        }
    }

    /// The materialization a node has when none is configured.
    pub fn default_for(resource: ResourceType) -> Materialization {
        match resource {
            ResourceType::Seed => Materialization::Seed,
            ResourceType::Test | ResourceType::UnitTest => Materialization::Test,
            ResourceType::Snapshot => Materialization::Snapshot,
            ResourceType::Model
            | ResourceType::Source
            | ResourceType::Analysis
            | ResourceType::Exposure => Materialization::View,
        }
    }
}

impl fmt::Display for Materialization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Materialization {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

config_enum! {
    /// What a run does when a materialized view's configured indexes differ from the ones it
    /// has (`on_configuration_change`).
    OnConfigurationChange as "on_configuration_change" {
        /// Build it anew with the configured indexes (dbt's default).
        Apply = "apply",
        /// Leave it as it is, not even refreshed (dbt warns and skips it).
        Continue = "continue",
        /// Fail the model; the materialized view is left as it is.
        Fail = "fail",
    }
}

config_enum! {
    /// The incremental strategies Kiln runs itself, with dbt-postgres' SQL.
    BuiltinStrategy as "incremental_strategy" {
        Append = "append",
        DeleteInsert = "delete+insert",
        Merge = "merge",
    }
}

/// How an incremental model adds new rows to its table (`incremental_strategy`): a built-in
/// strategy, or another name, run as dbt runs it: by the macro `get_incremental_<name>_sql`
/// (`+` read as `_`) that the project or a package defines. Whether that macro exists is
/// known only with the macros, so the parse checks it, not this type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IncrementalStrategy {
    Builtin(BuiltinStrategy),
    Macro(String),
}

impl IncrementalStrategy {
    pub const APPEND: Self = Self::Builtin(BuiltinStrategy::Append);
    pub const DELETE_INSERT: Self = Self::Builtin(BuiltinStrategy::DeleteInsert);
    pub const MERGE: Self = Self::Builtin(BuiltinStrategy::Merge);

    pub fn parse(text: &str) -> Self {
        BuiltinStrategy::parse(text).map_or_else(|_| Self::Macro(text.to_owned()), Self::Builtin)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Builtin(builtin) => builtin.as_str(),
            Self::Macro(name) => name,
        }
    }

    /// The macro dbt calls for this strategy: `get_incremental_delete_insert_sql`.
    pub fn macro_name(&self) -> String {
        format!("get_incremental_{}_sql", self.as_str().replace('+', "_"))
    }
}

impl fmt::Display for IncrementalStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for IncrementalStrategy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

config_enum! {
    /// What an incremental run does when the model's columns differ from its table's.
    OnSchemaChange as "on_schema_change" {
        Ignore = "ignore",
        Fail = "fail",
        AppendNewColumns = "append_new_columns",
        SyncAllColumns = "sync_all_columns",
    }
}

config_enum! {
    /// How bad a failing data test is.
    TestSeverity as "severity" {
        Warn = "WARN",
        Error = "ERROR",
    }
}

config_enum! {
    /// What a snapshot does with rows deleted from its source.
    HardDeletes as "hard_deletes" {
        Ignore = "ignore",
        Invalidate = "invalidate",
        NewRecord = "new_record",
    }
}

config_enum! {
    /// PostgreSQL's index access methods (an index's `type`).
    IndexMethod as "index type" {
        Btree = "btree",
        Hash = "hash",
        Gist = "gist",
        Spgist = "spgist",
        Gin = "gin",
        Brin = "brin",
    }
}

impl<'de> Deserialize<'de> for IndexMethod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        IndexMethod::parse(&text.to_lowercase()).map_err(|error| {
            serde::de::Error::custom(format!(
                "{error}; use one of {}",
                IndexMethod::NAMES.join(", ")
            ))
        })
    }
}

/// An index dbt-postgres creates on a table, incremental or seed (`indexes: [{columns: [...],
/// unique: true, type: btree}]`), when the relation is built from scratch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    pub columns: Vec<String>,
    #[serde(default)]
    pub unique: bool,
    #[serde(default, rename = "type")]
    pub method: Option<IndexMethod>,
}

/// The command line's part in every node's config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CliFlags {
    /// `--full-refresh`: rebuild incremental models from scratch.
    pub full_refresh: bool,
    /// `--store-failures`: keep every failing test's rows in a table.
    pub store_failures: bool,
}

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
    "hard_deletes",
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "invalidate_hard_deletes",
    "dbt_valid_to_current",
    "snapshot_meta_column_names",
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
        let hooks = match self {
            Hooks::One(hook) => vec![hook],
            Hooks::Many(hooks) => hooks,
        };
        hooks.into_iter().map(Hook::read_hook_config).collect()
    }
}

impl Hook {
    /// dbt's `before_begin(sql)` / `after_commit(sql)` / `in_transaction(sql)` write a hook as
    /// JSON text (`{"sql": "vacuum", "transaction": false}`), which dbt reads back as the
    /// detailed form.
    fn read_hook_config(self) -> Hook {
        match &self {
            Hook::Sql(text) if text.trim_start().starts_with('{') => {
                serde_json::from_str::<Hook>(text.trim())
                    .ok()
                    .filter(|hook| matches!(hook, Hook::Detailed { .. }))
                    .unwrap_or(self)
            }
            _ => self,
        }
    }
}

/// dbt's merge of two `grants` configs: a privilege the stronger layer names replaces the
/// weaker one's roles, unless written `+select`, which adds to them; the others are kept.
fn merge_grants(
    weak: &serde_json::Map<String, Json>,
    strong: serde_json::Map<String, Json>,
) -> serde_json::Map<String, Json> {
    let roles = |value: &Json| -> Vec<Json> {
        match value {
            Json::Array(many) => many.clone(),
            Json::Null => Vec::new(),
            one => vec![one.clone()],
        }
    };
    let mut merged = weak.clone();
    for (key, value) in strong {
        match key.strip_prefix('+') {
            Some(privilege) => {
                let mut all = merged.get(privilege).map(roles).unwrap_or_default();
                for role in roles(&value) {
                    if !all.contains(&role) {
                        all.push(role);
                    }
                }
                merged.insert(privilege.to_owned(), Json::Array(all));
            }
            None => {
                merged.insert(key, value);
            }
        }
    }
    merged
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_calc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_if: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_if: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_failures: Option<bool>,
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hard_deletes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexes: Option<Vec<IndexConfig>>,
    /// Any other key: kept so that `config.get('my_key')` sees it.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

impl RawConfig {
    /// Reads a layer from a JSON map (a YAML `config:` block, a `config()` call, a `+key` in
    /// the project file). The error names the key and what was expected.
    pub fn from_json(value: Json) -> Result<RawConfig, WrongType> {
        serde_path_to_error::deserialize(value).map_err(|error| WrongType {
            path: error.path().to_string(),
            message: error.into_inner().to_string(),
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
        replace(&mut self.fail_calc, stronger.fail_calc);
        replace(&mut self.warn_if, stronger.warn_if);
        replace(&mut self.error_if, stronger.error_if);
        replace(&mut self.limit, stronger.limit);
        replace(&mut self.store_failures, stronger.store_failures);
        replace(&mut self.where_, stronger.where_);
        replace(&mut self.hard_deletes, stronger.hard_deletes);
        replace(&mut self.indexes, stronger.indexes);
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
        let mut other = stronger.other;
        if let (Some(Json::Object(weak)), Some(Json::Object(strong))) =
            (self.other.get("grants"), other.get("grants"))
        {
            let merged = merge_grants(weak, strong.clone());
            other.insert("grants".to_owned(), Json::Object(merged));
        }
        self.other.extend(other);
    }

    /// Fills in defaults, applies the command line and checks every enumerated value.
    pub fn resolve(
        self,
        resource: ResourceType,
        cli: &CliFlags,
    ) -> Result<NodeConfig, InvalidValue> {
        let materialized = match self.materialized.as_deref() {
            None => Materialization::default_for(resource),
            Some(text) if resource == ResourceType::Model => Materialization::for_model(text),
            Some(text) => Materialization::parse(text)?,
        };
        let test = (resource == ResourceType::Test)
            .then(|| -> Result<TestConfig, InvalidValue> {
                Ok(TestConfig {
                    severity: match &self.severity {
                        Some(text) => {
                            TestSeverity::parse(&text.to_uppercase()).map_err(|e| InvalidValue {
                                value: text.clone(),
                                ..e
                            })?
                        }
                        None => TestSeverity::Error,
                    },
                    fail_calc: self.fail_calc.unwrap_or_else(|| "count(*)".to_owned()),
                    warn_if: self.warn_if.unwrap_or_else(|| "!= 0".to_owned()),
                    error_if: self.error_if.unwrap_or_else(|| "!= 0".to_owned()),
                    limit: self.limit,
                    where_: self.where_,
                    store_failures: self.store_failures,
                    should_store_failures: self.store_failures.unwrap_or(cli.store_failures),
                })
            })
            .transpose()?;
        Ok(NodeConfig {
            enabled: self.enabled.unwrap_or(true),
            materialized,
            schema: self.schema,
            database: self.database,
            alias: self.alias,
            tags: self.tags.map(|t| t.to_vec()).unwrap_or_default(),
            // An empty key (`''` or `[]`) is no key, as in dbt.
            unique_key: self
                .unique_key
                .map(|k| k.to_vec())
                .unwrap_or_default()
                .into_iter()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect(),
            incremental_strategy: self
                .incremental_strategy
                .as_deref()
                .map(IncrementalStrategy::parse),
            on_schema_change: self
                .on_schema_change
                .as_deref()
                .map_or(Ok(OnSchemaChange::Ignore), OnSchemaChange::parse)?,
            full_refresh: self.full_refresh,
            should_full_refresh: self.full_refresh.unwrap_or(cli.full_refresh),
            pre_hook: self.pre_hook.map(Hooks::into_vec).unwrap_or_default(),
            post_hook: self.post_hook.map(Hooks::into_vec).unwrap_or_default(),
            incremental_predicates: self.incremental_predicates.unwrap_or_default(),
            meta: self.meta.unwrap_or_default(),
            column_types: self.column_types.unwrap_or_default(),
            quote_columns: self.quote_columns,
            hard_deletes: self
                .hard_deletes
                .as_deref()
                .map(HardDeletes::parse)
                .transpose()?,
            indexes: self.indexes.unwrap_or_default(),
            test,
            snapshot: None,
            other: self.other,
        })
    }
}

/// A node's final configuration. Serialized, it is the `config` of the manifest and what
/// `config.get()` reads in Jinja.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeConfig {
    pub enabled: bool,
    pub materialized: Materialization,
    /// The custom schema asked for (`+schema`), before `generate_schema_name`.
    pub schema: Option<String>,
    pub database: Option<String>,
    pub alias: Option<String>,
    pub tags: Vec<String>,
    /// Templates see it as dbt has it: none when not set, a string for one column.
    #[serde(serialize_with = "unique_key_as_dbt")]
    pub unique_key: Vec<String>,
    /// As configured; [`NodeConfig::incremental_strategy`] gives the one that runs.
    pub incremental_strategy: Option<IncrementalStrategy>,
    pub on_schema_change: OnSchemaChange,
    /// As configured (the manifest shows `null` when unset).
    pub full_refresh: Option<bool>,
    /// Whether this invocation rebuilds the node from scratch: `full_refresh` if configured,
    /// otherwise `--full-refresh` (dbt's `should_full_refresh()`).
    #[serde(skip)]
    pub should_full_refresh: bool,
    #[serde(rename = "pre-hook")]
    pub pre_hook: Vec<Hook>,
    #[serde(rename = "post-hook")]
    pub post_hook: Vec<Hook>,
    pub incremental_predicates: Vec<String>,
    pub meta: BTreeMap<String, Json>,
    pub column_types: BTreeMap<String, String>,
    pub quote_columns: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hard_deletes: Option<HardDeletes>,
    /// Indexes created when the relation is built from scratch (tables, incremental models on
    /// their first build or a full refresh, seeds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<IndexConfig>,
    /// Data tests only: how the test's failing rows are judged.
    #[serde(flatten)]
    pub test: Option<TestConfig>,
    /// Snapshots only: their settings, checked at parse (the keys stay in `other` as written).
    #[serde(skip)]
    pub snapshot: Option<crate::snapshot::SnapshotConfig>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// How a data test is judged (dbt's test configs), resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestConfig {
    pub severity: TestSeverity,
    /// The SQL aggregate over the failing rows that gives the number compared (`count(*)`).
    pub fail_calc: String,
    /// The condition on that number that makes the test warn (`!= 0`).
    pub warn_if: String,
    /// The condition that makes it fail (`!= 0`), when `severity` is `ERROR`.
    pub error_if: String,
    /// At most this many failing rows are counted.
    pub limit: Option<u64>,
    /// A filter on the tested model (`where`), applied before the test's query.
    #[serde(rename = "where")]
    pub where_: Option<String>,
    /// As configured (`null` when unset).
    pub store_failures: Option<bool>,
    /// Whether this invocation keeps the failing rows in a table: `store_failures` if
    /// configured, otherwise `--store-failures` (dbt's `should_store_failures()`).
    #[serde(skip)]
    pub should_store_failures: bool,
}

impl NodeConfig {
    /// The config of a node for which nothing is configured.
    pub fn default_for(resource: ResourceType) -> NodeConfig {
        #[allow(clippy::expect_used)]
        RawConfig::default()
            .resolve(resource, &CliFlags::default())
            .expect("an empty layer has no value to reject")
    }

    /// The incremental strategy that runs: the configured one, or dbt-postgres' default
    /// (`append` without a `unique_key`, `delete+insert` with one).
    pub fn incremental_strategy(&self) -> IncrementalStrategy {
        self.incremental_strategy
            .clone()
            .unwrap_or(if self.unique_key.is_empty() {
                IncrementalStrategy::APPEND
            } else {
                IncrementalStrategy::DELETE_INSERT
            })
    }

    /// The config as the JSON map that Jinja's `config.get()` and the manifest see.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

fn unique_key_as_dbt<S: Serializer>(keys: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    match keys {
        [] => serializer.serialize_none(),
        [one] => serializer.serialize_str(one),
        many => many.serialize(serializer),
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
        let resolved = config
            .resolve(ResourceType::Model, &CliFlags::default())
            .unwrap();
        assert_eq!(resolved.materialized, Materialization::Table);
        assert_eq!(resolved.schema.as_deref(), Some("staging"));
        assert_eq!(resolved.tags, ["nightly", "finance"]);
    }

    #[test]
    fn grants_replace_per_privilege_and_plus_adds() {
        let mut config = layer(json!({"tags": "x"}));
        config.merge(layer(
            json!({"grants": {"select": ["reporter"], "insert": "loader"}}),
        ));
        config.merge(layer(
            json!({"grants": {"+select": ["bi"], "update": ["etl"]}}),
        ));
        config.merge(layer(json!({"grants": {"insert": []}})));
        assert_eq!(
            config.other["grants"],
            json!({"select": ["reporter", "bi"], "insert": [], "update": ["etl"]})
        );
    }

    #[test]
    fn hooks_accept_both_spellings_and_accumulate() {
        let mut config = layer(json!({"pre-hook": "select 1"}));
        config.merge(layer(
            json!({"pre_hook": ["select 2", {"sql": "select 3", "transaction": false}]}),
        ));
        let hooks: Vec<_> = config
            .resolve(ResourceType::Model, &CliFlags::default())
            .unwrap()
            .pre_hook
            .iter()
            .map(|h| h.sql().to_owned())
            .collect();
        assert_eq!(hooks, ["select 1", "select 2", "select 3"]);
    }

    #[test]
    fn hooks_written_by_before_begin_are_read_back_as_dbt_reads_them() {
        let config = layer(json!({"post-hook": [
            "\n    {\"sql\": \"vacuum t\", \"transaction\": false}\n",
            "{ not json }",
        ]}));
        let hooks = config
            .resolve(ResourceType::Model, &CliFlags::default())
            .unwrap()
            .post_hook;
        assert_eq!(
            hooks,
            [
                Hook::Detailed {
                    sql: "vacuum t".to_owned(),
                    transaction: false
                },
                Hook::Sql("{ not json }".to_owned()),
            ]
        );
    }

    #[test]
    fn wrong_types_name_the_key() {
        let error = RawConfig::from_json(json!({"enabled": "yes please"})).unwrap_err();
        assert_eq!(error.path, "enabled");
    }

    #[test]
    fn unknown_keys_are_kept_for_config_get() {
        let resolved = layer(json!({"my_setting": 3}))
            .resolve(ResourceType::Model, &CliFlags::default())
            .unwrap();
        assert_eq!(resolved.to_json()["my_setting"], json!(3));
    }

    #[test]
    fn enumerated_values_are_checked_when_resolved() {
        let cli = CliFlags::default();
        let bad = layer(json!({"on_schema_change": "append_new_column"}))
            .resolve(ResourceType::Model, &cli)
            .unwrap_err();
        assert_eq!(bad.key, "on_schema_change");
        let message = bad.to_diagnostic(ResourceType::Model, "events").to_string();
        assert!(
            message.contains("did you mean `append_new_columns`?"),
            "{message}"
        );
        // A name Kiln does not build itself is a materialization macro's (checked at parse).
        let custom = layer(json!({"materialized": "seed"}))
            .resolve(ResourceType::Model, &cli)
            .unwrap();
        assert_eq!(
            custom.materialized,
            Materialization::Custom("seed".to_owned())
        );
        let bad = layer(json!({"severity": "fatal"}))
            .resolve(ResourceType::Test, &cli)
            .unwrap_err();
        assert_eq!(bad.value, "fatal");
        let ok = layer(json!({"severity": "warn", "incremental_strategy": "delete+insert"}))
            .resolve(ResourceType::Test, &cli)
            .unwrap();
        assert_eq!(ok.test.map(|t| t.severity), Some(TestSeverity::Warn));
        assert_eq!(
            ok.incremental_strategy,
            Some(IncrementalStrategy::DELETE_INSERT)
        );
    }

    #[test]
    fn the_command_line_fills_in_what_the_config_leaves_unset() {
        let cli = CliFlags {
            full_refresh: true,
            store_failures: true,
        };
        let unset = layer(json!({})).resolve(ResourceType::Test, &cli).unwrap();
        assert!(unset.should_full_refresh);
        assert!(unset.test.as_ref().is_some_and(|t| t.should_store_failures));
        let pinned = layer(json!({"full_refresh": false, "store_failures": false}))
            .resolve(ResourceType::Test, &cli)
            .unwrap();
        assert!(!pinned.should_full_refresh);
        assert!(
            pinned
                .test
                .as_ref()
                .is_some_and(|t| !t.should_store_failures)
        );
        assert_eq!(pinned.to_json()["full_refresh"], json!(false));
    }

    #[test]
    fn incremental_strategy_defaults_as_dbt_postgres() {
        let cli = CliFlags::default();
        let keyed = layer(json!({"unique_key": "id"}))
            .resolve(ResourceType::Model, &cli)
            .unwrap();
        assert_eq!(
            keyed.incremental_strategy(),
            IncrementalStrategy::DELETE_INSERT
        );
        let unkeyed = layer(json!({})).resolve(ResourceType::Model, &cli).unwrap();
        assert_eq!(unkeyed.incremental_strategy(), IncrementalStrategy::APPEND);
        for empty in [json!(""), json!([]), json!("  ")] {
            let resolved = layer(json!({ "unique_key": empty }))
                .resolve(ResourceType::Model, &cli)
                .unwrap();
            assert!(resolved.unique_key.is_empty(), "{empty}: no key, as in dbt");
            assert_eq!(resolved.incremental_strategy(), IncrementalStrategy::APPEND);
        }
    }
}
