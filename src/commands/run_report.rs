//! A run's report on the terminal: one line per node with dbt's rhythm, a live status line
//! on a terminal, one JSON object per event with `--log-format json`, and the closing summary.

use std::io::{IsTerminal, Write};

use kiln_core::{Diagnostic, Node, ResourceType};
use serde_json::json;

use crate::cli::LogFormat;
use crate::printer::{GREEN, Printer, RED, YELLOW, table, visible_width};

/// Prints a run's progress with dbt's rhythm:
/// `3 of 41 OK created sql table model analytics.mart_x ......... [SELECT 1204 in 0.21s]`.
pub struct RunReporter<'a> {
    printer: &'a Printer,
    /// Name and file of each node, for the summary.
    paths: std::collections::BTreeMap<String, (String, String)>,
    /// On a terminal: the nodes running now, shown on a status line redrawn in place instead of
    /// START lines.
    live: Option<std::sync::Mutex<std::collections::BTreeMap<usize, String>>>,
}

/// Width the dots pad a line to, as in dbt.
const LINE_WIDTH: usize = 80;

impl<'a> RunReporter<'a> {
    pub fn new(printer: &'a Printer, parsed: &kiln_compile::Parsed) -> Self {
        let paths = parsed
            .nodes
            .values()
            .map(|n| {
                (
                    n.unique_id.clone(),
                    (n.name.clone(), n.display_path.display().to_string()),
                )
            })
            .collect();
        let live = (printer.format == LogFormat::Text && std::io::stdout().is_terminal())
            .then(|| std::sync::Mutex::new(std::collections::BTreeMap::new()));
        RunReporter {
            printer,
            paths,
            live,
        }
    }

