//! The parse phase: render every model once with recording `ref`/`source`/`config`, resolve
//! each node's config and relation, and build the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_core::diagnostic::DiagnosticSink;
use kiln_core::{
    CliFlags, Diagnostic, Diagnostics, Location, Materialization, Node, RefCall, Relation,
    ResourceType, SourceCall, UnknownName,
};
use kiln_graph::{Graph, GraphNode, NameIndex};
use kiln_jinja::{EnvOptions, JinjaEnv, NodeContext, NodeInfo, Phase, Resolver};
use kiln_project::{Profile, Project};
use minijinja::Value;
use rayon::prelude::*;
use serde_json::Value as Json;

use crate::discover::{Discovered, discover};

/// What the parse and compile phases need from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub cli_vars: BTreeMap<String, Json>,
    /// The command, for `flags.WHICH`.
    pub which: String,
    /// `--full-refresh` and `--store-failures`: the command line's layer of every config.
    pub cli: CliFlags,
}

/// How long each step took.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub load: Duration,
    pub parse: Duration,
    pub graph: Duration,
    pub compile: Duration,
}

/// A parsed project: every node with its final config and relation, and the graph.
pub struct Parsed {
    pub env: JinjaEnv,
    pub nodes: BTreeMap<String, Node>,
    pub graph: Graph,
    pub names: Arc<NameIndex>,
    pub profile: Profile,
    pub options: Options,
    pub warnings: Vec<Diagnostic>,
    /// The declared groups (`groups:` in schema YAML).
    pub groups: Vec<crate::groups::Group>,
    /// Semantic models, metrics and saved queries (manifest entries only).
    pub semantic: crate::semantic::SemanticLayer,
    pub timings: Timings,
    /// dbt's `invocation_id` and `run_started_at` of this command, for the artifacts.
    pub invocation_id: String,
    pub run_started_at: String,
}

/// During the parse render, sources are known and refs are placeholders.
struct ParseResolver {
    database: String,
    schema: String,
    sources: BTreeMap<(String, String), Relation>,
}

impl Resolver for ParseResolver {
    fn resolve_ref(&self, _from: &NodeInfo, call: &RefCall) -> Result<Relation, UnknownName> {
        Ok(Relation::new(&self.database, &self.schema, &call.name))
    }

    fn resolve_source(&self, call: &SourceCall) -> Result<Relation, UnknownName> {
        Ok(self
            .sources
            .get(&(call.source.clone(), call.table.clone()))
            .cloned()
            .unwrap_or_else(|| Relation::new(&self.database, &call.source, &call.table)))
    }
}

pub(crate) fn node_info(node: &Node) -> NodeInfo {
    NodeInfo {
        unique_id: node.unique_id.clone(),
        name: node.name.clone(),
        package: node.package.clone(),
        resource_type: node.resource_type.as_str().to_owned(),
        original_file_path: node.original_file_path.display().to_string(),
        fqn: node.fqn.clone(),
    }
}

/// What `model` shows of a node besides its name and relation: its documented properties,
/// as dbt's node has them.
pub(crate) fn model_properties(node: &Node) -> Json {
    let columns: serde_json::Map<String, Json> = node
        .columns
        .iter()
        .map(|c| (c.name.clone(), crate::manifest::column_json(c)))
        .collect();
    serde_json::json!({
        "description": node.description,
        "columns": columns,
        "tags": node.config.tags,
        "meta": node.config.meta,
        "path": node.original_file_path.components().skip(1).collect::<std::path::PathBuf>(),
        "patch_path": node.patch_path,
        "version": node.version,
        "latest_version": node.latest_version,
        "language": "sql",
    })
}

/// The `node` argument of `generate_schema_name` and friends.
fn node_value(node: &Node) -> Value {
    Value::from(minijinja::value::Serde(serde_json::json!({
        "unique_id": node.unique_id,
        "name": node.name,
        "resource_type": node.resource_type.as_str(),
        "package_name": node.package,
        "fqn": node.fqn,
        "original_file_path": node.original_file_path,
        "config": node.config.to_json(),
        "version": node.version,
        "latest_version": node.latest_version,
    })))
}

