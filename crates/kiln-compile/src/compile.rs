//! The compile phase: render the selected models again with `ref` resolved to the final
//! relations, and inline ephemeral models as CTEs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use kiln_core::diagnostic::DiagnosticSink;
use kiln_core::{
    Diagnostic, Diagnostics, Materialization, Node, RawConfig, RefCall, Relation, ResourceType,
    SourceCall, UnknownName,
};
use kiln_graph::NameIndex;
use kiln_jinja::{NodeContext, NodeInfo, Phase, Resolver, Warehouse};
use rayon::prelude::*;

use crate::parse::{Parsed, node_info};

/// Resolves `ref` and `source` to the relations chosen in the parse phase.
struct CompileResolver {
    names: Arc<NameIndex>,
    relations: BTreeMap<String, Relation>,
    /// The nodes with an `event_time` config, and that column.
    event_times: BTreeMap<String, String>,
}

impl CompileResolver {
    fn relation(&self, id: &str) -> Result<Relation, UnknownName> {
        self.relations
            .get(id)
            .cloned()
            .ok_or_else(|| UnknownName::NoRelation {
                unique_id: id.to_owned(),
            })
    }
}

impl Resolver for CompileResolver {
    fn resolve_ref(&self, from: &NodeInfo, call: &RefCall) -> Result<Relation, UnknownName> {
        self.relation(self.names.resolve_ref(
            &from.package,
            call.package.as_deref(),
            &call.lookup_name(),
        )?)
    }

    fn resolve_source(&self, call: &SourceCall) -> Result<Relation, UnknownName> {
        self.relation(self.names.resolve_source(&call.source, &call.table)?)
    }

    fn ref_event_time(&self, from: &NodeInfo, call: &RefCall) -> Option<String> {
        let id = self
            .names
            .resolve_ref(&from.package, call.package.as_deref(), &call.lookup_name())
            .ok()?;
        self.event_times.get(id).cloned()
    }

    fn source_event_time(&self, call: &SourceCall) -> Option<String> {
        let id = self.names.resolve_source(&call.source, &call.table).ok()?;
        self.event_times.get(id).cloned()
    }
}

/// Resolves `ref` and `source` to the relations chosen in the parse phase.
pub fn resolver(parsed: &Parsed) -> Arc<dyn Resolver> {
    Arc::new(CompileResolver {
        names: parsed.names.clone(),
        relations: parsed
            .nodes
            .iter()
            .map(|(id, n)| (id.clone(), n.relation.clone()))
            .collect(),
        event_times: parsed
            .nodes
            .iter()
            .filter_map(|(id, n)| {
                let column = n.config.other.get("event_time")?.as_str()?;
                Some((id.clone(), column.to_owned()))
            })
            .collect(),
    })
}

/// How a node is rendered for compilation or execution.
#[derive(Clone, Default)]
pub struct RenderOptions {
    /// What `is_incremental()` answers for incremental models: when compiling, whether to
    /// preview the incremental branch (`kiln compile --incremental`); when running, whether the
    /// model's table exists and no full refresh is asked for.
    pub incremental: bool,
    /// The live warehouse (`execute` is true): when running, or `kiln compile --connect`.
    pub warehouse: Option<Arc<dyn Warehouse>>,
    /// `--empty`: `ref()` and `source()` read no rows (dbt's limit 0).
    pub empty: bool,
    /// For a unit test: its `overrides:`, and what `this` stands for when it is given.
    pub overrides: Option<Arc<kiln_core::unit_test::Overrides>>,
    pub this: Option<Relation>,
    /// `kiln compile`: a node whose render failed because the warehouse could not answer (a
    /// relation not built yet, no server) is rendered again without it (`execute` false),
    /// with a warning, instead of failing.
    pub offline_fallback: bool,
    /// A microbatch run's window (parents with an `event_time` are read through it).
    pub event_time_window: Option<kiln_jinja::EventTimeWindow>,
}

/// A warehouse that remembers whether one of its answers was a failure.
struct Watched {
    inner: Arc<dyn Warehouse>,
    failed: std::sync::atomic::AtomicBool,
}

impl Watched {
    fn note<T>(
        &self,
        result: Result<T, kiln_jinja::QueryFailed>,
    ) -> Result<T, kiln_jinja::QueryFailed> {
        if result.is_err() {
            self.failed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }
}

impl Warehouse for Watched {
    fn query(&self, sql: &str) -> Result<kiln_jinja::QueryResult, kiln_jinja::QueryFailed> {
        self.note(self.inner.query(sql))
    }

