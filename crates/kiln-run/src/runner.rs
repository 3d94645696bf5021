//! `kiln run`, `kiln seed` and `kiln build`: the selected models and seeds, materialized in
//! dependency order on the warehouse.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use kiln_adapter::{Adapter, AdapterError};
use kiln_compile::manifest::compiled_path;
use kiln_compile::{Node, Parsed, RenderOptions};
use kiln_graph::ResourceType;
use kiln_jinja::{NodeContext, NodeInfo, Phase, Relation, Resolver, Warehouse};
use kiln_project::{Project, RawConfig};

use crate::events::{Event, Reporter};
use crate::materialize::{self, Build, Hook, Incremental};
use crate::results::{NodeResult, RunResults, Status};
use crate::scheduler::{self, Cancel, Execute, Job};
use crate::seed;
use crate::warehouse::{SharedConnection, existing_kind};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub threads: usize,
    pub full_refresh: bool,
    pub fail_fast: bool,
    /// Makes temporary relation names unique to this invocation.
    pub invocation_id: String,
    /// Keep the failing rows of every test in a table (`--store-failures`).
    pub store_failures: bool,
}

/// The jobs for `selected`: models (not ephemeral ones) and seeds, each waiting for the nearest
/// selected nodes it depends on (through ephemeral or unselected nodes too).
pub fn plan(parsed: &Parsed, selected: &BTreeSet<String>) -> Vec<Job> {
    let runnable = |id: &str| {
        parsed.nodes.get(id).is_some_and(|n| match n.resource_type {
            ResourceType::Model => !n.is_ephemeral(),
            ResourceType::Seed | ResourceType::Test => true,
            _ => false,
        })
    };
    let in_plan: BTreeSet<&str> = selected
        .iter()
        .map(String::as_str)
        .filter(|id| runnable(id))
        .collect();
    // A source that one of this run's seeds loads (same schema and name): its readers wait
    // for the seed, so `kiln build` can load raw data and build on it in one go.
    let relation_key = |n: &Node| {
        (
            n.relation.schema.clone().unwrap_or_default(),
            n.relation.identifier.clone(),
        )
    };
    let seeds_by_relation: BTreeMap<(String, String), &str> = in_plan
        .iter()
        .filter_map(|id| parsed.nodes.get(*id))
        .filter(|n| n.resource_type == ResourceType::Seed)
        .map(|n| (relation_key(n), n.unique_id.as_str()))
        .collect();
    let jobs = parsed
        .graph
        .topological_order()
        .into_iter()
        .filter(|id| in_plan.contains(id))
        .map(|id| {
            let mut parents = BTreeSet::new();
            let mut stack: Vec<&str> = parsed.nodes[id]
                .depends_on
                .iter()
                .map(String::as_str)
                .collect();
            let mut seen = BTreeSet::new();
            while let Some(parent) = stack.pop() {
                if !seen.insert(parent) {
                    continue;
                }
                if in_plan.contains(parent) {
                    parents.insert(parent.to_owned());
                } else if let Some(node) = parsed.nodes.get(parent) {
                    if node.resource_type == ResourceType::Source
                        && let Some(seed) = seeds_by_relation.get(&relation_key(node))
                    {
                        parents.insert((*seed).to_owned());
                    }
                    stack.extend(node.depends_on.iter().map(String::as_str));
                }
            }
            Job {
                id: id.to_owned(),
                parents,
            }
        })
        .collect();
    wait_for_tests(parsed, jobs)
}

