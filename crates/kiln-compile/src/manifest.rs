//! `target/manifest.json` (shaped after dbt's manifest v12, so tools that read dbt manifests
//! can read Kiln's) and the compiled SQL files under `target/compiled/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_core::{Diagnostic, Node, ResourceType};
use kiln_graph::Direction;
use kiln_project::Project;
use std::io::Write;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::parse::{Parsed, now_rfc3339};

/// Where a node's compiled SQL is written: `target/compiled/<package>/<original_file_path>`,
/// and for a generic test `.../<schema file>/<test alias>.sql`, as dbt does.
pub fn compiled_path(target_path: &str, node: &Node) -> PathBuf {
    let path = Path::new(target_path)
        .join("compiled")
        .join(&node.package)
        .join(&node.original_file_path);
    match &node.test {
        Some(test) if test.kind == kiln_core::TestKind::Generic => {
            path.join(format!("{}.sql", node.relation.identifier))
        }
        _ => path,
    }
}

/// dbt's checksum of a node's file: the sha256 of its text; `none` for generic tests, which
/// have no file of their own; for seeds, [`seed_checksum`].
fn checksum(project: &Project, node: &Node) -> Json {
    use sha2::{Digest, Sha256};
    match node.resource_type {
        ResourceType::Seed => {
            seed_checksum(project, node).unwrap_or_else(|| json!({"name": "none", "checksum": ""}))
        }
        ResourceType::Test
            if node
                .test
                .as_ref()
                .is_some_and(|t| t.kind == kiln_core::TestKind::Generic) =>
        {
            json!({"name": "none", "checksum": ""})
        }
        _ => {
            // dbt hashes the file's text without leading and trailing whitespace.
            let digest = Sha256::digest(node.raw_code.trim().as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            json!({"name": "sha256", "checksum": hex})
        }
    }
}

/// dbt's checksum of a seed: the sha256 of the file, or its path when the file is over 1 MiB
/// (reading a large seed on every parse would cost more than the check is worth).
fn seed_checksum(project: &Project, node: &Node) -> Option<Json> {
    use sha2::{Digest, Sha256};
    let dir = project.packages.iter().find(|p| p.name == node.package)?;
    let path = dir.dir.join(&node.original_file_path);
    let size = std::fs::metadata(&path).ok()?.len();
    let (name, checksum) = if size > 1024 * 1024 {
        ("path", node.original_file_path.display().to_string())
    } else {
        let bytes = std::fs::read(&path).ok()?;
        let digest = Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        ("sha256", hex)
    };
    Some(json!({"name": name, "checksum": checksum}))
}

/// A hook as dbt's manifest shows it.
fn hook_json(hook: &kiln_core::config::Hook) -> Json {
    let transaction = match hook {
        kiln_core::config::Hook::Sql(_) => true,
        kiln_core::config::Hook::Detailed { transaction, .. } => *transaction,
    };
    json!({"sql": hook.sql(), "transaction": transaction, "index": null})
}

/// A node's `config` as dbt's manifest shows it for its resource type: the keys dbt's config
/// class has (with dbt's defaults where Kiln has no setting), hooks as objects, and whatever
/// else the project configured.
fn config_json(node: &Node) -> Json {
    let config = &node.config;
    let mut out = match serde_json::to_value(config) {
        Ok(Json::Object(map)) => map,
        _ => Map::new(),
    };
    for key in ["pre-hook", "post-hook"] {
        let hooks = if key == "pre-hook" {
            &config.pre_hook
        } else {
            &config.post_hook
        };
        out.insert(key.to_owned(), hooks.iter().map(hook_json).collect());
    }
    if config.incremental_predicates.is_empty() {
        out.remove("incremental_predicates");
    }
    if config.quote_columns.is_none() && node.resource_type != ResourceType::Seed {
        out.remove("quote_columns");
    }
    let mut default = |key: &str, value: Json| {
        out.entry(key.to_owned()).or_insert(value);
    };
    default("group", Json::Null);
    default("static_analysis", Json::Null);
    if node.resource_type == ResourceType::Test {
        default("store_failures_as", Json::Null);
        // A test's config has none of the keys about building a relation.
        for key in [
            "column_types",
            "full_refresh",
            "incremental_strategy",
            "on_schema_change",
            "post-hook",
            "pre-hook",
            "unique_key",
            "quote_columns",
        ] {
            out.remove(key);
        }
        return Json::Object(out);
    }
    let mut default = |key: &str, value: Json| {
        out.entry(key.to_owned()).or_insert(value);
    };
    default("batch_size", Json::Null);
    default("lookback", json!(1));
    default("begin", Json::Null);
    default("persist_docs", json!({}));
    default("quoting", json!({}));
    default("on_configuration_change", json!("apply"));
    default("grants", json!({}));
    default("packages", json!([]));
    default("docs", json!({"show": true, "node_color": null}));
    default("contract", json!({"enforced": false, "alias_types": true}));
    default("event_time", Json::Null);
    default("concurrent_batches", Json::Null);
    match node.resource_type {
        ResourceType::Model => {
            default("access", json!("protected"));
            default("freshness", Json::Null);
        }
        ResourceType::Seed => default("delimiter", json!(",")),
        _ => {}
    }
    // A `contract:` config gets dbt's defaults for the keys it leaves out.
    if let Some(Json::Object(contract)) = out.get_mut("contract") {
        contract.entry("enforced").or_insert(json!(false));
        contract.entry("alias_types").or_insert(json!(true));
    }
    if let Some(snapshot) = &config.snapshot {
        let strategy = serde_json::to_value(&snapshot.strategy).unwrap_or(Json::Null);
        out.insert("strategy".to_owned(), strategy["strategy"].clone());
        out.insert("updated_at".to_owned(), strategy["updated_at"].clone());
        let check_cols = match &snapshot.strategy {
            kiln_core::snapshot::Strategy::Check { columns, .. } => {
                serde_json::to_value(columns).unwrap_or(Json::Null)
            }
            kiln_core::snapshot::Strategy::Timestamp { .. } => Json::Null,
        };
        out.insert(
            "check_cols".to_owned(),
            if check_cols.is_null()
                && matches!(
                    snapshot.strategy,
                    kiln_core::snapshot::Strategy::Check { .. }
                )
            {
                json!("all")
            } else {
                check_cols
            },
        );
        let unique_key = match snapshot.unique_key.as_slice() {
            [one] => json!(one),
            keys => json!(keys),
        };
        out.insert("unique_key".to_owned(), unique_key);
        out.insert(
            "snapshot_meta_column_names".to_owned(),
            serde_json::to_value(&snapshot.columns).unwrap_or(Json::Null),
        );
        out.insert(
            "dbt_valid_to_current".to_owned(),
            json!(snapshot.valid_to_current),
        );
        out.insert("target_schema".to_owned(), json!(snapshot.target_schema));
        out.insert(
            "target_database".to_owned(),
            json!(snapshot.target_database),
        );
    }
    Json::Object(out)
}

/// A source's freshness as dbt's manifest shows it: both thresholds and the filter, unset
/// ones null (`null` when the table opts out).
fn freshness_json(written: &Json) -> Json {
    let Json::Object(written) = written else {
        return written.clone();
    };
    let mut out = json!({
        "warn_after": {"count": null, "period": null},
        "error_after": {"count": null, "period": null},
        "filter": null,
    });
    if let Some(out) = out.as_object_mut() {
        for (key, value) in written {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// A column constraint as dbt's manifest shows it: what was written, with dbt's defaults.
fn constraint_json(written: &Json) -> Json {
    let mut out = json!({
        "type": null, "name": null, "expression": null, "warn_unenforced": true,
        "warn_unsupported": true, "to": null, "to_columns": [],
    });
    if let (Some(out), Some(written)) = (out.as_object_mut(), written.as_object()) {
        for (key, value) in written {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// A column as the manifest shows it.
#[derive(Serialize)]
struct ColumnOut<'a> {
    name: &'a str,
    description: &'a str,
    meta: &'a BTreeMap<String, Json>,
    data_type: &'a Option<String>,
    constraints: Vec<Json>,
    quote: Option<bool>,
    config: ColumnConfig<'a>,
    tags: &'a [String],
    granularity: Option<()>,
    doc_blocks: [(); 0],
}

impl<'a> ColumnOut<'a> {
    fn of(c: &'a kiln_core::Column) -> Self {
        ColumnOut {
            name: &c.name,
            description: &c.description,
            meta: &c.meta,
            data_type: &c.data_type,
            constraints: c.constraints.iter().map(constraint_json).collect(),
            quote: c.quote,
            config: ColumnConfig {
                meta: &c.meta,
                tags: &c.tags,
            },
            tags: &c.tags,
            granularity: None,
            doc_blocks: [],
        }
    }
}

/// A documented column as the manifest (and `model.columns`) shows it.
pub(crate) fn column_json(c: &kiln_core::Column) -> Json {
    serde_json::to_value(ColumnOut::of(c)).unwrap_or(Json::Null)
}

#[derive(Serialize)]
struct ColumnConfig<'a> {
    meta: &'a BTreeMap<String, Json>,
    tags: &'a [String],
}

#[derive(Serialize)]
struct RefOut<'a> {
    name: &'a str,
    package: &'a Option<String>,
    version: Option<()>,
}

#[derive(Serialize)]
struct DependsOn<'a> {
    macros: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<&'a [String]>,
}

/// dbt's `{"show": true, "node_color": null}`.
#[derive(Serialize)]
struct Docs {
    show: bool,
    node_color: Option<()>,
}

const DOCS: Docs = Docs {
    show: true,
    node_color: None,
};

#[derive(Serialize)]
struct Contract {
    enforced: bool,
    alias_types: bool,
    checksum: Option<()>,
}

/// What a source has in the manifest beside the common keys.
#[derive(Serialize)]
struct SourceOut<'a> {
    source_name: &'a str,
    source_description: &'a str,
    loader: &'a str,
    identifier: &'a str,
    quoting: Json,
    loaded_at_field: &'a Option<String>,
    loaded_at_query: Option<()>,
    freshness: Option<Json>,
    external: Option<()>,
    source_meta: Empty,
    unrendered_database: Option<()>,
    unrendered_schema: Option<()>,
}

/// A model version as dbt records it: a number when it is one.
fn version_json(label: &str) -> Json {
    label
        .parse::<i64>()
        .map_or_else(|_| json!(label), Json::from)
}

/// What models have beside the keys of every SQL node.
#[derive(Serialize)]
struct ModelOut<'a> {
    access: &'a str,
    constraints: [(); 0],
    version: Option<Json>,
    latest_version: Option<Json>,
    deprecation_date: Option<()>,
    primary_key: [(); 0],
    time_spine: Option<Json>,
}

/// What generic tests have beside the keys of every SQL node.
#[derive(Serialize)]
struct GenericTestOut<'a> {
    column_name: &'a Option<String>,
    file_key_name: &'a Option<String>,
    attached_node: &'a Option<String>,
    test_metadata: &'a Option<Json>,
}

