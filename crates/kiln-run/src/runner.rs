//! `kiln run`, `kiln seed`, `kiln test` and `kiln build`: the selected nodes, executed in
//! dependency order on the warehouse, with the project's `on-run-start` / `on-run-end` hooks
//! around them.
//!
//! The [`Executor`] holds what every node's execution shares (connections per worker, schemas
//! created, the invocation's suffix); each kind of node runs in a module of its own:
//! [`crate::models`], [`crate::test_verdict`], [`crate::seeds`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use kiln_adapter::catalog::{self, RelationKind};
use kiln_adapter::{Adapter, AdapterError};
use kiln_compile::manifest::{compiled_path, write_if_changed};
use kiln_compile::{Parsed, RenderOptions};
use kiln_core::{Node, Relation, ResourceType};
use kiln_jinja::Resolver;
use kiln_project::Project;

use crate::connection::SharedConnection;
use crate::error::RunError;
use crate::events::{Event, Reporter};
use crate::hooks::run_hooks;
use crate::materialize::{self, Build, Hook, PostHooks};
use crate::plan::plan;
use crate::results::{NodeResult, RunResults, Status};
use crate::scheduler::{self, Cancel, Execute};

/// How to run. What the command line changes in nodes' configs (`--full-refresh`,
/// `--store-failures`) is already in each node's resolved config.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub threads: usize,
    pub fail_fast: bool,
    /// Makes temporary relation names unique to this invocation.
    pub invocation_id: String,
    /// `--empty`: models are built from refs and sources that read no rows.
    pub empty: bool,
    /// `--event-time-start` / `--event-time-end`: microbatch models build this window.
    pub event_time: Option<(jiff::civil::DateTime, jiff::civil::DateTime)>,
}

/// What every node's execution in one run shares.
pub(crate) struct Executor<'a> {
    pub(crate) parsed: &'a Parsed,
    pub(crate) project: &'a Project,
    adapter: &'a dyn Adapter,
    pub(crate) options: &'a RunOptions,
    cancel: &'a Cancel,
    reporter: &'a dyn Reporter,
    pub(crate) resolver: Arc<dyn Resolver>,
    connections: Mutex<BTreeMap<usize, SharedConnection>>,
    /// Schemas known to exist, so each is created once per run.
    schemas: Mutex<BTreeSet<String>>,
    /// Relations (`schema`, `name`) this run builds: dependent views that may be dropped.
    rebuilt_later: BTreeSet<(String, String)>,
    total: usize,
    /// Makes temporary relation names unique to this invocation.
    suffix: String,
    /// The relations of the run's schemas as the catalog had them before the first build (or
    /// `None` if the question failed), asked once for the whole run.
    catalog: OnceLock<Option<catalog::RelationsByName>>,
}