    fn columns(
        &self,
        relation: &Relation,
    ) -> Result<Vec<(String, String)>, kiln_jinja::QueryFailed> {
        self.note(self.inner.columns(relation))
    }

    fn get_relation(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, kiln_jinja::QueryFailed> {
        self.note(self.inner.get_relation(database, schema, identifier))
    }
}

/// A compiled node's SQL, and the warning when it was compiled without the warehouse.
type Compiled = (String, Option<Diagnostic>);

/// [`render`] for `kiln compile`: with [`RenderOptions::offline_fallback`], a render that
/// failed because the warehouse could not answer is done again without the warehouse; the
/// warning says so. Returns the SQL and that warning.
fn render_for_compile(
    parsed: &Parsed,
    node: &Node,
    resolver: &Arc<dyn Resolver>,
    options: &RenderOptions,
) -> Result<Compiled, Diagnostic> {
    let Some(warehouse) = options
        .warehouse
        .clone()
        .filter(|_| options.offline_fallback)
    else {
        return render(parsed, node, resolver, options).map(|sql| (sql, None));
    };
    let watched = Arc::new(Watched {
        inner: warehouse,
        failed: std::sync::atomic::AtomicBool::new(false),
    });
    let watched_options = RenderOptions {
        warehouse: Some(watched.clone()),
        ..options.clone()
    };
    match render(parsed, node, resolver, &watched_options) {
        Ok(sql) => Ok((sql, None)),
        Err(error) if watched.failed.load(std::sync::atomic::Ordering::Relaxed) => {
            let offline = RenderOptions {
                warehouse: None,
                ..options.clone()
            };
            let sql = render(parsed, node, resolver, &offline).map_err(|_| error.clone())?;
            let reason = error.message.lines().next().unwrap_or_default().to_owned();
            let warning = Diagnostic::warning(format!(
                "`{}` asks the warehouse while compiling, which could not answer ({reason}): compiled with `execute` false",
                node.name
            ))
            .at(node.location.clone())
            .help("build what it reads first (`kiln run`), then compile again for the SQL that runs");
            Ok((sql, Some(warning)))
        }
        Err(error) => Err(error),
    }
}

fn context(node: &Node, resolver: &Arc<dyn Resolver>, options: &RenderOptions) -> NodeContext {
    let mut context = NodeContext::new(
        Phase::Compile,
        node_info(node),
        options
            .this
            .clone()
            .unwrap_or_else(|| node.relation.clone()),
        RawConfig::default(),
        node.config.to_json(),
        resolver.clone(),
    )
    .with_incremental(options.incremental)
    .with_empty(options.empty)
    .with_event_time_window(options.event_time_window.clone());
    if let Some(warehouse) = &options.warehouse {
        context = context.with_warehouse(warehouse.clone());
    }
    if let Some(overrides) = &options.overrides {
        context = context.with_overrides(overrides.clone());
    }
    context
}

/// `context` with `model`'s documented properties when the SQL or a macro may read them
/// (building them for every render of a large project costs about 5 % of a compile).
fn with_model_properties(
    context: NodeContext,
    parsed: &Parsed,
    node: &Node,
    sql: &str,
) -> NodeContext {
    if parsed.env.macros_read_model_properties()
        || kiln_jinja::environment::reads_model_properties(sql)
    {
        context.with_model_properties(crate::parse::model_properties(node))
    } else {
        context
    }
}

/// Renders a node's SQL with `ref` resolved (without ephemeral CTEs).
pub fn render(
    parsed: &Parsed,
    node: &Node,
    resolver: &Arc<dyn Resolver>,
    options: &RenderOptions,
) -> Result<String, Diagnostic> {
    let context = with_model_properties(
        context(node, resolver, options),
        parsed,
        node,
        &node.raw_code,
    );
    parsed
        .env
        .render(
            &node.display_path.display().to_string(),
            &node.raw_code,
            Arc::new(context),
        )
        .map_err(|error| at_declaration(node, error))
        .map(|sql| {
            if options.empty {
                drop_doubled_aliases(&sql)
            } else {
                sql
            }
        })
        .and_then(|sql| {
            // Only the SQL that runs (`kiln compile` writes what dbt's compile writes): without
            // the warehouse, introspective models (a union of the relations a query finds) are
            // legitimately empty.
            let runs = options.warehouse.is_some() && !options.offline_fallback;
            if runs && node.resource_type == ResourceType::Model && is_blank_sql(&sql) {
                Err(Diagnostic::error(format!("model `{}` renders to no SQL", node.name))
                    .at(node.location.clone())
                    .help("write a `select`, or disable the model with `{{ config(enabled=false) }}`"))
            } else {
                Ok(sql)
            }
        })
}

/// With `--empty`, `ref('x')` renders as `(select * from x where false limit 0)
/// _dbt_limit_subq_x`, as in dbt. Where the model gives the ref an alias of its own
/// (`{{ ref('x') }} as o`), PostgreSQL would see two aliases and dbt fails with a syntax error;
/// Kiln keeps the model's alias and drops its own.
fn drop_doubled_aliases(sql: &str) -> String {
    static DOUBLED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        #[allow(clippy::unwrap_used)]
        regex::Regex::new(r"\) _dbt_limit_subq_\w+(\s+(?:as\s+)?)([A-Za-z_]\w*)").unwrap()
    });
    const NOT_ALIASES: &[&str] = &[
        "where",
        "join",
        "left",
        "right",
        "inner",
        "outer",
        "full",
        "cross",
        "natural",
        "on",
        "using",
        "group",
        "order",
        "limit",
        "offset",
        "union",
        "except",
        "intersect",
        "having",
        "window",
        "for",
        "fetch",
        "lateral",
        "returning",
        "select",
        "from",
        "and",
        "or",
        "then",
        "when",
        "else",
        "end",
    ];
    DOUBLED
        .replace_all(sql, |caps: &regex::Captures<'_>| {
            let word = &caps[2];
            if NOT_ALIASES.contains(&word.to_ascii_lowercase().as_str()) {
                caps[0].to_owned()
            } else {
                format!("){}{word}", &caps[1])
            }
        })
        .into_owned()
}

