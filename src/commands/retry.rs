//! `kiln retry`: the last run, `run_results.json`, again for what failed or was skipped.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Result;
use kiln_core::{Diagnostic, Diagnostics};
use serde_json::Value as Json;

use crate::cli::{CommonArgs, RunArgs, SelectArgs};
use crate::commands::run::{self, Kind};
use crate::printer::Printer;
use crate::session;

/// Statuses that `retry` runs again, as dbt's retry does.
const RETRIED: &[&str] = &[
    "error",
    "fail",
    "skipped",
    "runtime error",
    "partial success",
];

fn bad_results(path: &std::path::Path, why: &str) -> anyhow::Error {
    Diagnostics::from(
        Diagnostic::error(format!("cannot retry from {}: {why}", path.display()))
            .help("run `kiln run`, `build`, `test`, `seed` or `snapshot` first; retry runs what it left failed or skipped"),
    )
    .into()
}

pub fn run(args: &CommonArgs, printer: &Printer) -> Result<ExitCode> {
    let file = session::project_file(&args.project.project_dir)?;
    let target_path = args.target_path.clone().unwrap_or(file.target_path);
    let path = args
        .project
        .project_dir
        .join(&target_path)
        .join("run_results.json");
    let shown = std::path::Path::new(&target_path).join("run_results.json");
    let text =
        std::fs::read_to_string(&path).map_err(|_| bad_results(&shown, "it does not exist"))?;
    let results: Json = serde_json::from_str(&text)
        .map_err(|e| bad_results(&shown, &format!("it is not JSON ({e})")))?;
    let previous = &results["args"];
    let which = previous["which"].as_str().unwrap_or_default();
    let Some(kind) = Kind::from_name(which) else {
        return Err(bad_results(
            &shown,
            &format!("it records `{which}`, which retry cannot repeat"),
        ));
    };
    let ids: BTreeSet<String> = results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["status"]
                .as_str()
                .is_some_and(|status| RETRIED.contains(&status))
        })
        .filter_map(|r| r["unique_id"].as_str())
        .filter(|id| !id.starts_with("operation."))
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        printer.success(&format!(
            "Nothing to retry: every node of the last `kiln {which}` succeeded"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let strings = |key: &str| -> Vec<String> {
        previous[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let flag = |key: &str| previous[key].as_bool().unwrap_or(false);
    // The command line of the retry wins where it says something; the rest is the last run's.
    let vars = previous["vars"]
        .as_object()
        .filter(|vars| !vars.is_empty())
        .map(|vars| Json::Object(vars.clone()).to_string());
    let repeated = RunArgs {
        common: CommonArgs {
            project: args.project.clone(),
            profiles_dir: args.profiles_dir.clone(),
            target: args
                .target
                .clone()
                .or_else(|| previous["target"].as_str().map(str::to_owned)),
            vars: args.vars.clone().or(vars),
            threads: args.threads.or_else(|| {
                previous["threads"]
                    .as_u64()
                    .and_then(|t| usize::try_from(t).ok())
            }),
            log_format: args.log_format,
            warn_error: args.warn_error || flag("warn_error"),
            warn_error_options: args.warn_error_options.clone(),
            target_path: args.target_path.clone(),
            no_version_check: args.no_version_check,
        },
        select: SelectArgs {
            select: strings("select"),
            exclude: strings("exclude"),
            state: None,
            defer: false,
            // Retry runs the failed and skipped nodes themselves: no selection to widen.
            indirect_selection: crate::cli::IndirectSelection::Eager,
        },
        full_refresh: flag("full_refresh"),
        fail_fast: flag("fail_fast"),
        empty: flag("empty"),
        store_failures: flag("store_failures"),
        event_time_start: previous["event_time_start"].as_str().map(str::to_owned),
        event_time_end: previous["event_time_end"].as_str().map(str::to_owned),
    };
    printer.info(&format!(
        "Retrying `kiln {which}`: {} node{} failed or skipped last time",
        ids.len(),
        if ids.len() == 1 { "" } else { "s" }
    ));
    run::execute(&repeated, kind, Some(&ids), printer)
}