impl Executor<'_> {
    /// The worker's connection, opened on first use.
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

    /// After a node failed: if its connection no longer answers (the server ended the session,
    /// the network dropped), forget it, so that the worker's next node gets a new one instead
    /// of failing on the dead one.
    fn replace_if_broken(&self, worker: usize) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let broken = connections
            .get(&worker)
            .is_some_and(|conn| conn.lock().execute("select 1").is_err());
        if broken {
            connections.remove(&worker);
        }
    }

    /// Renders a node for execution (ephemeral models inlined), writes the SQL under
    /// `target/compiled/` and records it in the node's result.
    pub(crate) fn render_to_run(
        &self,
        node: &Node,
        options: &RenderOptions,
        result: &mut NodeResult,
    ) -> Result<String, RunError> {
        let rendered = kiln_compile::render(self.parsed, node, &self.resolver, options)?;
        let sql = kiln_compile::with_ephemeral_ctes(&self.parsed.nodes, &node.unique_id, &rendered);
        let path = compiled_path(&self.project.file().target_path, node);
        let full = self.project.root.join(&path);
        // The compiled file is for people to read; failing to write it does not fail the node.
        // A file already holding this SQL (the nightly case) is left as it is.
        if write_if_changed(&full, &sql).is_err() {
            let _ = full.parent().map(std::fs::create_dir_all);
            let _ = std::fs::write(&full, &sql);
        }
        result.compiled_code = Some(sql.clone());
        result.compiled_path = Some(path.display().to_string());
        Ok(sql)
    }

    /// Creates the schema of `relation` the first time this run needs it.
    pub(crate) fn ensure_schema(
        &self,
        conn: &SharedConnection,
        relation: &Relation,
    ) -> Result<(), RunError> {
        let schema = relation.schema_or_public().to_owned();
        let known = |schemas: &Mutex<BTreeSet<String>>| {
            schemas
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&schema)
        };
        if known(&self.schemas) {
            return Ok(());
        }
        materialize::create_schema(conn, &schema)?;
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(schema);
        Ok(())
    }

    /// How a node renders when it runs: on `conn`, with this run's `--empty`.
    pub(crate) fn render_options(
        &self,
        conn: &SharedConnection,
        incremental: bool,
    ) -> RenderOptions {
        let warehouse: Arc<dyn kiln_jinja::Warehouse> = Arc::new(conn.clone());
        RenderOptions {
            incremental,
            warehouse: Some(warehouse),
            empty: self.options.empty,
            ..RenderOptions::default()
        }
    }

    /// What the catalog said of `relation` before the run's first build.
    fn known(
        &self,
        conn: &SharedConnection,
        relation: &Relation,
    ) -> Option<Option<(RelationKind, bool)>> {
        let catalog = self.catalog.get_or_init(|| {
            let schemas: BTreeSet<&str> =
                self.rebuilt_later.iter().map(|(s, _)| s.as_str()).collect();
            let schemas: Vec<&str> = schemas.into_iter().collect();
            catalog::relations_in_schemas(conn.lock().as_mut(), &schemas).ok()
        });
        let key = (
            relation.schema.clone().unwrap_or_default(),
            relation.identifier.clone(),
        );
        // Only relations of the run's schemas were asked about.
        let asked = self
            .rebuilt_later
            .iter()
            .any(|(schema, _)| *schema == key.0);
        match catalog {
            Some(known) if asked => Some(known.get(&key).copied()),
            _ => None,
        }
    }

    /// What to build for `node`, with this run's suffix and knowledge of what it rebuilds.
    pub(crate) fn build<'b>(
        &'b self,
        conn: &SharedConnection,
        node: &'b Node,
        sql: &'b str,
        pre_hooks: &'b [Hook],
        post_hooks: PostHooks<'b>,
    ) -> Build<'b> {
        Build {
            relation: &node.relation,
            sql,
            pre_hooks,
            post_hooks,
            indexes: &node.config.indexes,
            docs: persisted_docs(node),
            grants: grants(node),
            suffix: &self.suffix,
            rebuilt_later: &self.rebuilt_later,
            statement_timeout: node.config.other.get("statement_timeout").map(|value| {
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned)
            }),
            sql_header: node
                .config
                .other
                .get("sql_header")
                .and_then(|header| header.as_str())
                .map(str::to_owned),
            known: self.known(conn, &node.relation),
            pending: RefCell::default(),
            swapped_on_known: Cell::new(false),
            trust_known: Cell::new(true),
        }
    }
}

/// The node's `grants` config: privilege to roles, each role named as PostgreSQL stores it (an
/// unquoted name folded to lower case, a quoted one as written). A privilege may list its
/// roles or name one.
fn grants(node: &Node) -> materialize::Grants {
    let role = |written: &str| {
        let written = written.trim();
        match written.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => written.to_lowercase(),
        }
    };
    let Some(config) = node.config.other.get("grants").and_then(|g| g.as_object()) else {
        return BTreeMap::new();
    };
    config
        .iter()
        .map(|(privilege, roles)| {
            let roles = match roles {
                serde_json::Value::String(one) => BTreeSet::from([role(one)]),
                serde_json::Value::Array(many) => {
                    many.iter().filter_map(|r| r.as_str()).map(role).collect()
                }
                _ => BTreeSet::new(),
            };
            // `+select` in a single layer (nothing to add to) is `select`.
            (privilege.trim_start_matches('+').to_lowercase(), roles)
        })
        .collect()
}

