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
            Event::Start {
                index,
                total,
                unique_id,
                description,
            } => {
                if self.live.is_some() {
                    let name = self
                        .paths
                        .get(unique_id)
                        .map_or(unique_id, |(name, _)| name.as_str())
                        .to_owned();
                    self.live_line(None, |running| {
                        running.insert(index, name);
                    });
                    return;
                }
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
                let position = if index == 0 {
                    "-".to_owned()
                } else {
                    index.to_string()
                };
                let (left, right) = match result.status {
                    Status::Success => {
                        let what = description.replacen("sql", "created sql", 1).replacen(
                            "seed file",
                            "loaded seed file",
                            1,
                        );
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
                            test_name(description)
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
                                test_name(description)
                            ),
                            format!("{label} in {seconds}"),
                        )
                    }
                    Status::Skipped => {
                        let what = match description.strip_prefix("test ") {
                            Some(test) => format!("test {test}"),
                            None => format!(
                                "relation {}",
                                description.rsplit(' ').next().unwrap_or(description)
                            ),
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
                            error_subject(description)
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

/// `test unique_orders_order_id` -> `unique_orders_order_id`.
fn test_name(description: &str) -> &str {
    description.strip_prefix("test ").unwrap_or(description)
}

/// What failed: `creating sql table model analytics.x`, or `test unique_x`.
fn error_subject(description: &str) -> String {
    if description.starts_with("test ") {
        description.to_owned()
    } else {
        format!("creating {description}")
    }
}

/// Rows as a small text table with a header, columns padded to their widest cell (at most 40).
pub fn table(columns: &[String], rows: &[Vec<String>]) -> Vec<String> {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let widest = rows
                .iter()
                .map(|r| r.get(i).map_or(0, |v| v.chars().count()))
                .max()
                .unwrap_or(0);
            widest.max(c.chars().count()).min(40)
        })
        .collect();
    let cell = |text: &str, width: usize| {
        let text: String = if text.chars().count() > width {
            text.chars()
                .take(width.saturating_sub(1))
                .chain(['…'])
                .collect()
        } else {
            text.to_owned()
        };
        format!("{text:<width$}")
    };
    let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    let mut out = vec![line(
        columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| cell(c, *w))
            .collect(),
    )];
    out.push(format!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    ));
    for row in rows {
        out.push(line(
            row.iter().zip(&widths).map(|(v, w)| cell(v, *w)).collect(),
        ));
    }
    out
}

/// Characters a terminal shows: colour escape sequences take no room.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_take_no_room() {
        assert_eq!(
            visible_width("1 of 2 \x1b[32mOK\x1b[0m done"),
            "1 of 2 OK done".len()
        );
    }

    #[test]
    fn tables_pad_and_truncate_cells() {
        let lines = table(
            &["id".to_owned(), "name".to_owned()],
            &[vec!["1".to_owned(), "x".repeat(50)]],
        );
        assert_eq!(lines[0], format!("| id | name{} |", " ".repeat(36)));
        assert!(lines[2].ends_with("x… |"), "{}", lines[2]);
        assert_eq!(lines[2].chars().count(), lines[0].chars().count());
    }
}
