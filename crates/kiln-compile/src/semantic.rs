//! MetricFlow's semantic layer as dbt parses it: `semantic_models:`, `metrics:` and
//! `saved_queries:` of schema YAML become the manifest's entries of those names, with dbt's
//! defaults filled in and their dependencies resolved (a semantic model on its model, a simple
//! metric on the semantic model that defines its measure, ratio and derived metrics on their
//! metrics, a saved query on its metrics). Kiln runs no semantic queries; the entries are there
//! for the tools that read the manifest, and for `kiln ls`-style questions about the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kiln_core::diagnostic::DiagnosticSink;
use kiln_core::{Diagnostic, Location, Node, ResourceType};
use kiln_project::schema::SchemaFile;
use kiln_project::{Package, Profile, Project};
use serde_json::{Value as Json, json};

use crate::discover::under_model_path;

/// The semantic layer's manifest entries, by unique id (`created_at` is added when written).
#[derive(Debug, Clone, Default)]
pub struct SemanticLayer {
    pub semantic_models: BTreeMap<String, Json>,
    pub metrics: BTreeMap<String, Json>,
    pub saved_queries: BTreeMap<String, Json>,
}

impl SemanticLayer {
    /// Every entry with the unique ids it depends on.
    pub fn dependencies(&self) -> impl Iterator<Item = (&str, Vec<&str>)> {
        self.semantic_models
            .iter()
            .chain(&self.metrics)
            .chain(&self.saved_queries)
            .map(|(id, entry)| {
                let parents = entry["depends_on"]["nodes"]
                    .as_array()
                    .map(|nodes| nodes.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                (id.as_str(), parents)
            })
    }

    pub fn is_empty(&self) -> bool {
        self.semantic_models.is_empty() && self.metrics.is_empty() && self.saved_queries.is_empty()
    }
}

/// Where an entry was declared, and the fields dbt gives every entry from that.
struct Declared<'a> {
    package: &'a Package,
    file: &'a Path,
    line: usize,
}

impl Declared<'_> {
    fn location(&self) -> Location {
        Location::new(self.file, self.line)
    }

    fn original_file_path(&self) -> std::path::PathBuf {
        self.file
            .strip_prefix(&self.package.rel_dir)
            .unwrap_or(self.file)
            .to_path_buf()
    }

    /// `name`, `resource_type`, `package_name`, `path`, `original_file_path`, `unique_id`,
    /// `fqn` (the package, the folders under the model path, the name).
    fn common(&self, kind: &str, name: &str) -> serde_json::Map<String, Json> {
        let original = self.original_file_path();
        let under = under_model_path(self.package, &original);
        let mut fqn = vec![self.package.name.clone()];
        if let Some(parent) = under.parent() {
            fqn.extend(
                parent
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned()),
            );
        }
        fqn.push(name.to_owned());
        let mut map = serde_json::Map::new();
        map.insert("name".into(), json!(name));
        map.insert("resource_type".into(), json!(kind));
        map.insert("package_name".into(), json!(self.package.name));
        map.insert("path".into(), json!(under));
        map.insert("original_file_path".into(), json!(original));
        map.insert(
            "unique_id".into(),
            json!(format!("{kind}.{}.{name}", self.package.name)),
        );
        map.insert("fqn".into(), json!(fqn));
        map
    }
}

/// A field as written, or null.
fn field(entry: &Json, key: &str) -> Json {
    entry.get(key).cloned().unwrap_or(Json::Null)
}

/// A field as text: YAML numbers and booleans as Python's `str()` writes them (`expr: 1`).
fn text(entry: &Json, key: &str) -> Json {
    match entry.get(key) {
        None | Some(Json::Null) => Json::Null,
        Some(Json::String(s)) => json!(s),
        Some(Json::Bool(b)) => json!(if *b { "True" } else { "False" }),
        Some(other) => json!(other.to_string()),
    }
}