/// Whether SQL holds nothing but whitespace and comments (PostgreSQL would only report a
/// syntax error at the end of the input).
fn is_blank_sql(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment
                .split_once('\n')
                .map_or("", |(_, tail)| tail)
                .trim_start();
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment
                .split_once("*/")
                .map_or("", |(_, tail)| tail)
                .trim_start();
        } else {
            return rest.is_empty();
        }
    }
}

/// A generic test's SQL is generated from its YAML entry: an error on "line 1" of that code
/// points at the entry in the YAML file instead, and names the test.
pub(crate) fn at_declaration(node: &Node, mut error: Diagnostic) -> Diagnostic {
    let generated = node
        .test
        .as_ref()
        .is_some_and(|t| t.kind == kiln_core::TestKind::Generic);
    if generated
        && error
            .location
            .as_ref()
            .is_some_and(|at| at.file == node.display_path)
    {
        error.location = Some(node.location.clone());
        error
            .notes
            .retain(|note| !note.trim_start().starts_with("1 |"));
        error.notes.push(format!("in test `{}`", node.name));
    }
    error
}

/// Renders a hook (or any SQL snippet) in a node's context; `what` names it in errors.
pub fn render_snippet(
    parsed: &Parsed,
    node: &Node,
    what: &str,
    sql: &str,
    resolver: &Arc<dyn Resolver>,
    options: &RenderOptions,
) -> Result<String, Diagnostic> {
    render_snippet_with(parsed, node, what, sql, resolver, options, Vec::new())
}

/// [`render_snippet`] with more names in the context (a strategy macro's `arg_dict`).
pub fn render_snippet_with(
    parsed: &Parsed,
    node: &Node,
    what: &str,
    sql: &str,
    resolver: &Arc<dyn Resolver>,
    options: &RenderOptions,
    values: Vec<(&str, minijinja::Value)>,
) -> Result<String, Diagnostic> {
    let context = values.into_iter().fold(
        with_model_properties(context(node, resolver, options), parsed, node, sql),
        |context, (name, value)| context.with_extra(name, value),
    );
    let name = format!("{} ({what})", node.display_path.display());
    parsed.env.render(&name, sql, Arc::new(context))
}

/// Runs a materialization macro (`{% materialization %}`, registered as `def`) for `node`, as
/// dbt runs one: in the node's context, with `sql` and `compiled_code` holding its compiled
/// SQL, `model` its documented properties and `compiled_code` (materializations hand `model`
/// to `persist_docs`), and `values` (the hooks) besides. Its statements run as it renders.
pub fn render_materialization(
    parsed: &Parsed,
    node: &Node,
    def: &kiln_jinja::macros::MacroDef,
    compiled: &str,
    resolver: &Arc<dyn Resolver>,
    options: &RenderOptions,
    values: Vec<(&str, minijinja::Value)>,
) -> Result<Materialized, Diagnostic> {
    let mut properties = crate::parse::model_properties(node);
    if let Some(map) = properties.as_object_mut() {
        map.insert("compiled_code".to_owned(), compiled.into());
        map.insert("compiled".to_owned(), true.into());
    }
    let context = [("sql", compiled), ("compiled_code", compiled)]
        .into_iter()
        .map(|(name, value)| (name, minijinja::Value::from(value)))
        .chain(values)
        .fold(
            context(node, resolver, options).with_model_properties(properties),
            |context, (name, value)| context.with_extra(name, value),
        );
    let name = format!("{} (materialization)", node.display_path.display());
    let call = format!("{{{{ {}.{}() }}}}", def.package, def.name);
    let context = Arc::new(context);
    let output = parsed.env.render(&name, &call, context.clone())?;
    Ok(Materialized {
        output,
        main: context.statement_result("main"),
    })
}