/// The manifest's entry for a node, as dbt-core 1.11 writes it for its resource type (manifest
/// v12): sources, seeds and SQL nodes (models, tests, snapshots, analyses) each have their own
/// set of keys (`None` leaves a key out; unit tests are [`unit_test_out`]). It borrows from the
/// node, so that writing the manifest of a large project copies none of its SQL.
#[derive(Serialize)]
struct NodeOut<'a> {
    database: &'a Option<String>,
    schema: &'a str,
    name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    path: PathBuf,
    original_file_path: &'a Path,
    unique_id: &'a str,
    fqn: &'a [String],
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    source: Option<SourceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<Json>,
    config: Json,
    tags: &'a [String],
    description: &'a str,
    columns: BTreeMap<&'a str, ColumnOut<'a>>,
    meta: &'a BTreeMap<String, Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    docs: Option<Docs>,
    patch_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    build_path: Option<Option<()>>,
    unrendered_config: Empty,
    created_at: f64,
    relation_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// As dbt has it: the file with leading and trailing whitespace stripped.
    raw_code: Option<&'a str>,
    doc_blocks: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    root_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refs: Option<Vec<RefOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<Vec<[&'a str; 2]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<[(); 0]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    functions: Option<[(); 0]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    depends_on: Option<DependsOn<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled_path: Option<Option<PathBuf>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_ctes_injected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_ctes: Option<[(); 0]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contract: Option<Contract>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    model: Option<ModelOut<'a>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    test: Option<GenericTestOut<'a>>,
}