/// In a build, what depends on a model waits for the model's tests (those declared on it, its
/// "attached" tests, as in dbt), so that a failing test stops bad data from flowing downstream.
/// A test that itself depends on the waiting node (a relationships test pointing downstream) is
/// left out, and if waiting would still make a cycle, multi-parent tests do not hold anything.
fn wait_for_tests(parsed: &Parsed, jobs: Vec<Job>) -> Vec<Job> {
    let tests: Vec<(&str, &str, bool)> = jobs
        .iter()
        .filter_map(|j| {
            let node = parsed.nodes.get(&j.id)?;
            let attached = node.test.as_ref()?.attached_node.as_deref()?;
            Some((j.id.as_str(), attached, j.parents.len() > 1))
        })
        .collect();
    let plan = |only_single_parent: bool| -> Vec<Job> {
        let mut jobs = jobs.clone();
        for job in jobs.iter_mut().filter(|j| !j.id.starts_with("test.")) {
            for (test, attached, multi_parent) in &tests {
                if only_single_parent && *multi_parent {
                    continue;
                }
                let depends_on_job = parsed
                    .graph
                    .reachable(test, kiln_graph::Direction::Incoming, None)
                    .contains(&job.id);
                if job.parents.contains(*attached) && !depends_on_job {
                    job.parents.insert((*test).to_owned());
                }
            }
        }
        jobs
    };
    let waiting = plan(false);
    if has_cycle(&waiting) {
        plan(true)
    } else {
        waiting
    }
}

/// Whether jobs wait for each other in a circle.
fn has_cycle(jobs: &[Job]) -> bool {
    let parents: BTreeMap<&str, &BTreeSet<String>> =
        jobs.iter().map(|j| (j.id.as_str(), &j.parents)).collect();
    let mut remaining: BTreeMap<&str, usize> = jobs
        .iter()
        .map(|j| (j.id.as_str(), j.parents.len()))
        .collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, ps) in &parents {
        for p in ps.iter() {
            children.entry(p.as_str()).or_default().push(id);
        }
    }
    let mut ready: Vec<&str> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    let mut done = 0;
    while let Some(id) = ready.pop() {
        done += 1;
        for child in children.get(id).cloned().unwrap_or_default() {
            if let Some(n) = remaining.get_mut(child) {
                *n -= 1;
                if *n == 0 {
                    ready.push(child);
                }
            }
        }
    }
    done < jobs.len()
}

/// A description for output: `sql view model analytics.stg_orders`, `seed file raw.countries`.
pub fn describe(node: &Node) -> String {
    let relation = format!(
        "{}.{}",
        node.relation.schema.as_deref().unwrap_or(""),
        node.relation.identifier
    );
    match node.resource_type {
        ResourceType::Seed => format!("seed file {relation}"),
        ResourceType::Test => format!("test {}", node.name),
        _ => format!("sql {} model {relation}", node.config.materialized),
    }
}

struct Executor<'a> {
    parsed: &'a Parsed,
    project: &'a Project,
    adapter: &'a dyn Adapter,
    options: &'a RunOptions,
    cancel: &'a Cancel,
    reporter: &'a dyn Reporter,
    resolver: Arc<dyn Resolver>,
    connections: Mutex<BTreeMap<usize, SharedConnection>>,
    /// Schemas known to exist, so each is created once per run.
    schemas: Mutex<BTreeSet<String>>,
    rebuilt_later: BTreeSet<(String, String)>,
    descriptions: BTreeMap<String, String>,
    total: usize,
    suffix: String,
}