/// What a materialization macro left.
pub struct Materialized {
    pub output: String,
    /// The last result kept under the name `main` (dbt's adapter response for the model).
    pub main: Option<kiln_jinja::QueryResult>,
}

/// The ephemeral models that the nodes in `selected` use, directly or through other ephemeral
/// models (with the selected ones that are ephemeral themselves).
pub fn ephemeral_inputs(
    nodes: &BTreeMap<String, Node>,
    selected: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut found: BTreeSet<String> = selected
        .iter()
        .filter(|id| nodes.get(*id).is_some_and(Node::is_ephemeral))
        .cloned()
        .collect();
    let mut stack: Vec<&String> = selected.iter().collect();
    while let Some(id) = stack.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for parent in &node.depends_on {
            if nodes.get(parent).is_some_and(Node::is_ephemeral) && found.insert(parent.clone()) {
                stack.push(parent);
            }
        }
    }
    found
}

/// Compiles the nodes in `selected` (and the ephemeral models they use). Sets each node's
/// `compiled_code`.
pub fn compile(
    parsed: &mut Parsed,
    selected: &BTreeSet<String>,
    options: RenderOptions,
) -> Result<(), Diagnostics> {
    let started = Instant::now();
    let needed: BTreeSet<String> = selected
        .iter()
        .filter(|id| {
            parsed.nodes.get(*id).is_some_and(|n| {
                matches!(
                    n.resource_type,
                    ResourceType::Model
                        | ResourceType::Test
                        | ResourceType::Snapshot
                        | ResourceType::Analysis
                )
            })
        })
        .cloned()
        .chain(ephemeral_inputs(&parsed.nodes, selected))
        .collect();
    let resolver = resolver(parsed);
    let shared: &Parsed = parsed;
    let rendered: Vec<(String, Result<Compiled, Diagnostic>)> = needed
        .par_iter()
        .map(|id| {
            let node = &shared.nodes[id];
            let options = RenderOptions {
                incremental: options.incremental
                    && node.config.materialized == Materialization::Incremental,
                warehouse: options.warehouse.clone(),
                empty: options.empty,
                offline_fallback: options.offline_fallback,
                ..RenderOptions::default()
            };
            (
                id.clone(),
                render_for_compile(shared, node, &resolver, &options),
            )
        })
        .collect();
    let mut sink = DiagnosticSink::default();
    for (id, result) in rendered {
        match result {
            Ok((sql, warning)) => {
                if let Some(node) = parsed.nodes.get_mut(&id) {
                    node.compiled_code = Some(sql);
                }
                parsed.warnings.extend(warning);
            }
            Err(error) => sink.push(error),
        }
    }
    // A node that failed is reported; the others keep their SQL, as dbt compiles them (a node
    // whose ephemeral input failed has no complete SQL either).
    // `kiln compile` writes an ephemeral model with its own ephemeral inputs as CTEs, as dbt
    // does; a run keeps its bare SQL, which the models that use it inline.
    let injected: Vec<(String, Option<String>)> = needed
        .iter()
        .filter(|id| options.offline_fallback || !nodes_ephemeral(&parsed.nodes, id))
        .filter_map(|id| {
            let sql = parsed.nodes[id].compiled_code.as_deref()?;
            let complete = ephemeral_inputs_compiled(&parsed.nodes, id);
            Some((
                id.clone(),
                complete.then(|| with_ephemeral_ctes(&parsed.nodes, id, sql)),
            ))
        })
        .collect();
    for (id, sql) in injected {
        if let Some(node) = parsed.nodes.get_mut(&id) {
            node.compiled_code = sql;
        }
    }
    parsed.timings.compile = started.elapsed();
    sink.finish().map(|_| ())
}

