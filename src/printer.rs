//! All terminal output goes through the [`Printer`]: data on stdout, messages on stderr,
//! colour only on a terminal and never with NO_COLOR, one JSON object per line with
//! `--log-format json`.

use std::io::{IsTerminal, Write};

use kiln_project::{Diagnostic, Severity};
use serde_json::json;

use crate::cli::LogFormat;

pub struct Printer {
    format: LogFormat,
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

    fn paint(&self, color: &str, text: &str) -> String {
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
