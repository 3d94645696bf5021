//! All terminal output goes through the [`Printer`]: data on stdout, messages on stderr,
//! colour only on a terminal and never with NO_COLOR, one JSON object per line with
//! `--log-format json`.

use std::io::{IsTerminal, Write};

use kiln_project::{Diagnostic, Severity};
use serde_json::json;

use crate::cli::LogFormat;

pub struct Printer {
    pub format: LogFormat,
    color: bool,
}

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

impl Printer {
    pub fn new(format: LogFormat) -> Self {
        let color = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer { format, color }
    }

    pub fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn stderr_line(&self, line: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{line}");
    }

    /// A line of data (SQL, a node name), on stdout.
    pub fn data(&self, line: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
    }

    /// A progress or summary message, on stderr.
    pub fn info(&self, message: &str) {
        match self.format {
            LogFormat::Text => self.stderr_line(message),
            LogFormat::Json => {
                self.stderr_line(&json!({"level": "info", "msg": message}).to_string())
            }
        }
    }

    pub fn success(&self, message: &str) {
        match self.format {
            LogFormat::Text => self.stderr_line(&self.paint(GREEN, message)),
            LogFormat::Json => self.info(message),
        }
    }

    pub fn diagnostic(&self, diagnostic: &Diagnostic) {
        match self.format {
            LogFormat::Text => {
                let text = diagnostic.to_string();
                let (label, color) = match diagnostic.severity {
                    Severity::Error => ("error", RED),
                    Severity::Warning => ("warning", YELLOW),
                };
                let painted = match text.strip_prefix(label) {
                    Some(rest) => format!("{}{rest}", self.paint(color, label)),
                    None => text,
                };
                self.stderr_line(&painted);
            }
            LogFormat::Json => {
                let level = match diagnostic.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warn",
                };
                self.stderr_line(
                    &json!({
                        "level": level,
                        "msg": diagnostic.message,
                        "location": diagnostic.location.as_ref().map(ToString::to_string),
                        "notes": diagnostic.notes,
                        "help": diagnostic.help,
                    })
                    .to_string(),
                );
            }
        }
    }

    pub fn diagnostics<'a>(&self, diagnostics: impl IntoIterator<Item = &'a Diagnostic>) {
        for diagnostic in diagnostics {
            self.diagnostic(diagnostic);
        }
    }
}

/// Prints a run's progress with dbt's rhythm:
/// `3 of 41 OK created sql table model analytics.mart_x ......... [SELECT 1204 in 0.21s]`.
pub struct RunReporter<'a> {
    printer: &'a Printer,
    /// Compiled file of each node, for error messages.
    paths: std::collections::BTreeMap<String, (String, String)>,
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
        RunReporter { printer, paths }
    }

    fn line(&self, left: &str, right: &str) -> String {
        let dots = LINE_WIDTH.saturating_sub(left.chars().count() + 1).max(3);
        format!("{left} {} [{right}]", ".".repeat(dots))
    }

    fn emit(&self, text: String, event: serde_json::Value) {
        match self.printer.format {
            LogFormat::Text => self.printer.data(&text),
            LogFormat::Json => self.printer.data(&event.to_string()),
        }
    }

    /// The closing summary: failures with their messages, then the counts.
    pub fn summary(&self, results: &kiln_run::RunResults) {
        use kiln_run::Status;
        let failures: Vec<_> = results
            .results
            .iter()
            .filter(|r| r.status.is_failure())
            .collect();
        let count = |s: Status| results.count(s);
        let pass = count(Status::Success) + count(Status::Pass);
        let line = format!(
            "Done. PASS={pass} WARN={} ERROR={} SKIP={} TOTAL={}",
            count(Status::Warn),
            count(Status::Error) + count(Status::Fail),
            count(Status::Skipped),
            results.results.len()
        );
        if self.printer.format == LogFormat::Json {
            self.emit(String::new(), json!({"event": "summary", "pass": pass, "warn": count(Status::Warn), "error": failures.len(), "skip": count(Status::Skipped), "total": results.results.len(), "elapsed": results.elapsed.as_secs_f64()}));
            return;
        }
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
        if failures.is_empty() {
            self.printer
                .data(&self.printer.paint(GREEN, "Completed successfully"));
        } else {
            self.printer.data(
                &self
                    .printer
                    .paint(RED, &format!("Completed with {} error(s):", failures.len())),
            );
            for failure in failures {
                let (name, path) = self
                    .paths
                    .get(&failure.unique_id)
                    .cloned()
                    .unwrap_or_default();
                self.printer.data("");
                self.printer.data(&format!(
                    "{} in {} ({path})",
                    self.printer.paint(RED, "Failure"),
                    name
                ));
                for line in failure.message.lines() {
                    self.printer.data(&format!("  {line}"));
                }
                if let Some(compiled) = &failure.compiled_path {
                    self.printer.data(&format!("  compiled code at {compiled}"));
                }
            }
        }
        self.printer.data("");
        self.printer.data(&line);
    }
}

impl kiln_run::Reporter for RunReporter<'_> {
    fn report(&self, event: kiln_run::Event<'_>) {
        use kiln_run::{Event, Status};
        match event {
            Event::Start {
                index,
                total,
                unique_id,
                description,
            } => {
                let text = self.line(&format!("{index} of {total} START {description}"), "RUN");
                self.emit(text, json!({"event": "start", "index": index, "total": total, "unique_id": unique_id}));
            }
            Event::Finish {
                index,
                total,
                description,
                result,
            } => {
                let seconds = format!("{:.2}s", result.execution_time);
                let (left, right) = match result.status {
                    Status::Success => (
                        format!(
                            "{index} of {total} {} {}",
                            self.printer.paint(GREEN, "OK"),
                            description.replacen("sql", "created sql", 1).replacen(
                                "seed file",
                                "loaded seed file",
                                1
                            )
                        ),
                        format!("{} in {seconds}", result.message),
                    ),
                    Status::Skipped => {
                        let relation = description.rsplit(' ').next().unwrap_or(description);
                        (
                            format!(
                                "{} of {total} {} relation {relation}",
                                if index == 0 {
                                    "-".to_owned()
                                } else {
                                    index.to_string()
                                },
                                self.printer.paint(YELLOW, "SKIP")
                            ),
                            "SKIP".to_owned(),
                        )
                    }
                    _ => (
                        format!(
                            "{index} of {total} {} creating {description}",
                            self.printer.paint(RED, "ERROR")
                        ),
                        format!("ERROR in {seconds}"),
                    ),
                };
                let text = self.line(&left, &right);
                self.emit(
                    text,
                    json!({"event": "finish", "index": index, "total": total, "unique_id": result.unique_id, "status": result.status, "message": result.message, "execution_time": result.execution_time, "rows_affected": result.rows_affected}),
                );
            }
            Event::Warning { message } => self.printer.diagnostic(&Diagnostic::warning(message)),
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