impl Executor<'_> {
    fn connection(&self, worker: usize) -> Result<SharedConnection, AdapterError> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(connection) = connections.get(&worker) {
            return Ok(connection.clone());
        }
        let connection = self.adapter.connect()?;
        self.cancel.register(worker, connection.canceller());
        let shared = SharedConnection::new(connection);
        connections.insert(worker, shared.clone());
        Ok(shared)
    }

    /// Renders a node for execution (ephemeral models inlined), writes the SQL under
    /// `target/compiled/` and records it in the node's result.
    fn render_to_run(
        &self,
        node: &Node,
        options: &RenderOptions,
        result: &mut NodeResult,
    ) -> Result<String, String> {
        let rendered = kiln_compile::render(self.parsed, node, &self.resolver, options)
            .map_err(|d| d.to_string())?;
        let sql = kiln_compile::with_ephemeral_ctes(&self.parsed.nodes, &node.unique_id, &rendered);
        let path = compiled_path(&self.project.file().target_path, node);
        let full = self.project.root.join(&path);
        // The compiled file is for people to read; failing to write it does not fail the node.
        let _ = full.parent().map(std::fs::create_dir_all);
        let _ = std::fs::write(&full, &sql);
        result.compiled_code = Some(sql.clone());
        result.compiled_path = Some(path.display().to_string());
        Ok(sql)
    }

    /// Creates the schema of `relation` the first time this run needs it.
    fn ensure_schema(&self, conn: &SharedConnection, relation: &Relation) -> Result<(), String> {
        let schema = relation
            .schema
            .clone()
            .unwrap_or_else(|| "public".to_owned());
        if self
            .schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&schema)
        {
            return Ok(());
        }
        materialize::create_schema(conn, &schema).map_err(|e| e.full_message())?;
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(schema);
        Ok(())
    }

    fn run_model(
        &self,
        node: &Node,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<materialize::Outcome, String> {
        // Only an incremental model needs to know what exists before it renders.
        let existing = if node.config.materialized == "incremental" {
            existing_kind(conn, &node.relation).map_err(|e| e.full_message())?
        } else {
            None
        };
        let full_refresh = node
            .config
            .full_refresh
            .unwrap_or(self.options.full_refresh);
        let incremental = node.config.materialized == "incremental"
            && existing == Some(kiln_adapter::catalog::RelationKind::Table)
            && !full_refresh;
        let warehouse: Arc<dyn Warehouse> = Arc::new(conn.clone());
        let options = RenderOptions {
            incremental,
            warehouse: Some(warehouse),
        };
        let sql = self.render_to_run(node, &options, result)?;
        let (pre_hooks, post_hooks) = self.hooks(node, &options)?;
        let build = Build {
            relation: &node.relation,
            sql: &sql,
            pre_hooks: &pre_hooks,
            post_hooks: &post_hooks,
            suffix: &self.suffix,
            rebuilt_later: &self.rebuilt_later,
        };
        self.ensure_schema(conn, &node.relation)?;
        let outcome = match node.config.materialized.as_str() {
            "view" => materialize::view(conn, &build),
            "table" => materialize::table(conn, &build),
            "incremental" if incremental => {
                let settings = Incremental {
                    strategy: node.config.incremental_strategy.clone().unwrap_or_else(|| {
                        if node.config.unique_key.is_empty() {
                            "append"
                        } else {
                            "delete+insert"
                        }
                        .to_owned()
                    }),
                    unique_key: node.config.unique_key.clone(),
                    on_schema_change: node.config.on_schema_change.clone(),
                    predicates: node.config.incremental_predicates.clone(),
                };
                materialize::incremental(conn, &build, &settings)
            }
            "incremental" => materialize::table(conn, &build),
            other => Err(AdapterError::Other(format!(
                "materialization `{other}` cannot run"
            ))),
        };
        outcome.map_err(|e| e.full_message())
    }

    /// Runs a data test: counts its failing rows and decides pass, warn or fail as dbt does
    /// (`fail_calc`, `warn_if`, `error_if`, `severity`); keeps a few failing rows to show.
    fn run_test(
        &self,
        node: &Node,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<(), String> {
        let warehouse: Arc<dyn Warehouse> = Arc::new(conn.clone());
        let options = RenderOptions {
            incremental: false,
            warehouse: Some(warehouse),
        };
        let sql = self.render_to_run(node, &options, result)?;
        let setting = |key: &str, default: &str| {
            node.config
                .other
                .get(key)
                .and_then(|v| v.as_str())
                .map_or_else(|| default.to_owned(), str::to_owned)
        };
        let fail_calc = setting("fail_calc", "count(*)");
        let warn_if = setting("warn_if", "!= 0");
        let error_if = setting("error_if", "!= 0");
        let limit = node
            .config
            .other
            .get("limit")
            .and_then(serde_json::Value::as_u64);
        let store = node
            .config
            .other
            .get("store_failures")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(self.options.store_failures);
        let mut failing_rows = sql.trim().trim_end_matches(';').to_owned();
        if store {
            let build = Build {
                relation: &node.relation,
                sql: &failing_rows,
                pre_hooks: &[],
                post_hooks: &[],
                suffix: &self.suffix,
                rebuilt_later: &self.rebuilt_later,
            };
            self.ensure_schema(conn, &node.relation)?;
            materialize::table(conn, &build).map_err(|e| e.full_message())?;
            failing_rows = format!("select * from {}", node.relation);
            result.relation_name = Some(node.relation.to_string());
        }
        if let Some(limit) = limit {
            failing_rows = format!("select * from (\n{failing_rows}\n) dbt_limited limit {limit}");
        }
        let check = format!(
            "select {fail_calc} as failures, {fail_calc} {warn_if} as should_warn, {fail_calc} {error_if} as should_error \
             from (\n{failing_rows}\n) dbt_internal_test"
        );
        let table = conn.lock().query(&check).map_err(|e| e.full_message())?;
        let row = table
            .rows
            .first()
            .ok_or("the test's count returned no row")?;
        let failures = row
            .first()
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0);
        let flag = |i: usize| {
            row.get(i)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        let (should_warn, should_error) = (flag(1), flag(2));
        result.failures = Some(failures);
        let plural = if failures == 1 { "" } else { "s" };
        (result.status, result.message) = if node.config.severity == "ERROR" && should_error {
            (
                Status::Fail,
                format!("Got {failures} result{plural}, configured to fail if {error_if}"),
            )
        } else if should_warn {
            (
                Status::Warn,
                format!("Got {failures} result{plural}, configured to warn if {warn_if}"),
            )
        } else {
            (Status::Pass, "PASS".to_owned())
        };
        if store && failures > 0 {
            result
                .message
                .push_str(&format!("\nfailing rows are stored in {}", node.relation));
        }
        if result.status != Status::Pass {
            let sample = conn
                .lock()
                .query(&format!(
                    "select * from (\n{failing_rows}\n) dbt_sample limit 5"
                ))
                .map_err(|e| e.full_message())?;
            result.sample = Some((sample.columns, sample.texts));
        }
        Ok(())
    }

    /// The node's pre- and post-hooks, rendered.
    fn hooks(
        &self,
        node: &Node,
        options: &RenderOptions,
    ) -> Result<(Vec<Hook>, Vec<Hook>), String> {
        let render = |which: &str, hooks: &[kiln_project::config::Hook]| {
            hooks
                .iter()
                .map(|hook| {
                    let sql = kiln_compile::render_snippet(
                        self.parsed,
                        node,
                        which,
                        hook.sql(),
                        &self.resolver,
                        options,
                    )
                    .map_err(|d| d.to_string())?;
                    let transaction = !matches!(
                        hook,
                        kiln_project::config::Hook::Detailed {
                            transaction: false,
                            ..
                        }
                    );
                    Ok(Hook { sql, transaction })
                })
                .collect::<Result<Vec<Hook>, String>>()
        };
        Ok((
            render("pre-hook", &node.config.pre_hook)?,
            render("post-hook", &node.config.post_hook)?,
        ))
    }

    fn run_seed(
        &self,
        node: &Node,
        conn: &SharedConnection,
    ) -> Result<materialize::Outcome, String> {
        let package = self
            .project
            .package(&node.package)
            .ok_or("the seed's package is not loaded")?;
        let path = package.dir.join(&node.original_file_path);
        let delimiter = node
            .config
            .other
            .get("delimiter")
            .and_then(|d| d.as_str())
            .and_then(|d| d.bytes().next())
            .unwrap_or(b',');
        let data = seed::read(
            &path,
            &node.config.column_types,
            node.config.quote_columns.unwrap_or(false),
            delimiter,
        )?;
        let warehouse: Arc<dyn Warehouse> = Arc::new(conn.clone());
        let options = RenderOptions {
            incremental: false,
            warehouse: Some(warehouse),
        };
        let (pre_hooks, post_hooks) = self.hooks(node, &options)?;
        let build = Build {
            relation: &node.relation,
            sql: "",
            pre_hooks: &pre_hooks,
            post_hooks: &post_hooks,
            suffix: &self.suffix,
            rebuilt_later: &self.rebuilt_later,
        };
        let delimiter = kiln_adapter::catalog::literal(&(delimiter as char).to_string());
        let options = format!("format csv, header true, delimiter {delimiter}");
        self.ensure_schema(conn, &node.relation)?;
        materialize::copied_table(conn, &build, &data.columns, &options, &data.data)
            .map_err(|e| e.full_message())
    }
}

impl Execute for Executor<'_> {
    fn start(&self, _worker: usize, index: usize, id: &str) {
        let description = &self.descriptions[id];
        self.reporter.report(Event::Start {
            index,
            total: self.total,
            unique_id: id,
            description,
        });
    }

    fn execute(&self, worker: usize, id: &str) -> NodeResult {
        let node = &self.parsed.nodes[id];
        let started_at = jiff::Timestamp::now();
        let started = Instant::now();
        let mut result = NodeResult::new(id, Status::Success, "");
        result.thread_id = format!("Thread-{}", worker + 1);
        result.relation_name = Some(node.relation.to_string());
        if node.resource_type == ResourceType::Test {
            result.relation_name = None;
            let ran = self
                .connection(worker)
                .map_err(|e| e.to_string())
                .and_then(|conn| self.run_test(node, &conn, &mut result));
            if let Err(message) = ran {
                result.status = Status::Error;
                result.message = message;
            }
            return result.timed(started_at, started.elapsed());
        }
        let outcome =
            self.connection(worker)
                .map_err(|e| e.to_string())
                .and_then(|conn| match node.resource_type {
                    ResourceType::Seed => self.run_seed(node, &conn),
                    _ => self.run_model(node, &conn, &mut result),
                });
        match outcome {
            Ok(outcome) => {
                result.message = outcome.message;
                result.rows_affected = outcome.rows_affected;
                if !outcome.recreated.is_empty() {
                    self.reporter.report(Event::Warning {
                        message: format!(
                            "{}: recreated the dependent view(s) {} on the new version",
                            node.name,
                            outcome.recreated.join(", ")
                        ),
                    });
                }
            }
            Err(_) if self.cancel.was_interrupted() => {
                result.status = Status::Error;
                result.message = "interrupted".to_owned();
            }
            Err(message) => {
                result.status = Status::Error;
                result.message = message;
            }
        }
        result.timed(started_at, started.elapsed())
    }

    fn finish(&self, index: usize, result: &NodeResult) {
        let description = &self.descriptions[&result.unique_id];
        self.reporter.report(Event::Finish {
            index,
            total: self.total,
            description,
            result,
        });
    }

    fn skipped(&self, result: &NodeResult) {
        let description = &self.descriptions[&result.unique_id];
        self.reporter.report(Event::Finish {
            index: 0,
            total: self.total,
            description,
            result,
        });
    }
}