    /// Prints a line above the status line, then redraws the status line.
    fn live_line(
        &self,
        line: Option<&str>,
        update: impl FnOnce(&mut std::collections::BTreeMap<usize, String>),
    ) {
        let Some(live) = &self.live else { return };
        let mut running = live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        update(&mut running);
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r\x1b[K");
        if let Some(line) = line {
            let _ = writeln!(out, "{line}");
        }
        if !running.is_empty() {
            let names: Vec<&str> = running.values().map(String::as_str).collect();
            let status = format!("running {}: {}", running.len(), names.join(", "));
            let status: String = status.chars().take(LINE_WIDTH + 20).collect();
            let _ = write!(out, "{}", self.printer.paint("\x1b[2m", &status));
        }
        let _ = out.flush();
    }

    fn line(&self, left: &str, right: &str) -> String {
        let dots = LINE_WIDTH.saturating_sub(visible_width(left) + 1).max(3);
        format!("{left} {} [{right}]", ".".repeat(dots))
    }

    fn emit(&self, text: String, event: serde_json::Value) {
        match self.printer.format {
            LogFormat::Text => self.printer.data(&text),
            LogFormat::Json => self.printer.data(&event.to_string()),
        }
    }

    /// The closing summary: errors and warnings with their messages (and a few failing rows
    /// of a test), then the counts.
    pub fn summary(&self, results: &kiln_run::RunResults) {
        use kiln_run::Status;
        self.live_line(None, std::collections::BTreeMap::clear);
        let count = |s: Status| results.count(s);
        let pass = count(Status::Success) + count(Status::Pass);
        let errors = count(Status::Error) + count(Status::Fail);
        let counts = format!(
            "Done. PASS={pass} WARN={} ERROR={errors} SKIP={} TOTAL={}",
            count(Status::Warn),
            count(Status::Skipped),
            results.results.len()
        );
        if self.printer.format == LogFormat::Json {
            let summary = json!({
                "event": "summary", "pass": pass, "warn": count(Status::Warn), "error": errors,
                "skip": count(Status::Skipped), "total": results.results.len(),
                "elapsed": results.elapsed.as_secs_f64(),
            });
            self.emit(String::new(), summary);
            return;
        }
        let noteworthy: Vec<_> = results
            .results
            .iter()
            .filter(|r| r.status.is_failure() || r.status == Status::Warn)
            .collect();
        self.printer.data("");
        self.printer.data(&format!(
            "Finished running {} node(s) in {:.2}s.",
            results.results.len(),
            results.elapsed.as_secs_f64()
        ));
        if results.interrupted {
            self.printer.data(&self.printer.paint(
                YELLOW,
                "Interrupted: queries in flight were cancelled, temporary relations rolled back.",
            ));
        }
        if noteworthy.is_empty() {
            self.printer
                .data(&self.printer.paint(GREEN, "Completed successfully"));
        } else if errors == 0 {
            self.printer.data(&self.printer.paint(
                YELLOW,
                &format!("Completed with {} warning(s):", noteworthy.len()),
            ));
        } else {
            self.printer.data(
                &self
                    .printer
                    .paint(RED, &format!("Completed with {errors} error(s):")),
            );
        }
        for result in noteworthy {
            let (name, path) = self
                .paths
                .get(&result.unique_id)
                .cloned()
                .unwrap_or_default();
            // unique ids start with the resource type: model., seed., test., ...
            let kind = result.unique_id.split('.').next().unwrap_or("node");
            let label = if result.status == Status::Warn {
                self.printer.paint(YELLOW, "Warning")
            } else {
                self.printer.paint(RED, "Failure")
            };
            self.printer.data("");
            self.printer
                .data(&format!("{label} in {kind} {name} ({path})"));
            for line in result.message.lines() {
                self.printer.data(&format!("  {line}"));
            }
            if let Some((columns, rows)) = &result.sample {
                for line in table(columns, rows) {
                    self.printer.data(&format!("  {line}"));
                }
            }
            if let Some(compiled) = &result.compiled_path {
                self.printer.data(&format!("  compiled code at {compiled}"));
            }
        }
        self.printer.data("");
        self.printer.data(&counts);
    }
}

impl kiln_run::Reporter for RunReporter<'_> {
    fn report(&self, event: kiln_run::Event<'_>) {
        use kiln_run::{Event, Status};
        match event {
            Event::Start { index, total, node } => {
                if self.live.is_some() {
                    self.live_line(None, |running| {
                        running.insert(index, node.name.clone());
                    });
                    return;
                }
                let text = self.line(
                    &format!("{index} of {total} START {}", description(node)),
                    "RUN",
                );
                self.emit(
                    text,
                    json!({
                        "event": "start", "index": index, "total": total, "unique_id": node.unique_id,
                        "resource_type": node.resource_type, "materialized": node.config.materialized,
                        "relation": node.relation.display_name(),
                    }),
                );
            }
            Event::Finish {
                index,
                total,
                node,
                result,
            } => {
                let seconds = format!("{:.2}s", result.execution_time);
                let position = if index == 0 {
                    "-".to_owned()
                } else {
                    index.to_string()
                };
                let (left, right) = match result.status {
                    Status::Success => {
                        let what = match node.resource_type {
                            ResourceType::Seed => format!("loaded {}", description(node)),
                            ResourceType::Snapshot => {
                                format!("snapshotted {}", node.relation.display_name())
                            }
                            _ => format!("created {}", description(node)),
                        };
                        (
                            format!(
                                "{position} of {total} {} {what}",
                                self.printer.paint(GREEN, "OK")
                            ),
                            format!("{} in {seconds}", result.message),
                        )
                    }
                    Status::Pass => (
                        format!(
                            "{position} of {total} {} {}",
                            self.printer.paint(GREEN, "PASS"),
                            node.name
                        ),
                        format!("PASS in {seconds}"),
                    ),
                    Status::Warn | Status::Fail => {
                        let (label, color) = if result.status == Status::Warn {
                            ("WARN", YELLOW)
                        } else {
                            ("FAIL", RED)
                        };
                        let label = format!("{label} {}", result.failures.unwrap_or(0));
                        (
                            format!(
                                "{position} of {total} {} {}",
                                self.printer.paint(color, &label),
                                node.name
                            ),
                            format!("{label} in {seconds}"),
                        )
                    }
                    Status::Skipped => {
                        let what = match node.resource_type {
                            ResourceType::Test | ResourceType::UnitTest => description(node),
                            _ => format!("relation {}", node.relation.display_name()),
                        };
                        (
                            format!(
                                "{position} of {total} {} {what}",
                                self.printer.paint(YELLOW, "SKIP")
                            ),
                            "SKIP".to_owned(),
                        )
                    }
                    Status::Error => (
                        format!(
                            "{position} of {total} {} {}",
                            self.printer.paint(RED, "ERROR"),
                            error_subject(node)
                        ),
                        format!("ERROR in {seconds}"),
                    ),
                };
                let text = self.line(&left, &right);
                if self.live.is_some() {
                    self.live_line(Some(&text), |running| {
                        running.remove(&index);
                    });
                    return;
                }
                self.emit(
                    text,
                    json!({
                        "event": "finish", "index": index, "total": total, "unique_id": result.unique_id,
                        "status": result.status, "message": result.message, "failures": result.failures,
                        "execution_time": result.execution_time, "rows_affected": result.rows_affected,
                    }),
                );
            }
            Event::RecreatedViews { node, views } => {
                self.printer.diagnostic(&Diagnostic::warning(format!(
                    "{}: recreated the dependent view(s) {} on the new version",
                    node.name,
                    views.join(", ")
                )))
            }
            Event::Hook { name, ok, message } => {
                let text = format!(
                    "{} {name}: {message}",
                    if ok { "OK hook" } else { "ERROR in hook" }
                );
                self.emit(
                    text,
                    json!({"event": "hook", "name": name, "ok": ok, "message": message}),
                );
            }
        }
    }
}

/// What a node is, as run lines name it: `sql view model analytics.stg_orders`,
/// `seed file raw.countries`, `test unique_orders_id`.
fn description(node: &Node) -> String {
    let relation = node.relation.display_name();
    match node.resource_type {
        ResourceType::Seed => format!("seed file {relation}"),
        ResourceType::Snapshot => format!("snapshot {relation}"),
        ResourceType::Test => format!("test {}", node.name),
        ResourceType::UnitTest => format!(
            "unit test {}",
            node.fqn[node.fqn.len().saturating_sub(2)..].join("::")
        ),
        _ => format!("sql {} model {relation}", node.config.materialized),
    }
}

/// What failed: `creating sql table model analytics.x`, or `test unique_x`.
fn error_subject(node: &Node) -> String {
    match node.resource_type {
        ResourceType::Test | ResourceType::UnitTest => description(node),
        _ => format!("creating {}", description(node)),
    }
}