/// `{meta: ...}` from an item's `config.meta` and `meta`.
fn meta_config(entry: &Json) -> Json {
    let mut meta = entry
        .get("meta")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(more) = entry.pointer("/config/meta").and_then(Json::as_object) {
        meta.extend(more.clone());
    }
    json!({"meta": meta})
}

/// A `filter:` (one template or a list of them) as dbt's `WhereFilterIntersection`.
fn where_filter(value: &Json) -> Json {
    let templates: Vec<&str> = match value {
        Json::String(one) => vec![one.as_str()],
        Json::Array(many) => many.iter().filter_map(Json::as_str).collect(),
        _ => return Json::Null,
    };
    json!({"where_filters": templates
        .iter()
        .map(|t| json!({"where_sql_template": t}))
        .collect::<Vec<_>>()})
}

/// `offset_window: 1 month` as `{count: 1, granularity: month}`.
fn window(value: &Json) -> Json {
    let Some(text) = value.as_str() else {
        return value.clone();
    };
    let mut parts = text.split_whitespace();
    match (
        parts.next().and_then(|c| c.parse::<i64>().ok()),
        parts.next(),
    ) {
        (Some(count), Some(granularity)) => {
            json!({"count": count, "granularity": granularity.trim_end_matches('s')})
        }
        _ => json!({"count": null, "granularity": text}),
    }
}

/// An input written as its name (`revenue`) or as a mapping (`{name: revenue, ...}`): the name,
/// and the mapping (null for the short form).
fn named_input(value: &Json) -> (Json, &Json) {
    match value {
        Json::String(name) => (json!(name), &Json::Null),
        other => (field(other, "name"), other),
    }
}

/// Every entry of one kind (`|file| &file.metrics`) in the schema files of every package,
/// with where it was declared.
fn declared<'a>(
    project: &'a Project,
    entries: fn(&SchemaFile) -> &Vec<(Json, usize)>,
) -> impl Iterator<Item = (Declared<'a>, &'a Json)> {
    project.packages.iter().flat_map(move |package| {
        package.schema_files.iter().flat_map(move |file| {
            entries(file).iter().map(move |(entry, line)| {
                let at = Declared {
                    package,
                    file: &file.path,
                    line: *line,
                };
                (at, entry)
            })
        })
    })
}

/// A measure input of a metric (`measure: revenue` or `{name: revenue, filter: ...}`).
fn measure_input(value: &Json) -> Json {
    let (name, entry) = named_input(value);
    json!({
        "name": name,
        "filter": entry.get("filter").map_or(Json::Null, where_filter),
        "alias": field(entry, "alias"),
        "join_to_timespine": entry.get("join_to_timespine").cloned().unwrap_or(json!(false)),
        "fill_nulls_with": field(entry, "fill_nulls_with"),
    })
}

/// A metric input of a ratio or derived metric (`revenue` or `{name, alias, offset_window}`).
fn metric_input(value: &Json) -> Json {
    let (name, entry) = named_input(value);
    json!({
        "name": name,
        "filter": entry.get("filter").map_or(Json::Null, where_filter),
        "alias": field(entry, "alias"),
        "offset_window": entry.get("offset_window").map_or(Json::Null, window),
        "offset_to_grain": field(entry, "offset_to_grain"),
    })
}