/// The line of the first quoted mention of `name` in `text` (where a `ref` most likely is).
pub(crate) fn line_of_mention(text: &str, name: &str) -> usize {
    [format!("'{name}'"), format!("\"{name}\"")]
        .iter()
        .filter_map(|needle| text.find(needle.as_str()))
        .min()
        .map_or(1, |offset| text[..offset].matches('\n').count() + 1)
}

/// Loads nothing: takes a loaded project and parses it.
pub fn parse(
    project: &Project,
    profile: &Profile,
    options: &Options,
) -> Result<Parsed, Diagnostics> {
    let started = Instant::now();
    let mut sink = DiagnosticSink::default();
    let env_options = EnvOptions {
        target: profile.target_json(),
        cli_vars: options.cli_vars.clone(),
        flags: serde_json::json!({
            "FULL_REFRESH": options.cli.full_refresh,
            "WHICH": options.which,
            "STORE_FAILURES": options.cli.store_failures,
        }),
        invocation_id: invocation_id(),
        run_started_at: now_rfc3339(),
    };
    let invocation = (
        env_options.invocation_id.clone(),
        env_options.run_started_at.clone(),
    );
    let (env, warnings) = match JinjaEnv::new(project, env_options) {
        Ok(result) => result,
        Err(errors) => {
            sink.extend(errors.0);
            return Err(finish_err(sink));
        }
    };
    sink.extend(warnings);
    let database = profile.database().to_owned();
    let schema = profile.schema().to_owned();
    let discovered = discover(project, &database, &mut sink);

    let resolver = Arc::new(ParseResolver {
        database: database.clone(),
        schema: schema.clone(),
        sources: discovered
            .iter()
            .filter_map(|d| {
                let source = d.node.source.as_ref()?;
                Some((
                    (source.source_name.clone(), d.node.name.clone()),
                    d.node.relation.clone(),
                ))
            })
            .collect(),
    });
    let overrides = Overrides {
        schema: env.is_overridden("generate_schema_name"),
        alias: env.is_overridden("generate_alias_name"),
        database: env.is_overridden("generate_database_name"),
        tests: ["unique", "not_null", "accepted_values", "relationships"]
            .into_iter()
            .filter(|name| env.is_overridden(&format!("test_{name}")))
            .map(str::to_owned)
            .collect(),
        quoting: kiln_core::QuotePolicy::default()
            .with(project.root_package().file.quoting.as_ref()),
    };
    let results: Vec<Result<Node, Diagnostic>> = discovered
        .into_par_iter()
        .map(|discovered| {
            parse_node(
                &env,
                discovered,
                resolver.clone(),
                &database,
                &schema,
                &overrides,
                &options.cli,
            )
        })
        .collect();
    let mut nodes = BTreeMap::new();
    let mut disabled = BTreeSet::new();
    for result in results {
        match result {
            Ok(node) if !node.config.enabled => {
                disabled.insert(node.name.clone());
            }
            Ok(node) => {
                nodes.insert(node.unique_id.clone(), node);
            }
            Err(error) => sink.push(error),
        }
    }
    let parse_time = started.elapsed();

    let started = Instant::now();
    let names = name_index(project.name(), &nodes);
    let mut dropped = Vec::new();
    for node in nodes.values_mut() {
        if !resolve_dependencies(node, &names, &disabled, &mut sink) {
            dropped.push(node.unique_id.clone());
        }
    }
    for id in dropped {
        nodes.remove(&id);
    }
    for node in crate::unit_tests::unit_test_nodes(project, &nodes, &names, &options.cli, &mut sink)
    {
        nodes.insert(node.unique_id.clone(), node);
    }
    let groups = crate::groups::discover(project, &mut sink);
    let semantic = crate::semantic::discover(project, profile, &nodes, &mut sink);
    crate::groups::check(&nodes, &groups, &mut sink);
    check_relation_names(&nodes, &mut sink);
    check_incremental_strategies(&env, &nodes, &mut sink);
    check_materializations(&env, &nodes, &mut sink);
    if sink.has_errors() {
        return Err(finish_err(sink));
    }
    let graph = match Graph::build(nodes.values().map(graph_node).collect()) {
        Ok(graph) => graph,
        Err(errors) => {
            sink.extend(errors.0);
            return Err(finish_err(sink));
        }
    };
    let graph_time = started.elapsed();
    let warnings = sink.finish()?;
    let mentions_graph =
        env.macros_mention_graph() || nodes.values().any(|n| n.raw_code.contains("graph"));
    let parsed = Parsed {
        env,
        nodes,
        graph,
        names: Arc::new(names),
        profile: profile.clone(),
        options: options.clone(),
        warnings,
        groups,
        semantic,
        timings: Timings {
            parse: parse_time,
            graph: graph_time,
            ..Timings::default()
        },
        invocation_id: invocation.0,
        run_started_at: invocation.1,
    };
    // dbt's `graph` for the renders that follow; built only when a template may read it (it
    // serializes every node).
    if mentions_graph {
        parsed
            .env
            .set_graph(crate::manifest::graph_json(project, &parsed));
    }
    Ok(parsed)
}

