//! What happened to each node, and `target/run_results.json` (shaped after dbt's v6).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// How a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Error,
    Skipped,
    /// A test that passed.
    Pass,
    /// A test that failed with severity error.
    Fail,
    /// A test that failed with severity warn.
    Warn,
}

impl Status {
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Error | Status::Fail)
    }
}

/// One node's result.
#[derive(Debug, Clone, Serialize)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: Status,
    /// What the line says: `CREATE VIEW`, `INSERT 12`, the error, why it was skipped.
    pub message: String,
    pub execution_time: f64,
    pub rows_affected: Option<u64>,
    /// For tests: how many rows failed.
    pub failures: Option<u64>,
    pub relation_name: Option<String>,
    pub compiled_code: Option<String>,
    /// Where the compiled SQL was written (relative to the project).
    pub compiled_path: Option<String>,
    pub thread_id: String,
    pub started_at: String,
    pub completed_at: String,
    /// For failing tests: a few of the failing rows (column names, then rows as text).
    #[serde(skip)]
    pub sample: Option<(Vec<String>, Vec<Vec<String>>)>,
}

impl NodeResult {
    pub fn new(unique_id: &str, status: Status, message: impl Into<String>) -> Self {
        let now = jiff::Timestamp::now().to_string();
        NodeResult {
            unique_id: unique_id.to_owned(),
            status,
            message: message.into(),
            execution_time: 0.0,
            rows_affected: None,
            failures: None,
            relation_name: None,
            compiled_code: None,
            compiled_path: None,
            thread_id: String::new(),
            started_at: now.clone(),
            completed_at: now,
            sample: None,
        }
    }

    pub fn timed(mut self, started: jiff::Timestamp, elapsed: Duration) -> Self {
        self.started_at = started.to_string();
        self.completed_at = jiff::Timestamp::now().to_string();
        self.execution_time = elapsed.as_secs_f64();
        self
    }
}

/// Every result of an invocation.
#[derive(Debug, Clone, Default)]
pub struct RunResults {
    pub results: Vec<NodeResult>,
    pub elapsed: Duration,
    /// The run was cut short by Ctrl-C.
    pub interrupted: bool,
}

impl RunResults {
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    pub fn has_failures(&self) -> bool {
        self.results.iter().any(|r| r.status.is_failure())
    }
}

impl RunResults {
    /// The `results` of an `on-run-end` hook's context, as dbt's RunResult objects: `node`
    /// (the node as the manifest shows it, from `node_json`), `status`, `timing` (compile and
    /// execute), `thread_id`, `execution_time`, `adapter_response`, `message`, `failures`.
    pub fn for_hooks(
        &self,
        node_json: impl Fn(&str) -> Option<serde_json::Value>,
    ) -> serde_json::Value {
        let results: Vec<serde_json::Value> = self
            .results
            .iter()
            .filter_map(|r| {
                let mut node = node_json(&r.unique_id)?;
                if let Some(code) = &r.compiled_code {
                    node["compiled_code"] = serde_json::json!(code);
                    node["compiled"] = serde_json::json!(true);
                }
                let timing = |name: &str| {
                    serde_json::json!({
                        "name": name,
                        "started_at": r.started_at,
                        "completed_at": r.completed_at,
                    })
                };
                Some(serde_json::json!({
                    "node": node,
                    "unique_id": r.unique_id,
                    "status": r.status,
                    "timing": [timing("compile"), timing("execute")],
                    "thread_id": r.thread_id,
                    "execution_time": r.execution_time,
                    "adapter_response": {
                        "_message": r.message,
                        "code": r.message.split_whitespace().next().unwrap_or_default(),
                        "rows_affected": r.rows_affected,
                    },
                    "message": r.message,
                    "failures": r.failures,
                    "agate_table": null,
                    "batch_results": null,
                }))
            })
            .collect();
        serde_json::Value::Array(results)
    }
}

#[derive(Serialize)]
struct Timing<'a> {
    name: &'static str,
    started_at: &'a str,
    completed_at: &'a str,
}

#[derive(Serialize)]
struct AdapterResponse<'a> {
    #[serde(rename = "_message")]
    message: &'a str,
    /// The command tag's verb (`SELECT`, `INSERT`...), as dbt-postgres reports it.
    code: &'a str,
    rows_affected: Option<u64>,
}

#[derive(Serialize)]
struct ResultOut<'a> {
    unique_id: &'a str,
    status: Status,
    timing: [Timing<'a>; 1],
    thread_id: &'a str,
    execution_time: f64,
    adapter_response: AdapterResponse<'a>,
    message: &'a str,
    failures: Option<u64>,
    compiled: bool,
    compiled_code: &'a Option<String>,
    relation_name: &'a Option<String>,
}

#[derive(Serialize)]
struct Metadata {
    dbt_schema_version: &'static str,
    dbt_version: &'static str,
    generated_at: String,
    invocation_id: String,
    /// Kiln's name and version, where dbt's schema allows a key of Kiln's own.
    env: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct RunResultsOut<'a> {
    metadata: Metadata,
    results: Vec<ResultOut<'a>>,
    elapsed_time: f64,
    args: serde_json::Value,
}

/// Writes `run_results.json` into `target_dir`.
pub fn write(
    results: &RunResults,
    target_dir: &Path,
    invocation_id: &str,
    args: serde_json::Value,
) -> std::io::Result<()> {
    let out = RunResultsOut {
        metadata: Metadata {
            dbt_schema_version: "https://schemas.getdbt.com/dbt/run-results/v6.json",
            dbt_version: kiln_core::DBT_VERSION,
            generated_at: jiff::Timestamp::now().to_string(),
            invocation_id: invocation_id.to_owned(),
            env: BTreeMap::from([("KILN_VERSION", env!("CARGO_PKG_VERSION"))]),
        },
        results: results
            .results
            .iter()
            .map(|r| ResultOut {
                unique_id: &r.unique_id,
                status: r.status,
                timing: [Timing {
                    name: "execute",
                    started_at: &r.started_at,
                    completed_at: &r.completed_at,
                }],
                thread_id: &r.thread_id,
                execution_time: r.execution_time,
                adapter_response: AdapterResponse {
                    message: &r.message,
                    code: r.message.split_whitespace().next().unwrap_or_default(),
                    rows_affected: r.rows_affected,
                },
                message: &r.message,
                failures: r.failures,
                compiled: r.compiled_code.is_some(),
                compiled_code: &r.compiled_code,
                relation_name: &r.relation_name,
            })
            .collect(),
        elapsed_time: results.elapsed.as_secs_f64(),
        args,
    };
    std::fs::create_dir_all(target_dir)?;
    let file = std::fs::File::create(target_dir.join("run_results.json"))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, &out).map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut writer)
}
