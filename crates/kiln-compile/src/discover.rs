//! From a loaded project to unrendered nodes: unique ids, fqns, config layers from the project
//! file and schema YAML, documentation, and source relations.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use kiln_core::diagnostic::DiagnosticSink;
use kiln_core::{
    CliFlags, Diagnostic, Location, Node, NodeConfig, RawConfig, Relation, ResourceType, SourceInfo,
};
use kiln_project::project_file::FolderConfig;
use kiln_project::schema::NodeProps;
use kiln_project::{Package, Project};

use crate::docs::Docs;

/// A node found on disk, with the config layers that apply before its SQL is rendered.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub node: Node,
    /// Project-file and schema-YAML config, merged (the SQL's `config()` calls come on top).
    pub base_config: RawConfig,
}

/// Folder configs that apply to a node with this fqn, weakest (outermost) first.
pub(crate) fn folder_layers<'a>(
    trees: &[&'a [FolderConfig]],
    fqn: &[String],
) -> Vec<&'a FolderConfig> {
    let mut layers: Vec<&FolderConfig> = Vec::new();
    for tree in trees {
        let mut matching: Vec<&FolderConfig> = tree
            .iter()
            .filter(|f| f.path.len() <= fqn.len() && f.path[..] == fqn[..f.path.len()])
            .collect();
        matching.sort_by_key(|f| f.path.len());
        layers.extend(matching);
    }
    layers
}

/// The config trees that apply to nodes of `package` for one resource: the package's own
/// project file first, the root project's (which can configure packages) last, so it wins.
fn trees<'a>(
    project: &'a Project,
    package: &'a Package,
    pick: fn(&kiln_project::project_file::ProjectFile) -> &Vec<FolderConfig>,
) -> Vec<&'a [FolderConfig]> {
    let mut trees = vec![pick(&package.file).as_slice()];
    if !package.is_root {
        trees.push(pick(&project.root_package().file).as_slice());
    }
    trees
}

fn base_config(
    layers: &[&FolderConfig],
    props: Option<&NodeProps>,
    sink: &mut DiagnosticSink,
    yml: Option<Location>,
) -> RawConfig {
    let mut config = RawConfig::default();
    for layer in layers {
        config.merge(layer.config.clone());
    }
    // `access:` and `group:` written as properties of the entry are configs, as in dbt.
    for (key, value) in props
        .into_iter()
        .flat_map(|p| [("access", &p.access), ("group", &p.group)])
    {
        if let Some(value) = value {
            config.other.insert(key.to_owned(), value.clone().into());
        }
    }
    if let Some(json) = props.and_then(|p| p.config.clone()) {
        match RawConfig::from_json(json) {
            Ok(layer) => config.merge(layer),
            Err(wrong) => {
                let mut error = Diagnostic::error(wrong.to_string());
                if let Some(location) = yml {
                    error = error.at(location);
                }
                sink.push(error);
            }
        }
    }
    config
}

/// Node properties declared in a package's schema YAML, by resource and name.
struct Props<'a> {
    models: HashMap<&'a str, (&'a NodeProps, &'a std::path::Path)>,
    seeds: HashMap<&'a str, (&'a NodeProps, &'a std::path::Path)>,
    snapshots: HashMap<&'a str, (&'a NodeProps, &'a std::path::Path)>,
    analyses: HashMap<&'a str, (&'a NodeProps, &'a std::path::Path)>,
}

impl<'a> Props<'a> {
    fn of(&self, kind: ResourceType) -> &HashMap<&'a str, (&'a NodeProps, &'a std::path::Path)> {
        match kind {
            ResourceType::Seed => &self.seeds,
            ResourceType::Snapshot => &self.snapshots,
            ResourceType::Analysis => &self.analyses,
            _ => &self.models,
        }
    }
}