/// Runs an `on-run-start` / `on-run-end` hook.
fn run_hook(parsed: &Parsed, conn: &SharedConnection, name: &str, sql: &str) -> Result<(), String> {
    let info = NodeInfo {
        unique_id: format!(
            "operation.{0}.{0}-{name}",
            parsed.env.registry().packages().next().unwrap_or("project")
        ),
        name: name.to_owned(),
        package: String::new(),
        resource_type: "operation".to_owned(),
        original_file_path: String::new(),
        fqn: vec![name.to_owned()],
    };
    let this = Relation::new(parsed.profile.database(), parsed.profile.schema(), name);
    let warehouse: Arc<dyn Warehouse> = Arc::new(conn.clone());
    let context = NodeContext::new(
        Phase::Compile,
        info,
        this,
        RawConfig::default(),
        serde_json::json!({}),
        kiln_compile::resolver(parsed),
    )
    .with_warehouse(warehouse);
    let rendered = parsed
        .env
        .render(name, sql, Arc::new(context))
        .map_err(|d| d.to_string())?;
    if rendered.trim().is_empty() {
        return Ok(());
    }
    conn.lock()
        .execute(&rendered)
        .map(|_| ())
        .map_err(|e| e.full_message())
}

fn run_hooks(
    parsed: &Parsed,
    adapter: &dyn Adapter,
    name: &str,
    hooks: &[String],
    reporter: &dyn Reporter,
) -> bool {
    if hooks.is_empty() {
        return true;
    }
    let conn = match adapter.connect() {
        Ok(conn) => SharedConnection::new(conn),
        Err(error) => {
            reporter.report(Event::Hook {
                name,
                ok: false,
                message: error.to_string(),
            });
            return false;
        }
    };
    for (i, sql) in hooks.iter().enumerate() {
        let label = format!("{name}.{i}");
        match run_hook(parsed, &conn, &label, sql) {
            Ok(()) => reporter.report(Event::Hook {
                name: &label,
                ok: true,
                message: "OK".to_owned(),
            }),
            Err(message) => {
                reporter.report(Event::Hook {
                    name: &label,
                    ok: false,
                    message,
                });
                return false;
            }
        }
    }
    true
}