/// A strategy other than Kiln's own runs the macro `get_incremental_<name>_sql`, as in dbt: it
/// must exist. dbt finds out when the model runs; Kiln says so at parse, with what would work.
/// `insert_overwrite` is refused as dbt-postgres refuses it; `microbatch` needs its settings
/// (`event_time`, `batch_size`, `begin`), as dbt checks them at parse.
fn check_incremental_strategies(
    env: &JinjaEnv,
    nodes: &BTreeMap<String, Node>,
    sink: &mut DiagnosticSink,
) {
    use kiln_core::{BuiltinStrategy, IncrementalStrategy};
    for node in nodes.values() {
        let Some(IncrementalStrategy::Macro(name)) = &node.config.incremental_strategy else {
            continue;
        };
        if node.config.materialized != Materialization::Incremental {
            continue;
        }
        if name == "microbatch" {
            if let Err(error) = crate::microbatch::Microbatch::from_node(node) {
                sink.push(error);
            }
            continue;
        }
        let strategy = IncrementalStrategy::Macro(name.clone());
        let builtin = BuiltinStrategy::NAMES.join(", ");
        let error =
            if name == "insert_overwrite" {
                Diagnostic::error(format!(
                "{} `{}`: incremental_strategy `insert_overwrite` is not available on PostgreSQL",
                node.resource_type, node.name
            ))
            .help(format!("use one of {builtin} (dbt-postgres refuses it too)"))
            } else if env.has_macro(&strategy.macro_name()) {
                continue;
            } else {
                let error = Diagnostic::error(format!(
                    "{} `{}` has unknown incremental_strategy `{name}`",
                    node.resource_type, node.name
                ));
                match kiln_core::diagnostic::closest(name, BuiltinStrategy::NAMES.iter().copied()) {
                Some(known) => error.help(format!("did you mean `{known}`?")),
                None => error.help(format!(
                    "use one of {builtin}, or define a macro `{}(arg_dict)` that returns the SQL \
                     of a custom strategy",
                    strategy.macro_name()
                )),
            }
            };
        sink.push(error.at(node.location.clone()));
    }
}

/// A materialization other than Kiln's own runs the project's or a package's
/// `{% materialization %}` block: one must exist. dbt finds out when the model runs; Kiln
/// says so at parse.
fn check_materializations(
    env: &JinjaEnv,
    nodes: &BTreeMap<String, Node>,
    sink: &mut DiagnosticSink,
) {
    for node in nodes.values() {
        if node.config.materialized == Materialization::MaterializedView {
            let configured = node.config.other.get("on_configuration_change");
            if let Some(Err(error)) = configured.map(|value| {
                kiln_core::OnConfigurationChange::parse(value.as_str().unwrap_or_default())
            }) {
                let error = kiln_core::InvalidValue {
                    value: configured.map_or_else(String::new, |v| {
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                    }),
                    ..error
                };
                sink.push(
                    error
                        .to_diagnostic(node.resource_type, &node.name)
                        .at(node.location.clone()),
                );
            }
        }
        let Materialization::Custom(name) = &node.config.materialized else {
            continue;
        };
        if env.materialization_macro(name).is_some() {
            continue;
        }
        let error = Diagnostic::error(format!(
            "{} `{}` has unknown materialization `{name}`",
            node.resource_type, node.name
        ));
        let known = Materialization::FOR_MODELS
            .iter()
            .copied()
            .chain(env.materialization_names());
        let error = match kiln_core::diagnostic::closest(name, known) {
            Some(known) => error.help(format!("did you mean `{known}`?")),
            None => error.help(format!(
                "use one of {}, or define it in a macro file: \
                 `{{% materialization {name}, default %}}` ... `{{% endmaterialization %}}`",
                Materialization::FOR_MODELS.join(", ")
            )),
        };
        sink.push(error.at(node.location.clone()));
    }
}