fn props<'a>(package: &'a Package, sink: &mut DiagnosticSink) -> Props<'a> {
    let mut props = Props {
        models: HashMap::new(),
        seeds: HashMap::new(),
        snapshots: HashMap::new(),
        analyses: HashMap::new(),
    };
    for file in &package.schema_files {
        for (entries, map) in [
            (&file.models, &mut props.models),
            (&file.seeds, &mut props.seeds),
            (&file.snapshots, &mut props.snapshots),
            (&file.analyses, &mut props.analyses),
        ] {
            for entry in entries {
                if let Some((_, previous)) =
                    map.insert(entry.name.as_str(), (entry, file.path.as_path()))
                {
                    sink.push(
                        Diagnostic::error(format!(
                            "`{}` is described twice in schema YAML",
                            entry.name
                        ))
                        .at(Location::new(&file.path, entry.line))
                        .note(format!("also described in {}", previous.display()))
                        .help("keep one entry per model"),
                    );
                }
            }
        }
    }
    props
}

/// A file (or a block of one) that becomes a node.
struct NodeFile<'a> {
    kind: ResourceType,
    name: &'a str,
    folders: &'a [String],
    path: &'a std::path::Path,
    display: &'a std::path::Path,
    line: usize,
    text: Option<String>,
}

/// The snapshots defined in YAML (dbt 1.9+): `relation:` instead of a SQL block.
fn yaml_snapshots<'a>(package: &'a Package, sink: &mut DiagnosticSink) -> Vec<NodeFile<'a>> {
    let mut out = Vec::new();
    for file in &package.schema_files {
        for entry in &file.snapshots {
            let Some(relation) = &entry.relation else {
                continue;
            };
            let relation = relation.trim();
            let is_call = (relation.starts_with("ref(") || relation.starts_with("source("))
                && relation.ends_with(')');
            if !is_call {
                sink.push(
                    Diagnostic::error(format!(
                        "snapshot `{}` has relation `{relation}`, which is not a ref() or source() call",
                        entry.name
                    ))
                    .at(Location::new(&file.path, entry.line))
                    .help("write relation: ref('model') or relation: source('source', 'table')"),
                );
                continue;
            }
            out.push(NodeFile {
                kind: ResourceType::Snapshot,
                name: &entry.name,
                folders: &[],
                path: &file.path,
                display: &file.path,
                line: entry.line,
                text: Some(format!("select * from {{{{ {relation} }}}}")),
            });
        }
    }
    out
}

