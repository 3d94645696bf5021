//! Schema YAML (`schema.yml`, `sources.yml`, `_models.yml`...): sources, model, seed and
//! snapshot properties, columns and their data tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::yaml::Node;
use kiln_core::diagnostic::Diagnostic;

const KNOWN_KEYS: &[&str] = &[
    "version",
    "owner",
    "email",
    "maturity",
    "url",
    "label",
    "depends_on",
    "type",
    "sources",
    "models",
    "seeds",
    "snapshots",
    "macros",
    "analyses",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "unit_tests",
    "groups",
    "name",
    "description",
    "columns",
    "tests",
    "data_tests",
    "config",
    "meta",
    "tags",
    "docs",
    "data_type",
    "quote",
    "constraints",
    "tables",
    "database",
    "schema",
    "identifier",
    "loader",
    "loaded_at_field",
    "freshness",
    "quoting",
    "external",
    "overrides",
    "access",
    "group",
    "latest_version",
    "versions",
    "contract",
    "deprecation_date",
    "arguments",
    "policy_tags",
    "granularity",
    "time_spine",
    "event_time",
    "model",
    "given",
    "expect",
    "input",
    "rows",
    "format",
    "fixture",
    "macros",
    "vars",
    "env_vars",
];

/// A data test as declared in YAML (`- unique`, `- accepted_values: {...}`), kept as written;
/// the test step interprets it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestDecl {
    pub definition: Json,
    pub line: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ColumnProps {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub data_type: Option<String>,
    #[serde(default)]
    pub quote: Option<bool>,
    #[serde(default)]
    pub meta: BTreeMap<String, Json>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub constraints: Vec<Json>,
    #[serde(default)]
    pub config: Option<Json>,
    #[serde(default)]
    pub policy_tags: Option<Json>,
    #[serde(default)]
    pub granularity: Option<Json>,
    #[serde(default)]
    tests: Vec<Json>,
    #[serde(default)]
    data_tests: Vec<Json>,
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub data_test_decls: Vec<TestDecl>,
}

/// One version of a versioned model (`versions:` in its YAML).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// `v:` as written (`1`, `2.1`, `"beta"`).
    pub label: String,
    /// The file stem that defines it: `defined_in:`, else `<model>_v<v>`.
    pub file: String,
}

/// A version as dbt writes it in names: a number without quotes, a string as it is.
fn version_label(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl NodeProps {
    /// The model's versions, in the order written; empty for an unversioned model.
    pub fn model_versions(&self) -> Vec<ModelVersion> {
        let Some(Json::Array(versions)) = &self.versions else {
            return Vec::new();
        };
        versions
            .iter()
            .filter_map(|version| {
                let label = version_label(version.get("v")?)?;
                let file = version
                    .get("defined_in")
                    .and_then(Json::as_str)
                    .map_or_else(|| format!("{}_v{label}", self.name), str::to_owned);
                Some(ModelVersion { label, file })
            })
            .collect()
    }

    /// `latest_version:`, else the greatest version (by number when they are numbers).
    pub fn latest_model_version(&self) -> Option<String> {
        if let Some(latest) = self.latest_version.as_ref().and_then(version_label) {
            return Some(latest);
        }
        let versions = self.model_versions();
        versions
            .iter()
            .max_by(
                |a, b| match (a.label.parse::<f64>(), b.label.parse::<f64>()) {
                    (Ok(a), Ok(b)) => a.total_cmp(&b),
                    _ => a.label.cmp(&b.label),
                },
            )
            .map(|v| v.label.clone())
    }
}

/// Properties of a model, seed, snapshot or analysis.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeProps {
    pub name: String,
    /// A snapshot defined in YAML (dbt 1.9+): `ref('x')` or `source('a', 'b')`, what it records.
    pub relation: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The `config:` block: a config layer (see [`kiln_core::config`]).
    pub config: Option<Json>,
    #[serde(default)]
    pub columns: Vec<ColumnProps>,
    #[serde(default)]
    pub meta: BTreeMap<String, Json>,
    #[serde(default)]
    pub docs: Option<Json>,
    pub access: Option<String>,
    pub group: Option<String>,
    pub latest_version: Option<Json>,
    pub versions: Option<Json>,
    pub constraints: Option<Json>,
    pub contract: Option<Json>,
    pub deprecation_date: Option<Json>,
    pub time_spine: Option<Json>,
    #[serde(default)]
    tests: Vec<Json>,
    #[serde(default)]
    data_tests: Vec<Json>,
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub data_test_decls: Vec<TestDecl>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceTable {
    pub name: String,
    pub identifier: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub columns: Vec<ColumnProps>,
    pub loaded_at_field: Option<String>,
    /// `Some(null)` when written as `freshness: null`: the table opts out of its source's.
    #[serde(default, deserialize_with = "present")]
    pub freshness: Option<Json>,
    #[serde(default)]
    pub meta: BTreeMap<String, Json>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub config: Option<Json>,
    pub external: Option<Json>,
    pub quoting: Option<Json>,
    #[serde(default)]
    tests: Vec<Json>,
    #[serde(default)]
    data_tests: Vec<Json>,
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub data_test_decls: Vec<TestDecl>,
}

/// A key that is present, even with a null value (which `Option` alone reads as absent).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceProps {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub database: Option<String>,
    /// Defaults to the source's name, as in dbt.
    pub schema: Option<String>,
    pub loader: Option<String>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Json>,
    #[serde(default)]
    pub meta: BTreeMap<String, Json>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub config: Option<Json>,
    pub quoting: Option<Json>,
    pub overrides: Option<String>,
    #[serde(default)]
    pub tables: Vec<SourceTable>,
    #[serde(skip)]
    pub line: usize,
}