/// Runs the selected models and seeds, with the project's `on-run-start` and `on-run-end`
/// hooks around them.
pub fn run(
    parsed: &Parsed,
    project: &Project,
    adapter: &dyn Adapter,
    selected: &BTreeSet<String>,
    options: &RunOptions,
    cancel: &Cancel,
    reporter: &dyn Reporter,
) -> RunResults {
    let started = Instant::now();
    let jobs = plan(parsed, selected);
    let mut results = RunResults::default();
    if !run_hooks(
        parsed,
        adapter,
        "on-run-start",
        &project.file().on_run_start,
        reporter,
    ) {
        results.results = jobs
            .iter()
            .map(|j| NodeResult::new(&j.id, Status::Skipped, "skipped: on-run-start failed"))
            .collect();
        results.results.push(NodeResult::new(
            "operation.on-run-start",
            Status::Error,
            "on-run-start failed",
        ));
        results.elapsed = started.elapsed();
        return results;
    }
    let rebuilt_later = jobs
        .iter()
        .filter_map(|job| parsed.nodes.get(&job.id))
        .map(|n| {
            (
                n.relation.schema.clone().unwrap_or_default(),
                n.relation.identifier.clone(),
            )
        })
        .collect();
    let executor = Executor {
        parsed,
        project,
        adapter,
        options,
        cancel,
        reporter,
        resolver: kiln_compile::resolver(parsed),
        connections: Mutex::new(BTreeMap::new()),
        schemas: Mutex::new(BTreeSet::new()),
        rebuilt_later,
        descriptions: jobs
            .iter()
            .map(|j| (j.id.clone(), describe(&parsed.nodes[&j.id])))
            .collect(),
        total: jobs.len(),
        suffix: options
            .invocation_id
            .replace('-', "")
            .chars()
            .take(8)
            .collect(),
    };
    results.results = scheduler::run(&jobs, options.threads, options.fail_fast, cancel, &executor);
    if !cancel.was_interrupted()
        && !run_hooks(
            parsed,
            adapter,
            "on-run-end",
            &project.file().on_run_end,
            reporter,
        )
    {
        results.results.push(NodeResult::new(
            "operation.on-run-end",
            Status::Error,
            "on-run-end failed",
        ));
    }
    results.interrupted = cancel.was_interrupted();
    results.elapsed = started.elapsed();
    results
}