/// dbt's `depends_on.macros` of a generic test: its test macro, then `get_where_subquery`,
/// which dbt calls on the test's `model` argument, except for its own `unique` and `not_null`
/// (which dbt parses without rendering). dbt names the test macro by looking `test_<name>` up
/// from the test's package, whatever namespace the test names (`dbt_utils.not_empty_string`
/// is recorded as the project's own `test_not_empty_string` when it has one, though
/// dbt_utils' runs); Kiln records what dbt records.
fn generic_test_macros(env: &JinjaEnv, node: &mut Node) {
    let Some(test) = node
        .test
        .as_ref()
        .filter(|t| t.kind == kiln_core::TestKind::Generic)
    else {
        return;
    };
    let registry = env.registry();
    let name = format!("test_{}", test.test_name);
    let others = registry
        .packages()
        .filter(|p| *p != kiln_jinja::macros::BUILTIN_PACKAGE);
    let recorded_as = [node.package.as_str(), registry.root()]
        .into_iter()
        .chain(others)
        .chain([kiln_jinja::macros::BUILTIN_PACKAGE])
        .find(|package| registry.get(package, &name).is_some())
        .map(|package| format!("macro.{package}.{name}"));
    if let Some(id) = recorded_as {
        let is_test_macro = |m: &String| m.rsplit('.').next() == Some(name.as_str());
        node.macros.retain(|m| !is_test_macro(m));
        node.macros.insert(0, id);
    }
    const WHERE: &str = "macro.dbt.get_where_subquery";
    let shortcut = matches!(
        node.macros.first().map(String::as_str),
        Some("macro.dbt.test_unique" | "macro.dbt.test_not_null")
    );
    if !shortcut && !node.macros.iter().any(|m| m == WHERE) {
        let at = node.macros.len().min(1);
        node.macros.insert(at, WHERE.to_owned());
    }
}

/// dbt renders a node's hooks at parse to find the macros they call (its `depends_on.macros`
/// lists them after the node's own); their output is not used.
fn hook_macros(env: &JinjaEnv, node: &mut Node, context: Arc<NodeContext>) {
    // Plain SQL calls nothing: only templates are rendered.
    let hooks = (node.config.pre_hook.iter().chain(&node.config.post_hook))
        .filter(|hook| hook.sql().contains("{{") || hook.sql().contains("{%"));
    let mut rendered_any = false;
    for hook in hooks {
        rendered_any = true;
        // A hook that fails here fails when it runs, with its own message.
        let _ = env.render("hook", hook.sql(), context.clone());
    }
    if rendered_any {
        for id in context.into_recorded().macros {
            if !node.macros.contains(&id) {
                node.macros.push(id);
            }
        }
    }
}

fn finish_err(sink: DiagnosticSink) -> Diagnostics {
    match sink.finish() {
        Err(errors) => errors,
        Ok(warnings) => Diagnostics(warnings),
    }
}

#[derive(Debug, Clone)]
struct Overrides {
    schema: bool,
    alias: bool,
    database: bool,
    /// Built-in generic tests the project redefines (`unique`...).
    tests: BTreeSet<String>,
    /// The root project's `quoting:`.
    quoting: kiln_core::QuotePolicy,
}