/// An exposure: a dashboard, notebook or application that reads the project's models.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExposureProps {
    pub name: String,
    /// `dashboard`, `notebook`, `analysis`, `ml` or `application`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `{name: ..., email: ...}`.
    pub owner: Option<Json>,
    #[serde(default)]
    pub description: String,
    pub label: Option<String>,
    /// `high`, `medium` or `low`.
    pub maturity: Option<String>,
    pub url: Option<String>,
    /// `ref('model')`, `source('source', 'table')`, as written.
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub meta: BTreeMap<String, Json>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub config: Option<Json>,
    #[serde(skip)]
    pub line: usize,
}

/// A group: models that belong together, with an owner (`group:` config, `access: private`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupProps {
    pub name: String,
    /// `{name: ..., email: ...}`.
    pub owner: Option<Json>,
    pub description: Option<String>,
    pub config: Option<Json>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MacroProps {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub arguments: Option<Json>,
    pub docs: Option<Json>,
    pub meta: Option<Json>,
}

/// A `given` entry or the `expect` block of a unit test, as written.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitFixtureProps {
    /// `ref('x')`, `source('a', 'b')` or `this` (`given` only).
    pub input: Option<String>,
    /// A list of rows (`format: dict`), or the text of a CSV or a query.
    pub rows: Option<Json>,
    /// `dict` (the default), `csv` or `sql`.
    pub format: Option<String>,
    /// The name of a file under `<test path>/fixtures/`, instead of `rows`.
    pub fixture: Option<String>,
    #[serde(skip)]
    pub line: usize,
}

/// `overrides:` of a unit test.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitOverridesProps {
    #[serde(default)]
    pub macros: BTreeMap<String, Json>,
    #[serde(default)]
    pub vars: BTreeMap<String, Json>,
    #[serde(default)]
    pub env_vars: BTreeMap<String, Json>,
}

/// A unit test (dbt 1.8+), as written under `unit_tests:`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UnitTestProps {
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub given: Vec<UnitFixtureProps>,
    pub expect: UnitFixtureProps,
    #[serde(default)]
    pub overrides: UnitOverridesProps,
    pub config: Option<Json>,
    pub versions: Option<Json>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Default, Deserialize)]
struct RawSchemaFile {
    #[allow(dead_code)]
    version: Option<Json>,
    #[serde(default)]
    sources: Vec<SourceProps>,
    #[serde(default)]
    models: Vec<NodeProps>,
    #[serde(default)]
    seeds: Vec<NodeProps>,
    #[serde(default)]
    snapshots: Vec<NodeProps>,
    #[serde(default)]
    analyses: Vec<NodeProps>,
    #[serde(default)]
    macros: Vec<MacroProps>,
    #[serde(default)]
    exposures: Vec<ExposureProps>,
    // MetricFlow's entries: kept as written, read by kiln-compile's `semantic` module.
    #[serde(default)]
    metrics: Vec<Json>,
    #[serde(default)]
    semantic_models: Vec<Json>,
    #[serde(default)]
    saved_queries: Vec<Json>,
    #[serde(default)]
    unit_tests: Vec<UnitTestProps>,
    #[serde(default)]
    groups: Vec<GroupProps>,
}

/// One schema YAML file.
#[derive(Debug, Clone, Default)]
pub struct SchemaFile {
    /// Relative to the project root.
    pub path: PathBuf,
    pub sources: Vec<SourceProps>,
    pub models: Vec<NodeProps>,
    pub seeds: Vec<NodeProps>,
    pub snapshots: Vec<NodeProps>,
    pub analyses: Vec<NodeProps>,
    pub macros: Vec<MacroProps>,
    pub unit_tests: Vec<UnitTestProps>,
    pub exposures: Vec<ExposureProps>,
    pub groups: Vec<GroupProps>,
    /// MetricFlow's `semantic_models:`, `metrics:` and `saved_queries:`, each entry as written
    /// with its line.
    pub semantic_models: Vec<(Json, usize)>,
    pub metrics: Vec<(Json, usize)>,
    pub saved_queries: Vec<(Json, usize)>,
}