fn node_out<'a>(node: &'a Node, project: &Project, created_at: f64) -> NodeOut<'a> {
    let target_path = project.file().target_path.as_str();
    let kind = node.resource_type;
    let is_source = node.source.is_some();
    let is_seed = kind == ResourceType::Seed;
    let has_sql = !is_source && !is_seed;
    let generic_test = node
        .test
        .as_ref()
        .filter(|t| t.kind == kiln_core::TestKind::Generic);
    let path: PathBuf = match generic_test {
        Some(_) => format!("{}.sql", node.relation.identifier).into(),
        // dbt's analyses sit under `analysis/` in their path (and fqn).
        None if kind == ResourceType::Analysis => std::iter::once("analysis".into())
            .chain(
                node.original_file_path
                    .components()
                    .skip(1)
                    .map(|c| c.as_os_str().to_owned()),
            )
            .collect(),
        None => node.original_file_path.components().skip(1).collect(),
    };
    let alias = if node.is_ephemeral() {
        node.config
            .alias
            .clone()
            .unwrap_or_else(|| node.default_alias())
    } else {
        node.relation.identifier.clone()
    };
    let freshness = node
        .source
        .as_ref()
        .and_then(|source| source.freshness.as_ref())
        .map(freshness_json);
    let source = node.source.as_ref().map(|source| SourceOut {
        source_name: &source.source_name,
        source_description: &source.source_description,
        loader: source.loader.as_deref().unwrap_or(""),
        identifier: &node.relation.identifier,
        quoting: json!({"database": null, "schema": null, "identifier": null, "column": null}),
        loaded_at_field: &source.loaded_at_field,
        loaded_at_query: None,
        freshness: freshness.clone(),
        external: None,
        source_meta: Empty {},
        unrendered_database: None,
        unrendered_schema: None,
    });
    let config = match &node.source {
        Some(source) => json!({
            "enabled": node.config.enabled,
            "event_time": null,
            "freshness": freshness,
            "loaded_at_field": source.loaded_at_field,
            "loaded_at_query": null,
            "meta": node.config.meta,
            "tags": node.config.tags,
        }),
        None => config_json(node),
    };
    NodeOut {
        database: &node.relation.database,
        schema: node.relation.schema.as_deref().unwrap_or_default(),
        name: &node.name,
        resource_type: kind.as_str(),
        package_name: &node.package,
        path,
        original_file_path: &node.original_file_path,
        unique_id: &node.unique_id,
        fqn: &node.fqn,
        source,
        alias: (!is_source).then_some(alias),
        checksum: (!is_source).then(|| checksum(project, node)),
        config,
        tags: &node.config.tags,
        description: &node.description,
        columns: node
            .columns
            .iter()
            .map(|c| {
                let column = ColumnOut::of(c);
                (c.name.as_str(), column)
            })
            .collect(),
        meta: &node.meta,
        group: (!is_source).then_some(crate::groups::group_of(node)),
        docs: (!is_source).then_some(DOCS),
        patch_path: node
            .patch_path
            .as_ref()
            .filter(|_| !is_source)
            .map(|p| format!("{}://{}", node.package, p.display())),
        build_path: (!is_source).then_some(None),
        unrendered_config: Empty {},
        created_at,
        relation_name: (!node.is_ephemeral() && kind != ResourceType::Analysis)
            .then(|| node.relation.to_string()),
        raw_code: (!is_source).then_some(node.raw_code.trim()),
        doc_blocks: [],
        root_path: is_seed.then(|| {
            project
                .packages
                .iter()
                .find(|p| p.name == node.package)
                .map(|p| p.dir.display().to_string())
                .unwrap_or_default()
        }),
        language: has_sql.then_some("sql"),
        refs: has_sql.then(|| {
            node.refs
                .iter()
                .map(|r| RefOut {
                    name: &r.name,
                    package: &r.package,
                    version: None,
                })
                .collect()
        }),
        sources: has_sql.then(|| {
            node.sources
                .iter()
                .map(|s| [s.source.as_str(), s.table.as_str()])
                .collect()
        }),
        metrics: has_sql.then_some([]),
        functions: has_sql.then_some([]),
        depends_on: (!is_source).then_some(DependsOn {
            macros: &node.macros,
            nodes: has_sql.then_some(node.depends_on.as_slice()),
        }),
        compiled_path: has_sql.then(|| {
            node.compiled_code
                .as_ref()
                .map(|_| compiled_path(target_path, node))
        }),
        compiled: node.compiled_code.as_ref().map(|_| true),
        compiled_code: node.compiled_code.as_deref(),
        extra_ctes_injected: node.compiled_code.as_ref().map(|_| true),
        extra_ctes: node.compiled_code.as_ref().map(|_| []),
        contract: has_sql.then(|| {
            let configured = node.config.other.get("contract");
            let flag = |key: &str, default: bool| {
                configured
                    .and_then(|c| c.get(key))
                    .and_then(Json::as_bool)
                    .unwrap_or(default)
            };
            Contract {
                enforced: flag("enforced", false),
                alias_types: flag("alias_types", true),
                checksum: None,
            }
        }),
        model: (kind == ResourceType::Model).then_some(ModelOut {
            access: node
                .config
                .other
                .get("access")
                .and_then(Json::as_str)
                .unwrap_or("protected"),
            constraints: [],
            version: node.version.as_deref().map(version_json),
            latest_version: node.latest_version.as_deref().map(version_json),
            deprecation_date: None,
            primary_key: [],
            time_spine: node.time_spine.clone(),
        }),
        test: generic_test.map(|test| GenericTestOut {
            column_name: &test.column_name,
            file_key_name: &test.file_key_name,
            attached_node: &test.attached_node,
            test_metadata: &test.metadata,
        }),
    }
}