/// Whether every ephemeral model node `id` reads (directly or through others) compiled.
fn ephemeral_inputs_compiled(nodes: &BTreeMap<String, Node>, id: &str) -> bool {
    nodes[id]
        .depends_on
        .iter()
        .all(|parent| match nodes.get(parent) {
            Some(node) if node.is_ephemeral() => {
                node.compiled_code.is_some() && ephemeral_inputs_compiled(nodes, parent)
            }
            _ => true,
        })
}

/// `sql` with the ephemeral models node `id` uses put in front as CTEs. The ephemeral models
/// must have been compiled.
pub fn with_ephemeral_ctes(nodes: &BTreeMap<String, Node>, id: &str, sql: &str) -> String {
    let ctes = ephemeral_ctes(nodes, id);
    if ctes.is_empty() {
        sql.to_owned()
    } else {
        inject_ctes(sql, &ctes)
    }
}

fn nodes_ephemeral(nodes: &BTreeMap<String, Node>, id: &str) -> bool {
    nodes.get(id).is_some_and(Node::is_ephemeral)
}

/// The ephemeral models a node uses, directly or through other ephemeral models, each before
/// the ones that use it: `(cte name, sql)`.
fn ephemeral_ctes(nodes: &BTreeMap<String, Node>, id: &str) -> Vec<(String, String)> {
    fn visit(
        nodes: &BTreeMap<String, Node>,
        id: &str,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<(String, String)>,
    ) {
        for parent in &nodes[id].depends_on {
            let Some(node) = nodes.get(parent).filter(|n| n.is_ephemeral()) else {
                continue;
            };
            if !seen.insert(parent.clone()) {
                continue;
            }
            visit(nodes, parent, seen, out);
            out.push((
                node.relation.identifier.clone(),
                node.compiled_code.clone().unwrap_or_default(),
            ));
        }
    }
    let mut out = Vec::new();
    visit(nodes, id, &mut BTreeSet::new(), &mut out);
    out
}

/// Puts CTEs in front of a query, as dbt does: merged into its `with` if it has one.
pub fn inject_ctes(sql: &str, ctes: &[(String, String)]) -> String {
    let joined: Vec<String> = ctes
        .iter()
        .map(|(name, body)| format!("{name} as (\n{}\n)", body.trim()))
        .collect();
    let joined = joined.join(", ");
    let start = leading_trivia_len(sql);
    let rest = &sql[start..];
    let starts_with_with = rest.len() >= 4
        && rest[..4].eq_ignore_ascii_case("with")
        && rest[4..].chars().next().is_none_or(|c| c.is_whitespace());
    if starts_with_with {
        format!("{}with {joined}, {}", &sql[..start], rest[4..].trim_start())
    } else {
        // As dbt does (sqlparse's first token): before a leading comment too.
        let start = sql.len() - sql.trim_start().len();
        format!("{}with {joined}\n{}", &sql[..start], &sql[start..])
    }
}

/// Length of leading whitespace and SQL comments.
pub fn leading_trivia_len(sql: &str) -> usize {
    let mut pos = 0;
    loop {
        let rest = &sql[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        if trimmed.starts_with("--") {
            pos += trimmed.find('\n').map_or(trimmed.len(), |n| n + 1);
        } else if trimmed.starts_with("/*") {
            pos += trimmed.find("*/").map_or(trimmed.len(), |n| n + 2);
        } else {
            return pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_refs_keep_the_model_s_own_alias() {
        let limited =
            "(select * from \"db\".\"s\".\"orders\" where false limit 0) _dbt_limit_subq_orders";
        assert_eq!(
            drop_doubled_aliases(&format!("select * from {limited} as o join x")),
            "select * from (select * from \"db\".\"s\".\"orders\" where false limit 0) as o join x"
        );
        assert_eq!(
            drop_doubled_aliases(&format!("select * from {limited} o")),
            "select * from (select * from \"db\".\"s\".\"orders\" where false limit 0) o"
        );
        for kept in [
            format!("select * from {limited}"),
            format!("select * from {limited} where a = 1"),
            format!("select * from {limited}\nleft join y using (id)"),
        ] {
            assert_eq!(drop_doubled_aliases(&kept), kept);
        }
    }

    #[test]
    fn ctes_merge_into_an_existing_with() {
        let ctes = vec![("__dbt__cte__a".to_owned(), "select 1 as x".to_owned())];
        assert_eq!(
            inject_ctes("-- note\nWITH b as (select 2) select * from b", &ctes),
            "-- note\nwith __dbt__cte__a as (\nselect 1 as x\n), b as (select 2) select * from b"
        );
        assert_eq!(
            inject_ctes("select * from __dbt__cte__a", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nselect * from __dbt__cte__a"
        );
        assert_eq!(
            inject_ctes("without_with", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nwithout_with"
        );
    }
}