/// Reads a schema file from its parsed YAML.
pub fn read(
    root: &Node,
    path: &Path,
    warnings: &mut Vec<Diagnostic>,
) -> Result<SchemaFile, Diagnostic> {
    if matches!(root.value, crate::yaml::Value::Null) {
        return Ok(SchemaFile {
            path: path.to_path_buf(),
            ..SchemaFile::default()
        });
    }
    if !matches!(root.value, crate::yaml::Value::Map(_)) {
        return Err(Diagnostic::error(
            "a schema YAML file is a mapping of `models:`, `sources:`, `seeds:`... not a list or a value",
        )
        .at(kiln_core::Location::new(path, root.line))
        .help("start the file with `version: 2` and `models:` (each model an item under it)"));
    }
    let raw: RawSchemaFile = root.deserialize(path, KNOWN_KEYS, warnings)?;
    let with_lines = |key: &str, entries: Vec<Json>| -> Vec<(Json, usize)> {
        let nodes = root.get(key).and_then(Node::as_seq).unwrap_or_default();
        let lines = nodes.iter().map(|n| n.line).chain(std::iter::repeat(1));
        entries.into_iter().zip(lines).collect()
    };
    let mut file = SchemaFile {
        semantic_models: with_lines("semantic_models", raw.semantic_models),
        metrics: with_lines("metrics", raw.metrics),
        saved_queries: with_lines("saved_queries", raw.saved_queries),
        path: path.to_path_buf(),
        sources: raw.sources,
        models: raw.models,
        seeds: raw.seeds,
        snapshots: raw.snapshots,
        analyses: raw.analyses,
        macros: raw.macros,
        unit_tests: raw.unit_tests,
        exposures: raw.exposures,
        groups: raw.groups,
    };
    attach_node_lines(&mut file.models, root.get("models"));
    let exposure_nodes = root
        .get("exposures")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for (exposure, node) in file.exposures.iter_mut().zip(exposure_nodes) {
        exposure.line = node.line;
    }
    let group_nodes = root
        .get("groups")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for (group, node) in file.groups.iter_mut().zip(group_nodes) {
        group.line = node.line;
    }
    attach_node_lines(&mut file.seeds, root.get("seeds"));
    attach_node_lines(&mut file.snapshots, root.get("snapshots"));
    attach_node_lines(&mut file.analyses, root.get("analyses"));
    let unit_nodes = root
        .get("unit_tests")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for (test, node) in file.unit_tests.iter_mut().zip(unit_nodes) {
        test.line = node.line;
        test.expect.line = node.get("expect").map_or(node.line, |n| n.line);
        let given = node.get("given").and_then(Node::as_seq).unwrap_or_default();
        for (entry, node) in test.given.iter_mut().zip(given) {
            entry.line = node.line;
        }
    }
    let source_nodes = root
        .get("sources")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for (source, node) in file.sources.iter_mut().zip(source_nodes) {
        source.line = node.line;
        let table_nodes = node
            .get("tables")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        for (table, node) in source.tables.iter_mut().zip(table_nodes) {
            table.line = node.line;
            table.data_test_decls = test_decls(
                std::mem::take(&mut table.tests),
                std::mem::take(&mut table.data_tests),
                node,
            );
            attach_column_lines(&mut table.columns, node.get("columns"));
        }
    }
    Ok(file)
}

fn attach_node_lines(props: &mut [NodeProps], seq: Option<&Node>) {
    let nodes = seq.and_then(Node::as_seq).unwrap_or_default();
    for (entry, node) in props.iter_mut().zip(nodes) {
        entry.line = node.line;
        entry.data_test_decls = test_decls(
            std::mem::take(&mut entry.tests),
            std::mem::take(&mut entry.data_tests),
            node,
        );
        attach_column_lines(&mut entry.columns, node.get("columns"));
    }
}

fn attach_column_lines(columns: &mut [ColumnProps], seq: Option<&Node>) {
    let nodes = seq.and_then(Node::as_seq).unwrap_or_default();
    for (column, node) in columns.iter_mut().zip(nodes) {
        column.line = node.line;
        column.data_test_decls = test_decls(
            std::mem::take(&mut column.tests),
            std::mem::take(&mut column.data_tests),
            node,
        );
    }
}

/// `tests:` and the newer `data_tests:` together, each with the line it is written on.
fn test_decls(tests: Vec<Json>, data_tests: Vec<Json>, node: &Node) -> Vec<TestDecl> {
    let lines = |key: &str| -> Vec<usize> {
        node.get(key)
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .map(|n| n.line)
            .collect()
    };
    let (test_lines, data_test_lines) = (lines("tests"), lines("data_tests"));
    tests
        .into_iter()
        .zip(test_lines)
        .chain(data_tests.into_iter().zip(data_test_lines))
        .map(|(definition, line)| TestDecl { definition, line })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[test]
    fn reads_sources_models_and_test_lines() {
        let text = "\
version: 2
sources:
  - name: stripe
    tables:
      - name: charges
        identifier: stripe_charges
models:
  - name: orders
    columns:
      - name: id
        data_tests:
          - unique
          - not_null
";
        let path = Path::new("models/schema.yml");
        let root = yaml::parse(path, text).unwrap();
        let mut warnings = Vec::new();
        let file = read(&root, path, &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            file.sources[0].tables[0].identifier.as_deref(),
            Some("stripe_charges")
        );
        assert_eq!(file.models[0].line, 8);
        let tests = &file.models[0].columns[0].data_test_decls;
        assert_eq!(tests.iter().map(|t| t.line).collect::<Vec<_>>(), [12, 13]);
    }
}