/// Fixture rows as dbt's manifest shows them: `{rows, format, fixture}`.
fn fixture_json(rows: &kiln_core::unit_test::FixtureRows) -> Json {
    match rows {
        kiln_core::unit_test::FixtureRows::Rows(rows) => {
            let rows: Vec<Map<String, Json>> = rows
                .iter()
                .map(|row| row.iter().cloned().collect())
                .collect();
            json!({"rows": rows, "format": "dict", "fixture": null})
        }
        kiln_core::unit_test::FixtureRows::Sql(sql) => {
            json!({"rows": sql, "format": "sql", "fixture": null})
        }
    }
}

/// A unit test as dbt's manifest shows it.
fn unit_test_out(node: &Node, created_at: f64) -> Json {
    let spec = node.unit_test.as_deref();
    let model = spec.map(|s| s.model.rsplit('.').next().unwrap_or(&s.model).to_owned());
    let given: Vec<Json> = spec
        .map(|s| s.given.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|g| {
            let mut given = fixture_json(&g.rows);
            given["input"] = json!(g.input.to_string());
            given
        })
        .collect();
    let expect = spec.map(|s| fixture_json(&s.expect));
    let overrides = spec.map(|s| {
        json!({"macros": s.overrides.macros, "vars": s.overrides.vars, "env_vars": s.overrides.env_vars})
    });
    json!({
        "model": model.unwrap_or_default(),
        "given": given,
        "expect": expect.unwrap_or_else(|| json!({"rows": null, "format": "dict", "fixture": null})),
        "name": node.name,
        "resource_type": "unit_test",
        "package_name": node.package,
        "path": node.original_file_path.components().skip(1).collect::<PathBuf>(),
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "description": node.description,
        "overrides": overrides,
        "depends_on": {"macros": node.macros, "nodes": node.depends_on},
        "config": {"tags": node.config.tags, "meta": node.config.meta, "enabled": node.config.enabled},
        "checksum": null,
        "schema": node.relation.schema,
        "created_at": created_at,
        "versions": null,
        "version": null,
    })
}