/// Reads the semantic layer of every package. `nodes` are the parsed nodes (for the models
/// that semantic models are built on).
pub fn discover(
    project: &Project,
    profile: &Profile,
    nodes: &BTreeMap<String, Node>,
    sink: &mut DiagnosticSink,
) -> SemanticLayer {
    let mut layer = SemanticLayer::default();
    // Measure name -> the semantic model defining it.
    let mut measures: BTreeMap<String, String> = BTreeMap::new();
    for (at, entry) in declared(project, |file| &file.semantic_models) {
        if let Some((id, out)) = semantic_model(&at, entry, nodes, sink) {
            for measure in out["measures"].as_array().into_iter().flatten() {
                if let Some(name) = measure["name"].as_str() {
                    measures.insert(name.to_owned(), id.clone());
                }
            }
            layer.semantic_models.insert(id, out);
        }
    }
    // Metrics first as written; their measure inputs and dependencies once all are known.
    let mut metrics: BTreeMap<String, (Json, Location)> = BTreeMap::new();
    for (at, entry) in declared(project, |file| &file.metrics) {
        if let Some((name, out)) = metric(&at, entry, sink) {
            metrics.insert(name, (out, at.location()));
        }
    }
    let names: BTreeMap<String, String> = metrics
        .iter()
        .map(|(name, (out, _))| {
            (
                name.clone(),
                out["unique_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for name in metrics.keys().cloned().collect::<Vec<_>>() {
        let inputs = input_measures(&name, &metrics, &mut BTreeSet::new());
        let (out, location) = &metrics[&name];
        let mut out = out.clone();
        out["type_params"]["input_measures"] = json!(inputs);
        let mut depends_on: Vec<String> = Vec::new();
        let mut depend = |id: String| {
            if !depends_on.contains(&id) {
                depends_on.push(id);
            }
        };
        let params = out["type_params"].clone();
        let (measures_used, metrics_used): (Vec<&Json>, Vec<&Json>) =
            match out["type"].as_str().unwrap_or_default() {
                "simple" | "cumulative" => (vec![&params["measure"]], Vec::new()),
                "conversion" => (
                    vec![
                        &params["conversion_type_params"]["base_measure"],
                        &params["conversion_type_params"]["conversion_measure"],
                    ],
                    Vec::new(),
                ),
                _ => (
                    Vec::new(),
                    [&params["numerator"], &params["denominator"]]
                        .into_iter()
                        .chain(params["metrics"].as_array().into_iter().flatten())
                        .collect(),
                ),
            };
        // Each input is found among the measures (the semantic model defining it) or the
        // metrics; one that is neither is said, and left out.
        let inputs = measures_used
            .into_iter()
            .map(|m| (m, "measure", &measures, "no semantic model defines it"))
            .chain(
                metrics_used
                    .into_iter()
                    .map(|m| (m, "metric", &names, "it is not declared")),
            );
        for (input, kind, known, missing) in inputs {
            let Some(input) = input["name"].as_str() else {
                continue;
            };
            match known.get(input) {
                Some(id) => depend(id.clone()),
                None => sink.push(
                    Diagnostic::warning(format!(
                        "metric `{name}` uses {kind} `{input}`, but {missing}"
                    ))
                    .at(location.clone()),
                ),
            }
        }
        out["depends_on"] = json!({"macros": [], "nodes": depends_on});
        let id = out["unique_id"].as_str().unwrap_or_default().to_owned();
        layer.metrics.insert(id, out);
    }
    for (at, entry) in declared(project, |file| &file.saved_queries) {
        if let Some((id, out)) = saved_query(&at, entry, profile, &names, sink) {
            layer.saved_queries.insert(id, out);
        }
    }
    layer
}

/// The measures a metric reads, through the metrics it is made of (each once, in order).
fn input_measures(
    name: &str,
    metrics: &BTreeMap<String, (Json, Location)>,
    visiting: &mut BTreeSet<String>,
) -> Vec<Json> {
    let Some((out, _)) = metrics.get(name) else {
        return Vec::new();
    };
    if !visiting.insert(name.to_owned()) {
        return Vec::new();
    }
    let params = &out["type_params"];
    let mut found: Vec<Json> = Vec::new();
    let mut add = |measure: Json| {
        if !found.iter().any(|m| m["name"] == measure["name"]) {
            found.push(measure);
        }
    };
    if params["measure"].is_object() {
        add(params["measure"].clone());
    }
    if let Some(conversion) = params["conversion_type_params"].as_object() {
        for key in ["base_measure", "conversion_measure"] {
            if let Some(measure) = conversion.get(key).filter(|m| m.is_object()) {
                add(measure.clone());
            }
        }
    }
    let inputs = [&params["numerator"], &params["denominator"]]
        .into_iter()
        .chain(params["metrics"].as_array().into_iter().flatten());
    for input in inputs {
        if let Some(input) = input["name"].as_str() {
            for measure in input_measures(input, metrics, visiting) {
                add(measure);
            }
        }
    }
    visiting.remove(name);
    found
}

fn required_name(
    entry: &Json,
    kind: &str,
    at: &Declared<'_>,
    sink: &mut DiagnosticSink,
) -> Option<String> {
    match entry.get("name").and_then(Json::as_str) {
        Some(name) if !name.trim().is_empty() => Some(name.to_owned()),
        _ => {
            sink.push(
                Diagnostic::error(format!("a {kind} has no `name`"))
                    .at(at.location())
                    .help("each entry starts with `- name: ...`"),
            );
            None
        }
    }
}

fn semantic_model(
    at: &Declared<'_>,
    entry: &Json,
    nodes: &BTreeMap<String, Node>,
    sink: &mut DiagnosticSink,
) -> Option<(String, Json)> {
    let name = required_name(entry, "semantic model", at, sink)?;
    let model_text = entry
        .get("model")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let call = match kiln_core::unit_test::Input::parse(model_text) {
        Some(kiln_core::unit_test::Input::Ref(call)) => call,
        _ => {
            sink.push(
                Diagnostic::error(format!(
                    "semantic model `{name}` needs `model: ref('<model>')`, not `{model_text}`"
                ))
                .at(at.location()),
            );
            return None;
        }
    };
    let model = nodes.values().find(|n| {
        n.resource_type == ResourceType::Model
            && n.name == call.name
            && call.package.as_ref().is_none_or(|p| *p == n.package)
            && match &call.version {
                Some(version) => n.version.as_ref() == Some(version),
                None => n.version == n.latest_version,
            }
    });
    let Some(model) = model else {
        sink.push(
            Diagnostic::error(format!(
                "semantic model `{name}` is built on `{model_text}`, which is not a model of the project"
            ))
            .at(at.location()),
        );
        return None;
    };
    let relation = &model.relation;
    let entities: Vec<Json> = entry
        .get("entities")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            json!({
                "name": field(e, "name"), "type": field(e, "type"),
                "description": field(e, "description"), "label": field(e, "label"),
                "role": field(e, "role"), "expr": text(e, "expr"), "config": meta_config(e),
            })
        })
        .collect();
    let measures: Vec<Json> = entry
        .get("measures")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|m| {
            json!({
                "name": field(m, "name"), "agg": field(m, "agg"),
                "description": field(m, "description"), "label": field(m, "label"),
                "create_metric": m.get("create_metric").cloned().unwrap_or(json!(false)),
                "expr": text(m, "expr"), "agg_params": field(m, "agg_params"),
                "non_additive_dimension": field(m, "non_additive_dimension"),
                "agg_time_dimension": field(m, "agg_time_dimension"),
                "config": meta_config(m),
            })
        })
        .collect();
    let dimensions: Vec<Json> = entry
        .get("dimensions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            let type_params =
                d.get("type_params")
                    .filter(|p| p.is_object())
                    .map_or(Json::Null, |p| {
                        json!({
                            "time_granularity": field(p, "time_granularity"),
                            "validity_params": field(p, "validity_params"),
                        })
                    });
            json!({
                "name": field(d, "name"), "type": field(d, "type"),
                "description": field(d, "description"), "label": field(d, "label"),
                "is_partition": d.get("is_partition").cloned().unwrap_or(json!(false)),
                "type_params": type_params, "expr": text(d, "expr"),
                "metadata": null, "config": meta_config(d),
            })
        })
        .collect();
    let config = entry.get("config").cloned().unwrap_or(json!({}));
    let mut out = at.common("semantic_model", &name);
    let id = out["unique_id"].as_str().unwrap_or_default().to_owned();
    out.extend(
        json!({
            "model": model_text,
            "node_relation": {
                "alias": relation.identifier,
                "schema_name": relation.schema,
                "database": relation.database,
                "relation_name": relation.to_string(),
            },
            "description": field(entry, "description"),
            "label": field(entry, "label"),
            "defaults": field(entry, "defaults"),
            "entities": entities,
            "measures": measures,
            "dimensions": dimensions,
            "metadata": null,
            "depends_on": {"macros": [], "nodes": [model.unique_id]},
            "refs": [{"name": call.name, "package": call.package, "version": call.version}],
            "config": {
                "enabled": config.get("enabled").cloned().unwrap_or(json!(true)),
                "group": field(&config, "group"),
                "meta": config.get("meta").cloned().unwrap_or(json!({})),
            },
            "unrendered_config": {},
            "primary_entity": field(entry, "primary_entity"),
            "group": field(&config, "group"),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Some((id, Json::Object(out)))
}

fn metric(at: &Declared<'_>, entry: &Json, sink: &mut DiagnosticSink) -> Option<(String, Json)> {
    let name = required_name(entry, "metric", at, sink)?;
    const KINDS: &[&str] = &["simple", "ratio", "cumulative", "derived", "conversion"];
    let kind = entry
        .get("type")
        .and_then(Json::as_str)
        .map(str::to_lowercase)
        .unwrap_or_default();
    if !KINDS.contains(&kind.as_str()) {
        sink.push(
            Diagnostic::error(format!("metric `{name}` has unknown type `{kind}`"))
                .at(at.location())
                .help(format!("use one of {}", KINDS.join(", "))),
        );
        return None;
    }
    let params = entry.get("type_params").cloned().unwrap_or(json!({}));
    let measure = match kind.as_str() {
        "simple" | "cumulative" => params.get("measure").map_or(Json::Null, measure_input),
        _ => Json::Null,
    };
    let cumulative = (kind == "cumulative").then(|| {
        let given = params.get("cumulative_type_params").cloned().unwrap_or(json!({}));
        json!({
            "window": given.get("window").or(params.get("window")).map_or(Json::Null, window),
            "grain_to_date": given.get("grain_to_date").or(params.get("grain_to_date")).cloned().unwrap_or(Json::Null),
            "period_agg": given.get("period_agg").cloned().unwrap_or(json!("first")),
            "metric": null,
        })
    });
    let conversion = params.get("conversion_type_params").map(|c| {
        json!({
            "base_measure": c.get("base_measure").map_or(Json::Null, measure_input),
            "conversion_measure": c.get("conversion_measure").map_or(Json::Null, measure_input),
            "entity": field(c, "entity"),
            "calculation": c.get("calculation").cloned().unwrap_or(json!("conversion_rate")),
            "window": c.get("window").map_or(Json::Null, window),
            "constant_properties": field(c, "constant_properties"),
        })
    });
    let config = entry.get("config").cloned().unwrap_or(json!({}));
    let meta = entry
        .get("meta")
        .or(config.get("meta"))
        .cloned()
        .unwrap_or(json!({}));
    let mut out = at.common("metric", &name);
    out.extend(
        json!({
            "description": entry.get("description").cloned().unwrap_or(json!("")),
            "label": field(entry, "label"),
            "type": kind,
            "type_params": {
                "measure": measure,
                "input_measures": [],
                "numerator": params.get("numerator").map_or(Json::Null, metric_input),
                "denominator": params.get("denominator").map_or(Json::Null, metric_input),
                "expr": text(&params, "expr"),
                "window": params.get("window").filter(|_| kind != "cumulative").map_or(Json::Null, window),
                "grain_to_date": if kind == "cumulative" { Json::Null } else { field(&params, "grain_to_date") },
                "metrics": params.get("metrics").and_then(Json::as_array).map(|m| m.iter().map(metric_input).collect::<Vec<_>>()).unwrap_or_default(),
                "conversion_type_params": conversion,
                "cumulative_type_params": cumulative,
                "metric_aggregation_params": null,
            },
            "filter": entry.get("filter").map_or(Json::Null, where_filter),
            "metadata": null,
            "time_granularity": field(entry, "time_granularity"),
            "meta": meta,
            "tags": config.get("tags").or(entry.get("tags")).cloned().unwrap_or(json!([])),
            "config": {
                "enabled": config.get("enabled").cloned().unwrap_or(json!(true)),
                "group": field(&config, "group"),
                "meta": meta,
            },
            "unrendered_config": {},
            "sources": [],
            "depends_on": {"macros": [], "nodes": []},
            "refs": [],
            "metrics": [],
            "group": field(&config, "group"),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Some((name, Json::Object(out)))
}

fn saved_query(
    at: &Declared<'_>,
    entry: &Json,
    profile: &Profile,
    metrics: &BTreeMap<String, String>,
    sink: &mut DiagnosticSink,
) -> Option<(String, Json)> {
    let name = required_name(entry, "saved query", at, sink)?;
    let params = entry.get("query_params").cloned().unwrap_or(json!({}));
    let listed: Vec<String> = params
        .get("metrics")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    let mut depends_on = Vec::new();
    for metric in &listed {
        match metrics.get(metric) {
            Some(id) if !depends_on.contains(id) => depends_on.push(id.clone()),
            Some(_) => {}
            None => sink.push(
                Diagnostic::warning(format!(
                    "saved query `{name}` asks for metric `{metric}`, which is not declared"
                ))
                .at(at.location()),
            ),
        }
    }
    let config = entry.get("config").cloned().unwrap_or(json!({}));
    let exports: Vec<Json> = entry
        .get("exports")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|export| {
            let written = export.get("config").cloned().unwrap_or(json!({}));
            let export_name = field(export, "name");
            json!({
                "name": export_name,
                "config": {
                    "export_as": written.get("export_as").or(config.get("export_as")).cloned().unwrap_or(json!("table")),
                    "schema_name": written.get("schema").or(config.get("schema")).cloned().unwrap_or(json!(profile.schema())),
                    "alias": written.get("alias").cloned().unwrap_or(export_name),
                    "database": written.get("database").cloned().unwrap_or(json!(profile.database())),
                },
                "unrendered_config": written,
            })
        })
        .collect();
    let mut out = at.common("saved_query", &name);
    let id = out["unique_id"].as_str().unwrap_or_default().to_owned();
    out.extend(
        json!({
            "query_params": {
                "metrics": listed,
                "group_by": params.get("group_by").cloned().unwrap_or(json!([])),
                "where": params.get("where").map_or(Json::Null, where_filter),
                "order_by": params.get("order_by").cloned().unwrap_or(json!([])),
                "limit": field(&params, "limit"),
            },
            "exports": exports,
            "description": field(entry, "description"),
            "label": field(entry, "label"),
            "metadata": null,
            "config": {
                "enabled": config.get("enabled").cloned().unwrap_or(json!(true)),
                "group": field(&config, "group"),
                "meta": config.get("meta").cloned().unwrap_or(json!({})),
                "export_as": field(&config, "export_as"),
                "schema": field(&config, "schema"),
                "cache": {"enabled": config.pointer("/cache/enabled").cloned().unwrap_or(json!(false))},
            },
            "unrendered_config": {},
            "group": field(&config, "group"),
            "depends_on": {"macros": [], "nodes": depends_on},
            "refs": [],
            "tags": entry.get("tags").cloned().unwrap_or(json!([])),
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    Some((id, Json::Object(out)))
}