/// What the node's `persist_docs` config asks to write as comments.
fn persisted_docs(node: &Node) -> materialize::Docs {
    let asked = |key: &str| {
        node.config
            .other
            .get("persist_docs")
            .and_then(|p| p.get(key))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    materialize::Docs {
        relation: (asked("relation") && !node.description.is_empty())
            .then(|| node.description.clone()),
        columns: if asked("columns") {
            node.columns
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.quote.unwrap_or(false),
                        c.description.clone(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

impl Execute for Executor<'_> {
    fn start(&self, _worker: usize, index: usize, id: &str) {
        self.reporter.report(Event::Start {
            index,
            total: self.total,
            node: &self.parsed.nodes[id],
        });
    }

    fn execute(&self, worker: usize, id: &str) -> NodeResult {
        let node = &self.parsed.nodes[id];
        let started_at = jiff::Timestamp::now();
        let started = Instant::now();
        let mut result = NodeResult::new(id, Status::Success, "");
        result.thread_id = format!("Thread-{}", worker + 1);
        result.relation_name = Some(node.relation.to_string());
        if matches!(
            node.resource_type,
            ResourceType::Test | ResourceType::UnitTest
        ) {
            result.relation_name = None;
            let ran = self
                .connection(worker)
                .map_err(RunError::from)
                .and_then(|conn| match node.resource_type {
                    ResourceType::UnitTest => self.run_unit_test(node, &conn, &mut result),
                    _ => self.run_test(node, &conn, &mut result),
                });
            if let Err(error) = ran {
                result.status = Status::Error;
                result.message = error.to_string();
                self.replace_if_broken(worker);
            }
            return result.timed(started_at, started.elapsed());
        }
        let outcome = self
            .connection(worker)
            .map_err(RunError::from)
            .and_then(|conn| match node.resource_type {
                ResourceType::Seed => self.run_seed(node, &conn),
                ResourceType::Snapshot => self.run_snapshot(node, &conn, &mut result),
                _ => self.run_model(node, &conn, &mut result),
            });
        match outcome {
            Ok(outcome) => {
                result.message = outcome.message;
                result.rows_affected = outcome.rows_affected;
                if !outcome.recreated.is_empty() {
                    self.reporter.report(Event::RecreatedViews {
                        node,
                        views: &outcome.recreated,
                    });
                }
            }
            Err(_) if self.cancel.was_interrupted() => {
                result.status = Status::Error;
                result.message = "interrupted".to_owned();
            }
            Err(error) => {
                result.status = Status::Error;
                result.message = error.to_string();
                self.replace_if_broken(worker);
            }
        }
        result.timed(started_at, started.elapsed())
    }

    fn finish(&self, index: usize, result: &NodeResult) {
        self.reporter.report(Event::Finish {
            index,
            total: self.total,
            node: &self.parsed.nodes[&result.unique_id],
            result,
        });
    }

    fn skipped(&self, result: &NodeResult) {
        self.finish(0, result);
    }
}

/// Runs the selected models, seeds and tests, with the project's `on-run-start` and
/// `on-run-end` hooks around them.
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
        &run_hooks_of(project, |file| &file.on_run_start),
        &[],
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
        total: jobs.len(),
        suffix: options
            .invocation_id
            .replace('-', "")
            .chars()
            .take(8)
            .collect(),
        catalog: OnceLock::new(),
    };
    results.results = scheduler::run(
        &jobs,
        executor.options.threads,
        executor.options.fail_fast,
        cancel,
        &executor,
    );
    if !cancel.was_interrupted()
        && !run_hooks(
            parsed,
            adapter,
            "on-run-end",
            &run_hooks_of(project, |file| &file.on_run_end),
            &end_of_run_values(parsed, project, &jobs, &results),
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

/// What dbt's `on-run-end` context has: `results` (each node's result) and the schemas the run
/// built in, as `schemas` and `database_schemas`. Made only when there are hooks to render.
fn end_of_run_values(
    parsed: &Parsed,
    project: &Project,
    jobs: &[crate::scheduler::Job],
    results: &RunResults,
) -> Vec<(&'static str, serde_json::Value)> {
    if run_hooks_of(project, |file| &file.on_run_end).is_empty() {
        return Vec::new();
    }
    // A node's config in dbt's results is an object that answers None for a key it lacks
    // (`test.node.config.full_refresh`); here the keys a model's config has are filled in.
    let model_keys: Vec<String> = parsed
        .nodes
        .values()
        .find(|node| node.resource_type == kiln_core::ResourceType::Model)
        .map(|node| kiln_compile::manifest::node_json(node, project))
        .and_then(|json| {
            json["config"]
                .as_object()
                .map(|c| c.keys().cloned().collect())
        })
        .unwrap_or_default();
    let results = results.for_hooks(|id| {
        let mut json = kiln_compile::manifest::node_json(parsed.nodes.get(id)?, project);
        if let Some(config) = json["config"].as_object_mut() {
            for key in &model_keys {
                config.entry(key.clone()).or_insert(serde_json::Value::Null);
            }
        }
        Some(json)
    });
    let built: BTreeSet<(String, String)> = jobs
        .iter()
        .filter_map(|job| parsed.nodes.get(&job.id))
        .filter(|node| {
            matches!(
                node.resource_type,
                kiln_core::ResourceType::Model
                    | kiln_core::ResourceType::Seed
                    | kiln_core::ResourceType::Snapshot
            ) && !node.is_ephemeral()
        })
        .filter_map(|node| {
            Some((
                node.relation.database.clone().unwrap_or_default(),
                node.relation.schema.clone()?,
            ))
        })
        .collect();
    let schemas: BTreeSet<&String> = built.iter().map(|(_, schema)| schema).collect();
    vec![
        ("results", results),
        ("schemas", serde_json::json!(schemas)),
        ("database_schemas", serde_json::json!(built)),
    ]
}

/// A run's `on-run-start` or `on-run-end` hooks, as dbt 1.11 orders them: the root project's,
/// then every package's (by package name), each in the order written.
fn run_hooks_of(
    project: &Project,
    hooks: impl Fn(&kiln_project::project_file::ProjectFile) -> &Vec<String>,
) -> Vec<String> {
    let mut packages: Vec<&kiln_project::Package> = project.packages.iter().collect();
    packages.sort_by_key(|package| (!package.is_root, package.name.clone()));
    packages
        .into_iter()
        .flat_map(|package| hooks(&package.file).iter().cloned())
        .collect()
}