/// Every model, seed and source of the project, before rendering.
pub fn discover(
    project: &Project,
    target_database: &str,
    sink: &mut DiagnosticSink,
) -> Vec<Discovered> {
    let docs = Docs::new(project);
    let mut out = Vec::new();
    for package in &project.packages {
        let props = props(package, sink);
        let model_trees = trees(project, package, |f| &f.models);
        let seed_trees = trees(project, package, |f| &f.seeds);
        let snapshot_trees = trees(project, package, |f| &f.snapshots);
        let analysis_trees = trees(project, package, |f| &f.analyses);
        let mut seen: BTreeMap<String, &std::path::Path> = BTreeMap::new();
        // A versioned model's files (`<model>_v<v>.sql`, or `defined_in:`): each is a version
        // of the model named in the YAML, `model.<package>.<model>.v<v>`.
        let mut versions: HashMap<String, (&str, String, Option<String>)> = HashMap::new();
        for (name, (entry, _)) in &props.models {
            let latest = entry.latest_model_version();
            for version in entry.model_versions() {
                versions.insert(version.file, (name, version.label, latest.clone()));
            }
        }
        let sql_files = package.models.iter().map(|f| NodeFile {
            kind: ResourceType::Model,
            name: versions
                .get(f.name.as_str())
                .map_or(&f.name, |(model, ..)| model),
            folders: &f.folders,
            path: &f.path,
            display: &f.display,
            line: 1,
            text: Some(f.text.clone()),
        });
        let analysis_files = package.analyses.iter().map(|f| NodeFile {
            kind: ResourceType::Analysis,
            name: &f.name,
            folders: &f.folders,
            path: &f.path,
            display: &f.display,
            line: 1,
            text: Some(f.text.clone()),
        });
        let seed_files = package.seeds.iter().map(|f| NodeFile {
            kind: ResourceType::Seed,
            name: &f.name,
            folders: &f.folders,
            path: &f.path,
            display: &f.display,
            line: 1,
            text: None,
        });
        let snapshot_blocks = package.snapshots.iter().map(|b| NodeFile {
            kind: ResourceType::Snapshot,
            name: &b.name,
            folders: &b.folders,
            path: &b.path,
            display: &b.display,
            line: b.line,
            text: Some(b.text.clone()),
        });
        let files: Vec<NodeFile> = sql_files
            .chain(analysis_files)
            .chain(seed_files)
            .chain(snapshot_blocks)
            .chain(yaml_snapshots(package, sink))
            .collect();
        for NodeFile {
            kind,
            name,
            folders,
            path,
            display,
            line,
            text,
        } in files
        {
            let name = &name.to_owned();
            let file_stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let version = (kind == ResourceType::Model)
                .then(|| versions.get(file_stem.as_str()))
                .flatten()
                .map(|(_, label, latest)| (label.clone(), latest.clone()));
            let key = match &version {
                Some((label, _)) => kiln_core::RefCall::versioned_name(name, label),
                None => name.clone(),
            };
            if let Some(previous) = seen.insert(key.clone(), display) {
                sink.push(
                    Diagnostic::error(format!(
                        "two nodes are named `{name}` in package `{}`",
                        package.name
                    ))
                    .at(Location::new(display, line))
                    .note(format!("the other one is {}", previous.display()))
                    .help("rename one of the files: node names must be unique within a package"),
                );
                continue;
            }
            let mut fqn = vec![package.name.clone()];
            if kind == ResourceType::Analysis {
                // As dbt names them: `<package>.analysis.<folders>.<name>`.
                fqn.push("analysis".to_owned());
            }
            fqn.extend(folders.iter().cloned());
            fqn.push(name.clone());
            if let Some((label, _)) = &version {
                fqn.push(format!("v{label}"));
            }
            let entry = props.of(kind).get(name.as_str());
            let trees = match kind {
                ResourceType::Seed => &seed_trees,
                ResourceType::Snapshot => &snapshot_trees,
                ResourceType::Analysis => &analysis_trees,
                _ => &model_trees,
            };
            let yml_location = entry.map(|(p, file)| Location::new(*file, p.line));
            let base = base_config(
                &folder_layers(trees, &fqn),
                entry.map(|(p, _)| *p),
                sink,
                yml_location,
            );
            let unique_id = match &version {
                Some((label, _)) => format!("{}.{}.{name}.v{label}", kind.as_str(), package.name),
                None => format!("{}.{}.{name}", kind.as_str(), package.name),
            };
            let node = Node {
                unique_id,
                name: name.clone(),
                resource_type: kind,
                package: package.name.clone(),
                fqn,
                original_file_path: path.to_path_buf(),
                display_path: display.to_path_buf(),
                location: Location::new(display, line),
                raw_code: text.unwrap_or_default(),
                // Resolved by the parse step, after the model's own `config()` calls.
                config: NodeConfig::default_for(kind),
                relation: Relation::new(target_database, "", name.clone()),
                description: entry
                    .map(|(p, _)| p.description.clone())
                    .unwrap_or_default(),
                columns: entry
                    .map(|(p, _)| p.columns.iter().map(crate::node::column).collect())
                    .unwrap_or_default(),
                meta: entry.map(|(p, _)| p.meta.clone()).unwrap_or_default(),
                refs: Vec::new(),
                sources: Vec::new(),
                depends_on: Vec::new(),
                macros: Vec::new(),
                compiled_code: None,
                source: None,
                patch_path: entry.map(|(_, file)| file.to_path_buf()),
                test: None,
                unit_test: None,
                version: version.as_ref().map(|(label, _)| label.clone()),
                latest_version: version.as_ref().and_then(|(_, latest)| latest.clone()),
                time_spine: entry
                    .and_then(|(p, _)| p.time_spine.clone())
                    .map(|mut spine| {
                        // dbt's shape: `custom_granularities` is always there.
                        if let Some(map) = spine.as_object_mut() {
                            map.entry("custom_granularities")
                                .or_insert_with(|| serde_json::json!([]));
                        }
                        spine
                    }),
                exposure: None,
            };
            out.push(Discovered {
                node: document(node, entry.map(|(p, f)| (*p, *f)), &docs, sink),
                base_config: base,
            });
        }
        let described = props
            .models
            .iter()
            .chain(props.seeds.iter())
            .chain(props.snapshots.iter())
            .map(|entry| (entry, "model, seed or snapshot"))
            .chain(props.analyses.iter().map(|entry| (entry, "analysis")));
        for ((name, (entry, file)), what) in described {
            if !seen.contains_key(*name)
                && !seen.keys().any(|key| key.starts_with(&format!("{name}.v")))
            {
                sink.push(
                    Diagnostic::warning(format!(
                        "schema YAML describes `{name}`, but there is no such {what}"
                    ))
                    .at(Location::new(*file, entry.line))
                    .help("check the name, or remove the entry"),
                );
            }
        }
        let quoting = project.root_package().file.quoting.as_ref();
        out.extend(sources(package, target_database, quoting, sink));
        out.extend(exposures(package, sink));
        out.extend(crate::test_nodes::discover_tests(project, package, sink));
    }
    out
}