/// An exposure as dbt's manifest shows it.
fn exposure_out(node: &Node, created_at: f64) -> Json {
    let info = node.exposure.as_deref();
    let refs: Vec<Json> = node
        .refs
        .iter()
        .map(|r| json!({"name": r.name, "package": r.package, "version": r.version}))
        .collect();
    let sources: Vec<Json> = node
        .sources
        .iter()
        .map(|s| json!([s.source, s.table]))
        .collect();
    let mut owner = info.map_or(Json::Null, |i| i.owner.clone());
    if let Some(map) = owner.as_object_mut() {
        // dbt's Owner: both keys, null when not given.
        map.entry("email").or_insert(Json::Null);
        map.entry("name").or_insert(Json::Null);
    }
    json!({
        "name": node.name,
        "resource_type": "exposure",
        "package_name": node.package,
        "path": node.original_file_path.components().skip(1).collect::<PathBuf>(),
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "type": info.map(|i| i.kind.as_str()),
        "owner": owner,
        "description": node.description,
        "label": info.and_then(|i| i.label.as_deref()),
        "maturity": info.and_then(|i| i.maturity.as_deref()),
        "meta": node.config.meta,
        "tags": node.config.tags,
        "config": {"enabled": node.config.enabled, "tags": node.config.tags, "meta": node.config.meta},
        "unrendered_config": {},
        "url": info.and_then(|i| i.url.as_deref()),
        "depends_on": {"macros": node.macros, "nodes": node.depends_on},
        "refs": refs,
        "sources": sources,
        "metrics": [],
        "created_at": created_at,
    })
}

