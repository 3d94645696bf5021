//! All terminal output goes through the [`Printer`]: data on stdout, messages on stderr,
//! colour only on a terminal and never with NO_COLOR, one JSON object per line with
//! `--log-format json`. It is only the channel: what a command reports (a run's progress and
//! summary: `commands/run_report.rs`) is laid out beside the command.

use std::io::{IsTerminal, Write};

use kiln_core::{Diagnostic, Severity};
use serde_json::json;

use crate::cli::LogFormat;

#[derive(Clone)]
pub struct Printer {
    pub format: LogFormat,
    color: bool,
}

pub const RED: &str = "\x1b[31m";
pub const YELLOW: &str = "\x1b[33m";
pub const GREEN: &str = "\x1b[32m";
pub const RESET: &str = "\x1b[0m";

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
pub fn visible_width(text: &str) -> usize {
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