/// Resolves `doc()` in the descriptions of a node and its columns.
fn document(
    mut node: Node,
    entry: Option<(&NodeProps, &std::path::Path)>,
    docs: &Docs,
    sink: &mut DiagnosticSink,
) -> Node {
    let Some((props, file)) = entry else {
        return node;
    };
    let mut render =
        |text: &mut String, line: usize| match docs.render(text, &Location::new(file, line)) {
            Ok(rendered) => *text = rendered,
            Err(error) => sink.push(error),
        };
    render(&mut node.description, props.line);
    for (column, column_props) in node.columns.iter_mut().zip(&props.columns) {
        render(&mut column.description, column_props.line);
    }
    node
}

fn sources(
    package: &Package,
    target_database: &str,
    quoting: Option<&serde_json::Value>,
    sink: &mut DiagnosticSink,
) -> Vec<Discovered> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<(String, String), Location> = BTreeMap::new();
    for file in &package.schema_files {
        for source in &file.sources {
            for table in &source.tables {
                let location = Location::new(&file.path, table.line);
                if let Some(previous) =
                    seen.insert((source.name.clone(), table.name.clone()), location.clone())
                {
                    sink.push(
                        Diagnostic::error(format!(
                            "source table `{}.{}` is declared twice",
                            source.name, table.name
                        ))
                        .at(location.clone())
                        .note(format!("first declared at {previous}")),
                    );
                    continue;
                }
                let mut config = RawConfig::default();
                for json in [source.config.clone(), table.config.clone()]
                    .into_iter()
                    .flatten()
                {
                    match RawConfig::from_json(json) {
                        Ok(layer) => config.merge(layer),
                        Err(error) => {
                            sink.push(Diagnostic::error(error.to_string()).at(location.clone()))
                        }
                    }
                }
                let mut resolved = match config
                    .clone()
                    .resolve(ResourceType::Source, &CliFlags::default())
                {
                    Ok(resolved) => resolved,
                    Err(invalid) => {
                        let name = format!("{}.{}", source.name, table.name);
                        sink.push(
                            invalid
                                .to_diagnostic(ResourceType::Source, &name)
                                .at(location.clone()),
                        );
                        NodeConfig::default_for(ResourceType::Source)
                    }
                };
                for tag in source.tags.iter().chain(&table.tags) {
                    if !resolved.tags.contains(tag) {
                        resolved.tags.push(tag.clone());
                    }
                }
                let mut relation = Relation::new(
                    source
                        .database
                        .clone()
                        .unwrap_or_else(|| target_database.to_owned()),
                    source.schema.clone().unwrap_or_else(|| source.name.clone()),
                    table
                        .identifier
                        .clone()
                        .unwrap_or_else(|| table.name.clone()),
                );
                // The project's `quoting:`, then the source's, then the table's.
                relation.quote = kiln_core::QuotePolicy::default()
                    .with(quoting)
                    .with(source.quoting.as_ref())
                    .with(table.quoting.as_ref());
                let node = Node {
                    unique_id: format!("source.{}.{}.{}", package.name, source.name, table.name),
                    name: table.name.clone(),
                    resource_type: ResourceType::Source,
                    package: package.name.clone(),
                    fqn: vec![
                        package.name.clone(),
                        source.name.clone(),
                        table.name.clone(),
                    ],
                    original_file_path: file
                        .path
                        .strip_prefix(&package.rel_dir)
                        .unwrap_or(&file.path)
                        .to_path_buf(),
                    display_path: file.path.clone(),
                    location,
                    raw_code: String::new(),
                    config: resolved,
                    relation,
                    description: table.description.clone(),
                    columns: table.columns.iter().map(crate::node::column).collect(),
                    meta: table.meta.clone(),
                    refs: Vec::new(),
                    sources: Vec::new(),
                    depends_on: Vec::new(),
                    macros: Vec::new(),
                    compiled_code: None,
                    source: Some(SourceInfo {
                        source_name: source.name.clone(),
                        source_description: source.description.clone(),
                        loader: source.loader.clone(),
                        loaded_at_field: table
                            .loaded_at_field
                            .clone()
                            .or_else(|| config_text(&table.config, "loaded_at_field"))
                            .or_else(|| source.loaded_at_field.clone())
                            .or_else(|| config_text(&source.config, "loaded_at_field")),
                        freshness: freshness(
                            source
                                .freshness
                                .clone()
                                .or_else(|| config_key(&source.config, "freshness")),
                            table
                                .freshness
                                .clone()
                                .or_else(|| config_key(&table.config, "freshness")),
                        ),
                    }),
                    patch_path: Some(file.path.clone()),
                    test: None,
                    unit_test: None,
                    version: None,
                    latest_version: None,
                    time_spine: None,
                    exposure: None,
                };
                out.push(Discovered {
                    node,
                    base_config: config,
                });
            }
        }
    }
    out
}