/// A node as the manifest shows it, as JSON (for comparing with another run's manifest).
pub fn node_json(node: &Node, project: &Project) -> Json {
    // `created_at` is left at 0: the comparison is about what the node is, not when.
    if node.resource_type == ResourceType::UnitTest {
        return unit_test_out(node, 0.0);
    }
    if node.resource_type == ResourceType::Exposure {
        return exposure_out(node, 0.0);
    }
    serde_json::to_value(node_out(node, project, 0.0)).unwrap_or(Json::Null)
}

/// Every macro's `macro_sql`, by unique id.
pub(crate) fn macro_sources(parsed: &Parsed) -> BTreeMap<String, String> {
    parsed
        .env
        .registry()
        .all()
        .map(|def| {
            (
                format!("macro.{}.{}", def.package, def.name),
                parsed.env.macro_source(def).unwrap_or_default(),
            )
        })
        .collect()
}

#[derive(Serialize)]
struct MacroOut<'a> {
    name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    path: &'a Path,
    original_file_path: &'a Path,
    unique_id: String,
    /// Compared by `state:modified.macros`.
    macro_sql: String,
    depends_on: MacroDependsOn,
    description: &'static str,
    meta: Empty,
    docs: Json,
    config: Json,
    patch_path: Option<()>,
    arguments: [(); 0],
    created_at: f64,
    supported_languages: Option<()>,
}

#[derive(Serialize)]
struct MacroDependsOn {
    macros: [(); 0],
}

#[derive(Serialize)]
struct Metadata<'a> {
    dbt_schema_version: &'static str,
    dbt_version: &'static str,
    generated_at: String,
    invocation_id: &'a str,
    invocation_started_at: &'a str,
    /// Kiln's own name and version: dbt's schema allows no key of its own here, so it goes
    /// where dbt writes the `DBT_ENV_CUSTOM_ENV_` variables.
    env: BTreeMap<&'static str, String>,
    project_name: &'a str,
    project_id: String,
    user_id: Option<()>,
    send_anonymous_usage_stats: bool,
    adapter_type: &'a str,
    quoting: Json,
    run_started_at: &'a str,
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

/// dbt's manifest v12.
#[derive(Serialize)]
struct ManifestOut<'a> {
    metadata: Metadata<'a>,
    nodes: Section<'a>,
    sources: Section<'a>,
    macros: BTreeMap<String, MacroOut<'a>>,
    docs: Empty,
    exposures: Section<'a>,
    metrics: BTreeMap<&'a str, Json>,
    groups: BTreeMap<String, Json>,
    selectors: Empty,
    disabled: Empty,
    parent_map: BTreeMap<&'a str, Vec<&'a str>>,
    child_map: BTreeMap<&'a str, Vec<&'a str>>,
    group_map: BTreeMap<String, Vec<String>>,
    saved_queries: BTreeMap<&'a str, Json>,
    semantic_models: BTreeMap<&'a str, Json>,
    unit_tests: Section<'a>,
    functions: Empty,
}

/// Seconds since the epoch, as dbt's `created_at`.
fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Which nodes a manifest section holds.
#[derive(Clone, Copy)]
enum SectionKind {
    Nodes,
    Sources,
    UnitTests,
    Exposures,
}

/// One section of the manifest (`nodes`, `sources`, `unit_tests`), each node's entry made as it
/// is written: a large project's manifest is never held in memory whole.
struct Section<'a> {
    kind: SectionKind,
    project: &'a Project,
    parsed: &'a Parsed,
    created_at: f64,
}

impl SectionKind {
    /// Whether nodes of `kind` go in this section.
    fn holds(self, kind: ResourceType) -> bool {
        match self {
            SectionKind::UnitTests => kind == ResourceType::UnitTest,
            SectionKind::Sources => kind == ResourceType::Source,
            SectionKind::Exposures => kind == ResourceType::Exposure,
            SectionKind::Nodes => !matches!(
                kind,
                ResourceType::Source | ResourceType::UnitTest | ResourceType::Exposure
            ),
        }
    }
}

impl Section<'_> {
    /// A node's entry as JSON text.
    fn entry(&self, node: &Node) -> serde_json::Result<Box<serde_json::value::RawValue>> {
        let text = match self.kind {
            SectionKind::UnitTests => serde_json::to_string(&unit_test_out(node, self.created_at)),
            SectionKind::Exposures => serde_json::to_string(&exposure_out(node, self.created_at)),
            _ => serde_json::to_string(&node_out(node, self.project, self.created_at)),
        }?;
        serde_json::value::RawValue::from_string(text)
    }
}