/// Renders one node in the parse phase and resolves its config and relation.
fn parse_node(
    env: &JinjaEnv,
    discovered: Discovered,
    resolver: Arc<ParseResolver>,
    database: &str,
    schema: &str,
    overrides: &Overrides,
    cli: &CliFlags,
) -> Result<Node, Diagnostic> {
    let Discovered {
        mut node,
        base_config,
    } = discovered;
    if matches!(
        node.resource_type,
        ResourceType::Source | ResourceType::Exposure
    ) {
        return Ok(node);
    }
    // A built-in generic test's dependencies are its arguments: no render needed (unless the
    // project overrides the test's macro).
    let static_calls = node.test.as_ref().and_then(|t| {
        let overridden = overrides.tests.contains(&t.test_name);
        t.static_calls.clone().filter(|_| !overridden)
    });
    if let Some((refs, sources)) = static_calls {
        node.refs = refs;
        node.sources = sources;
        if let Some(test) = &node.test {
            node.macros = vec![format!("macro.dbt.test_{}", test.test_name)];
        }
        generic_test_macros(env, &mut node);
        node.config = crate::node::resolve_config(&node, base_config, cli)?;
    } else if matches!(
        node.resource_type,
        ResourceType::Model | ResourceType::Test | ResourceType::Snapshot | ResourceType::Analysis
    ) {
        let this = Relation::new(database, schema, &node.name);
        let config_json = serde_json::to_value(&base_config).unwrap_or(Json::Null);
        let context = Arc::new(NodeContext::new(
            Phase::Parse,
            node_info(&node),
            this,
            base_config,
            config_json,
            resolver,
        ));
        env.render(
            &node.display_path.display().to_string(),
            &node.raw_code,
            context.clone(),
        )
        .map_err(|error| crate::compile::at_declaration(&node, error))?;
        crate::node::apply_recorded(&mut node, context.into_recorded(), cli)?;
        generic_test_macros(env, &mut node);
        hook_macros(env, &mut node, context);
    } else {
        let config_json = serde_json::to_value(&base_config).unwrap_or(Json::Null);
        node.config = crate::node::resolve_config(&node, base_config.clone(), cli)?;
        // A seed's hooks call macros too (dbt renders them at parse for `depends_on.macros`).
        let templated = (node.config.pre_hook.iter().chain(&node.config.post_hook))
            .any(|hook| hook.sql().contains("{{") || hook.sql().contains("{%"));
        if templated {
            let context = Arc::new(NodeContext::new(
                Phase::Parse,
                node_info(&node),
                Relation::new(database, schema, &node.name),
                base_config,
                config_json,
                resolver,
            ));
            hook_macros(env, &mut node, context);
        }
    }
    if !node.config.enabled {
        return Ok(node);
    }
    node.relation = relation_for(env, &node, database, schema, overrides)?;
    // The project's `quoting:`, then the node's own `quoting` config.
    node.relation.quote = overrides.quoting.with(node.config.other.get("quoting"));
    if let Some(settings) = &node.config.snapshot {
        // dbt's legacy `target_schema` and `target_database` name the schema exactly.
        if let Some(schema) = &settings.target_schema {
            node.relation.schema = Some(schema.clone());
        }
        if let Some(database) = &settings.target_database {
            node.relation.database = Some(database.clone());
        }
    }
    if node.is_ephemeral() {
        // Inlined as a CTE; the database and schema stay for the manifest, as dbt shows them.
        // Its CTE is named after its alias, as dbt names it (`__dbt__cte__<model>_v2`).
        let alias = node.relation.identifier.clone();
        let resolved = std::mem::replace(&mut node.relation, Relation::ephemeral(&alias));
        node.relation.database = resolved.database;
        node.relation.schema = resolved.schema;
    }
    Ok(node)
}

/// dbt's `generate_database_name`, `generate_schema_name` and `generate_alias_name`: Kiln's
/// built-in rules unless the project defines its own macro.
fn relation_for(
    env: &JinjaEnv,
    node: &Node,
    database: &str,
    schema: &str,
    overrides: &Overrides,
) -> Result<Relation, Diagnostic> {
    let at_node = |mut error: Diagnostic| {
        if error.location.is_none() {
            error = error.at(node.location.clone());
        }
        error.note(format!("while naming the relation of `{}`", node.name))
    };
    let custom = |value: &Option<String>| value.clone().map_or(Value::from(()), Value::from);
    let database = if overrides.database {
        env.call_macro(
            "generate_database_name",
            vec![custom(&node.config.database), node_value(node)],
            None,
        )
        .map_err(at_node)?
    } else {
        node.config
            .database
            .clone()
            .unwrap_or_else(|| database.to_owned())
    };
    let schema = if overrides.schema {
        env.call_macro(
            "generate_schema_name",
            vec![custom(&node.config.schema), node_value(node)],
            None,
        )
        .map_err(at_node)?
    } else {
        match &node.config.schema {
            Some(custom) => format!("{schema}_{}", custom.trim()),
            None => schema.to_owned(),
        }
    };
    let alias = if overrides.alias {
        env.call_macro(
            "generate_alias_name",
            vec![custom(&node.config.alias), node_value(node)],
            None,
        )
        .map_err(at_node)?
    } else {
        node.config
            .alias
            .clone()
            .map_or_else(|| node.default_alias(), |a| a.trim().to_owned())
    };
    let kind = match node.config.materialized {
        Materialization::View => "view",
        Materialization::MaterializedView => "materialized_view",
        _ => "table",
    };
    Ok(Relation::new(database, schema, alias).with_kind(kind))
}