/// A source table's freshness as dbt merges it: the source's (`freshness:` or, dbt 1.10,
/// under `config:`), with the table's keys (`warn_after`, `error_after`, `filter`) over it;
/// `freshness: null` at the table opts out.
fn freshness(source: Option<Json>, table: Option<Json>) -> Option<Json> {
    match (source, table) {
        (Some(Json::Object(mut merged)), Some(Json::Object(table))) => {
            merged.extend(table);
            Some(Json::Object(merged))
        }
        (source, None) => source,
        (_, table) => table,
    }
}

/// A key of a `config:` block, when written (`Some(null)` for `key: null`).
fn config_key(config: &Option<Json>, key: &str) -> Option<Json> {
    config.as_ref()?.get(key).cloned()
}

/// A text value of a `config:` block.
fn config_text(config: &Option<Json>, key: &str) -> Option<String> {
    config_key(config, key)?.as_str().map(str::to_owned)
}

/// A schema file's path relative to the model path that holds it (dbt's `path` of exposures
/// and groups, and the base of their fqn); as given when no model path does.
pub(crate) fn under_model_path(package: &Package, original_file_path: &Path) -> PathBuf {
    package
        .file
        .model_paths
        .iter()
        .find_map(|dir| original_file_path.strip_prefix(dir).ok())
        .unwrap_or(original_file_path)
        .to_path_buf()
}