impl Serialize for Section<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        /// Entries made on every core at a time: enough to keep the cores busy, few enough that
        /// memory holds only a slice of the manifest.
        const CHUNK: usize = 512;
        let nodes: Vec<(&String, &Node)> = self
            .parsed
            .nodes
            .iter()
            .filter(|(_, node)| self.kind.holds(node.resource_type))
            .collect();
        let mut map = serializer.serialize_map(Some(nodes.len()))?;
        for chunk in nodes.chunks(CHUNK) {
            let entries: Vec<serde_json::Result<Box<serde_json::value::RawValue>>> =
                chunk.par_iter().map(|(_, node)| self.entry(node)).collect();
            for ((id, _), entry) in chunk.iter().zip(entries) {
                map.serialize_entry(id, &entry.map_err(S::Error::custom)?)?;
            }
        }
        map.end()
    }
}

fn manifest<'a>(project: &'a Project, parsed: &'a Parsed) -> ManifestOut<'a> {
    let created_at = epoch_seconds();
    let section = |kind| Section {
        kind,
        project,
        parsed,
        created_at,
    };
    let nodes = section(SectionKind::Nodes);
    let sources = section(SectionKind::Sources);
    let unit_tests = section(SectionKind::UnitTests);
    let exposures = section(SectionKind::Exposures);
    let macros = parsed
        .env
        .registry()
        .all()
        .map(|def| {
            let unique_id = format!("macro.{}.{}", def.package, def.name);
            let out = MacroOut {
                name: &def.name,
                resource_type: "macro",
                package_name: &def.package,
                path: &def.file,
                original_file_path: &def.file,
                unique_id: unique_id.clone(),
                macro_sql: parsed.env.macro_source(def).unwrap_or_default(),
                depends_on: MacroDependsOn { macros: [] },
                description: "",
                meta: Empty {},
                docs: json!({"show": true, "node_color": null}),
                config: json!({"meta": {}, "docs": {"show": true, "node_color": null}}),
                patch_path: None,
                arguments: [],
                created_at,
                supported_languages: None,
            };
            (unique_id, out)
        })
        .collect();
    let map_of = |direction: Direction| -> BTreeMap<&str, Vec<&str>> {
        parsed
            .nodes
            .keys()
            .map(|id| (id.as_str(), parsed.graph.neighbors(id, direction)))
            .collect()
    };
    // The semantic layer's entries are not in the graph (nothing runs them): their edges are
    // added to the maps here.
    let mut parent_map = map_of(Direction::Incoming);
    let mut child_map = map_of(Direction::Outgoing);
    for (id, parents) in parsed.semantic.dependencies() {
        child_map.entry(id).or_default();
        for parent in &parents {
            child_map.entry(parent).or_default().push(id);
        }
        let mut parents = parents;
        parents.sort_unstable();
        parent_map.insert(id, parents);
    }
    if !parsed.semantic.is_empty() {
        for children in child_map.values_mut() {
            children.sort_unstable();
        }
    }
    let with_created_at = |entries: &'a BTreeMap<String, Json>| -> BTreeMap<&'a str, Json> {
        entries
            .iter()
            .map(|(id, entry)| {
                let mut entry = entry.clone();
                entry["created_at"] = json!(created_at);
                (id.as_str(), entry)
            })
            .collect()
    };
    ManifestOut {
        metadata: Metadata {
            dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json",
            dbt_version: kiln_core::DBT_VERSION,
            generated_at: now_rfc3339(),
            invocation_id: &parsed.invocation_id,
            invocation_started_at: &parsed.run_started_at,
            env: BTreeMap::from([("KILN_VERSION", env!("CARGO_PKG_VERSION").to_owned())]),
            project_name: project.name(),
            // dbt's: the md5 of the project's name.
            project_id: crate::test_nodes::md5_hex(project.name()),
            user_id: None,
            send_anonymous_usage_stats: false,
            adapter_type: &parsed.profile.target.kind,
            quoting: json!({"database": true, "schema": true, "identifier": true, "column": null}),
            run_started_at: &parsed.run_started_at,
        },
        nodes,
        sources,
        macros,
        docs: Empty {},
        exposures,
        metrics: with_created_at(&parsed.semantic.metrics),
        groups: parsed
            .groups
            .iter()
            .map(|g| (g.unique_id(), g.manifest_entry()))
            .collect(),
        selectors: Empty {},
        disabled: Empty {},
        parent_map,
        child_map,
        group_map: crate::groups::group_map(&parsed.nodes, &parsed.groups),
        saved_queries: with_created_at(&parsed.semantic.saved_queries),
        semantic_models: with_created_at(&parsed.semantic.semantic_models),
        unit_tests,
        functions: Empty {},
    }
}