fn name_index(root: &str, nodes: &BTreeMap<String, Node>) -> NameIndex {
    let mut names = NameIndex::new(root);
    for node in nodes.values() {
        match (&node.resource_type, &node.source) {
            (ResourceType::Source, Some(source)) => {
                names.add_source(&source.source_name, &node.name, &node.unique_id)
            }
            // A versioned model is found by `ref('m', v=1)` (as `m.v1`), its latest version by
            // `ref('m')` too.
            (ResourceType::Model, _) if node.version.is_some() => {
                let version = node.version.as_deref().unwrap_or_default();
                let versioned = RefCall::versioned_name(&node.name, version);
                names.add_ref_target(&node.package, &versioned, &node.unique_id);
                if node.latest_version.as_deref() == Some(version) {
                    names.add_ref_target(&node.package, &node.name, &node.unique_id);
                }
            }
            (ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot, _) => {
                names.add_ref_target(&node.package, &node.name, &node.unique_id);
            }
            _ => {}
        }
    }
    names
}

/// Resolves a node's `ref`s and `source`s to unique ids. As in dbt, a data test whose `ref` or
/// `source` names nothing (or a disabled node) is not an error: it is left out of the project,
/// with a warning when the name does not exist at all. Returns whether to keep the node.
fn resolve_dependencies(
    node: &mut Node,
    names: &NameIndex,
    disabled: &BTreeSet<String>,
    sink: &mut DiagnosticSink,
) -> bool {
    if node.resource_type == ResourceType::Test {
        let missing = node.refs.iter().find_map(|call| {
            names
                .resolve_ref(&node.package, call.package.as_deref(), &call.lookup_name())
                .err()
                .map(|_| call.name.clone())
        });
        let missing = missing.or_else(|| {
            node.sources.iter().find_map(|call| {
                names
                    .resolve_source(&call.source, &call.table)
                    .err()
                    .map(|_| format!("{}.{}", call.source, call.table))
            })
        });
        if let Some(target) = missing {
            if !disabled.contains(&target) {
                sink.push(
                    Diagnostic::warning(format!(
                        "test `{}` depends on `{target}`, which was not found; the test is skipped",
                        node.name
                    ))
                    .at(node.location.clone()),
                );
            }
            return false;
        }
    }
    // In dbt's order: the sources, then the refs, each as met and once. A generic test
    // meets the refs of its arguments first (they are rendered when the test is built) and its
    // model last; Kiln's test nodes hold the model first.
    let mut depends_on: Vec<String> = Vec::new();
    let mut depend = |id: &str| {
        if !depends_on.iter().any(|d| d == id) {
            depends_on.push(id.to_owned());
        }
    };
    let generic = node
        .test
        .as_ref()
        .is_some_and(|t| t.kind == kiln_core::TestKind::Generic);
    let on_source = node.test.as_ref().is_some_and(|t| t.attached_to_source);
    let refs = first_last(&node.refs, generic && !on_source);
    let sources = first_last(&node.sources, generic && on_source);
    // A node without SQL (an exposure) is pointed at by its YAML entry.
    let at = |name: &str| match node.raw_code.is_empty() {
        true => node.location.clone(),
        false => Location::new(&node.display_path, line_of_mention(&node.raw_code, name)),
    };
    for call in sources {
        match names.resolve_source(&call.source, &call.table) {
            Ok(id) => depend(id),
            Err(message) => sink.push(
                Diagnostic::error(format!(
                    "{} `{}` uses source('{}', '{}'): {message}",
                    node.resource_type, node.name, call.source, call.table
                ))
                .at(at(&call.table))
                .help("declare it under `sources:` in a schema YAML file"),
            ),
        }
    }
    for call in refs {
        match names.resolve_ref(&node.package, call.package.as_deref(), &call.lookup_name()) {
            Ok(id) => depend(id),
            Err(_) if disabled.contains(&call.name) => sink.push(
                Diagnostic::error(format!(
                    "{} `{}` refs `{}`, which is disabled",
                    node.resource_type, node.name, call.name
                ))
                .at(at(&call.name))
                .help("enable it, or remove the ref"),
            ),
            Err(message) => {
                let call_text = match &call.package {
                    Some(package) => format!("ref('{package}', '{}')", call.name),
                    None => format!("ref('{}')", call.name),
                };
                sink.push(
                    Diagnostic::error(format!(
                        "{} `{}` uses {call_text}: {message}",
                        node.resource_type, node.name
                    ))
                    .at(at(&call.name)),
                );
            }
        }
    }
    if let Some(test) = &mut node.test {
        let first = if test.attached_to_source {
            node.sources
                .first()
                .and_then(|c| names.resolve_source(&c.source, &c.table).ok())
        } else {
            node.refs.first().and_then(|c| {
                names
                    .resolve_ref(&node.package, c.package.as_deref(), &c.lookup_name())
                    .ok()
            })
        };
        test.attached_node = first.map(str::to_owned);
    }
    node.depends_on = depends_on;
    true
}