/// The exposures of a package's schema YAML: nodes that depend on models and sources and are
/// never built, there to be listed, selected (`+exposure:weekly_kpis`) and written to the
/// manifest as dbt does.
fn exposures(package: &Package, sink: &mut DiagnosticSink) -> Vec<Discovered> {
    const KINDS: &[&str] = &["dashboard", "notebook", "analysis", "ml", "application"];
    const MATURITIES: &[&str] = &["high", "medium", "low"];
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    for file in &package.schema_files {
        for exposure in &file.exposures {
            let location = Location::new(&file.path, exposure.line);
            let name = &exposure.name;
            let invalid = |message: String| {
                Diagnostic::error(format!("exposure `{name}` {message}")).at(location.clone())
            };
            if let Some(previous) = seen.insert(name.clone(), location.clone()) {
                sink.push(
                    invalid("is declared twice".to_owned())
                        .note(format!("first declared at {previous}")),
                );
                continue;
            }
            let kind = match exposure.kind.as_deref() {
                Some(kind) if KINDS.contains(&kind) => kind.to_owned(),
                other => {
                    sink.push(
                        invalid(match other {
                            Some(kind) => format!("has unknown type `{kind}`"),
                            None => "has no `type`".to_owned(),
                        })
                        .help(format!("use one of {}", KINDS.join(", "))),
                    );
                    continue;
                }
            };
            let owner = exposure.owner.clone().unwrap_or(serde_json::Value::Null);
            if !owner
                .as_object()
                .is_some_and(|o| o.contains_key("name") || o.contains_key("email"))
            {
                sink.push(
                    invalid("has no owner".to_owned())
                        .help("add `owner: {name: ..., email: ...}` (one of the two at least)"),
                );
                continue;
            }
            if let Some(maturity) = exposure
                .maturity
                .as_deref()
                .filter(|m| !MATURITIES.contains(m))
            {
                sink.push(
                    invalid(format!("has unknown maturity `{maturity}`"))
                        .help(format!("use one of {}", MATURITIES.join(", "))),
                );
                continue;
            }
            let mut refs = Vec::new();
            let mut sources = Vec::new();
            for entry in &exposure.depends_on {
                match kiln_core::unit_test::Input::parse(entry) {
                    Some(kiln_core::unit_test::Input::Ref(call)) => refs.push(call),
                    Some(kiln_core::unit_test::Input::Source(call)) => sources.push(call),
                    _ if entry.trim_start().starts_with("metric(") => sink.push(
                        Diagnostic::warning(format!(
                            "exposure `{name}` depends on `{}`: metrics are not supported by Kiln yet, the dependency is left out",
                            entry.trim()
                        ))
                        .at(location.clone()),
                    ),
                    _ => sink.push(
                        invalid(format!("has a dependency Kiln cannot read: `{entry}`"))
                            .help("write `ref('model')` or `source('source', 'table')`"),
                    ),
                }
            }
            let mut config = RawConfig::default();
            if let Some(json) = exposure.config.clone() {
                match RawConfig::from_json(json) {
                    Ok(layer) => config.merge(layer),
                    Err(error) => {
                        sink.push(Diagnostic::error(error.to_string()).at(location.clone()))
                    }
                }
            }
            let mut resolved = config
                .clone()
                .resolve(ResourceType::Exposure, &CliFlags::default())
                .unwrap_or_else(|_| NodeConfig::default_for(ResourceType::Exposure));
            for tag in &exposure.tags {
                if !resolved.tags.contains(tag) {
                    resolved.tags.push(tag.clone());
                }
            }
            resolved.tags.sort();
            resolved.meta.extend(exposure.meta.clone());
            let original_file_path = file
                .path
                .strip_prefix(&package.rel_dir)
                .unwrap_or(&file.path)
                .to_path_buf();
            // dbt's fqn: the package, the folders under the model path, the name.
            let folders: Vec<String> = under_model_path(package, &original_file_path)
                .parent()
                .map(|parent| {
                    parent
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            let mut fqn = vec![package.name.clone()];
            fqn.extend(folders);
            fqn.push(name.clone());
            let node = Node {
                unique_id: format!("exposure.{}.{name}", package.name),
                name: name.clone(),
                resource_type: ResourceType::Exposure,
                package: package.name.clone(),
                fqn,
                original_file_path,
                display_path: file.path.clone(),
                location,
                raw_code: String::new(),
                config: resolved,
                relation: Relation::new("", "", name.clone()),
                description: exposure.description.clone(),
                columns: Vec::new(),
                meta: exposure.meta.clone(),
                refs,
                sources,
                depends_on: Vec::new(),
                macros: Vec::new(),
                compiled_code: None,
                source: None,
                patch_path: None,
                test: None,
                unit_test: None,
                version: None,
                latest_version: None,
                time_spine: None,
                exposure: Some(Box::new(kiln_core::ExposureInfo {
                    kind,
                    owner,
                    label: exposure.label.clone(),
                    maturity: exposure.maturity.clone(),
                    url: exposure.url.clone(),
                    depends_on: exposure.depends_on.clone(),
                })),
            };
            out.push(Discovered {
                node,
                base_config: config,
            });
        }
    }
    out
}