/// dbt's `graph` context: the manifest's nodes, sources and macros.
pub fn graph_json(project: &Project, parsed: &Parsed) -> Json {
    // Each entry straight to a JSON value: going through the manifest's sections would write
    // every node as text and parse it back.
    let created_at = epoch_seconds();
    let entries = |section: SectionKind| -> Map<String, Json> {
        parsed
            .nodes
            .iter()
            .filter(|(_, node)| section.holds(node.resource_type))
            .map(|(id, node)| {
                let out = match section {
                    SectionKind::Exposures => Ok(exposure_out(node, created_at)),
                    _ => serde_json::to_value(node_out(node, project, created_at)),
                };
                (id.clone(), out.unwrap_or(Json::Null))
            })
            .collect()
    };
    let manifest = manifest(project, parsed);
    serde_json::json!({
        "nodes": entries(SectionKind::Nodes),
        "sources": entries(SectionKind::Sources),
        "macros": manifest.macros,
        "exposures": entries(SectionKind::Exposures),
        "metrics": manifest.metrics, "groups": manifest.groups,
        "semantic_models": manifest.semantic_models,
        "saved_queries": manifest.saved_queries, "unit_tests": {},
    })
}

/// Writes `content` unless the file already holds exactly that: an unchanged model keeps its
/// file (and its modification time), and the disk sees no churn.
pub fn write_if_changed(path: &Path, content: &str) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == content.as_bytes()) {
        return Ok(());
    }
    std::fs::write(path, content)
}

fn io_error(path: &Path, error: std::io::Error) -> Diagnostic {
    Diagnostic::error(format!("cannot write {}: {error}", path.display()))
        .help("check that the target directory is writable")
}

/// Writes `manifest.json` and the compiled SQL of every compiled node.
pub fn write_artifacts(project: &Project, parsed: &Parsed) -> Result<(), Diagnostic> {
    // Each directory is looked at once. One that this run creates holds no file yet, so its
    // files are written without first reading what is there: right after `kiln clean`, each
    // lookup of a file that cannot exist costs hundreds of microseconds on ext4 (a compile of
    // 10,000 models took 11-20 s instead of about 1.5 s).
    let mut directories: std::collections::HashMap<PathBuf, bool> =
        std::collections::HashMap::new();
    let mut files = Vec::new();
    for node in parsed.nodes.values() {
        let Some(sql) = &node.compiled_code else {
            continue;
        };
        let path = project
            .root
            .join(compiled_path(&project.file().target_path, node));
        let fresh = match path.parent() {
            Some(parent) => match directories.get(parent) {
                Some(fresh) => *fresh,
                None => {
                    let fresh = !parent.is_dir();
                    if fresh {
                        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
                    }
                    directories.insert(parent.to_path_buf(), fresh);
                    fresh
                }
            },
            None => false,
        };
        files.push((path, sql.as_str(), fresh));
    }
    // Creating a file waits on the file system's journal longer than it uses the CPU: writing
    // on every core overlaps those waits (10,000 models after `kiln clean`: 3.8-9.4 s one file
    // at a time, 1.4-2.9 s on 2 cores; 8 writer threads measured no better).
    files.par_iter().try_for_each(|(path, sql, fresh)| {
        if *fresh {
            std::fs::write(path, sql)
        } else {
            write_if_changed(path, sql)
        }
        .map_err(|e| io_error(path, e))
    })?;
    write_manifest(project, parsed)
}

/// Writes `target/manifest.json` alone (after a run, with the SQL that ran).
pub fn write_manifest(project: &Project, parsed: &Parsed) -> Result<(), Diagnostic> {
    let target = project.target_dir();
    std::fs::create_dir_all(&target).map_err(|e| io_error(&target, e))?;
    let path = target.join("manifest.json");
    let file = std::fs::File::create(&path).map_err(|e| io_error(&path, e))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, &manifest(project, parsed))
        .map_err(|e| io_error(&path, std::io::Error::other(e)))?;
    writer.flush().map_err(|e| io_error(&path, e))
}