/// The items, the first moved last when `move_first` says so.
fn first_last<T>(items: &[T], move_first: bool) -> Vec<&T> {
    match items.split_first() {
        Some((first, rest)) if move_first => rest.iter().chain([first]).collect(),
        _ => items.iter().collect(),
    }
}

/// Two nodes whose relations PostgreSQL would store under one name (identifiers are cut to 63
/// bytes, silently) would overwrite each other: an error naming both files.
fn check_relation_names(nodes: &BTreeMap<String, Node>, sink: &mut DiagnosticSink) {
    let mut seen: BTreeMap<(String, String, String), &Node> = BTreeMap::new();
    let builds_a_relation = |n: &Node| match n.resource_type {
        ResourceType::Model => !n.is_ephemeral(),
        ResourceType::Seed | ResourceType::Snapshot => true,
        _ => false,
    };
    for node in nodes.values().filter(|n| builds_a_relation(n)) {
        let relation = &node.relation;
        let key = (
            relation.database.clone().unwrap_or_default(),
            kiln_core::truncated_identifier(relation.schema.as_deref().unwrap_or_default())
                .to_owned(),
            kiln_core::truncated_identifier(&relation.identifier).to_owned(),
        );
        if let Some(other) = seen.insert(key.clone(), node) {
            let truncated = relation.identifier.len() > kiln_core::MAX_IDENTIFIER_BYTES
                || other.relation.identifier.len() > kiln_core::MAX_IDENTIFIER_BYTES;
            let why = if truncated {
                format!(
                    "PostgreSQL keeps only the first {} bytes of a name: both are `{}.{}`",
                    kiln_core::MAX_IDENTIFIER_BYTES,
                    key.1,
                    key.2
                )
            } else {
                format!("both are `{}.{}`", key.1, key.2)
            };
            sink.push(
                Diagnostic::error(format!(
                    "`{}` and `{}` would build the same relation",
                    other.name, node.name
                ))
                .at(node.location.clone())
                .note(format!("the other one is {}", other.location))
                .note(why)
                .help("give one of them a shorter name or an `alias`"),
            );
        }
    }
}

fn graph_node(node: &Node) -> GraphNode {
    GraphNode {
        unique_id: node.unique_id.clone(),
        name: node.name.clone(),
        resource_type: node.resource_type,
        package: node.package.clone(),
        fqn: node.fqn.clone(),
        path: node.original_file_path.display().to_string(),
        location: node.location.clone(),
        tags: node.config.tags.clone(),
        config: node.config.clone(),
        test_name: node.test.as_ref().map(|t| t.test_name.clone()),
        depends_on: node.depends_on.clone(),
        source_name: node.source.as_ref().map(|s| s.source_name.clone()),
        test_kind: match node.resource_type {
            ResourceType::UnitTest => Some(kiln_core::TestKind::Unit),
            _ => node.test.as_ref().map(|t| t.kind),
        },
    }
}

/// dbt's `invocation_id`.
fn invocation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current UTC time as RFC 3339.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}
