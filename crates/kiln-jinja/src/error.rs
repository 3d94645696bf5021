//! Template errors as diagnostics: the innermost template location first, then the chain of
//! macro calls that led there.

use std::error::Error as _;
use std::path::PathBuf;

use kiln_core::{Diagnostic, Location};
use minijinja::ErrorKind;

use crate::macros::TEMPLATE_SEPARATOR;

/// Where a template error happened: the file and, for macros, the macro.
fn frame(error: &minijinja::Error) -> Option<(PathBuf, Option<String>, usize)> {
    let name = error.name()?;
    let line = error.line().unwrap_or(0);
    Some(match name.rsplit_once(TEMPLATE_SEPARATOR) {
        Some((file, macro_name)) => (PathBuf::from(file), Some(macro_name.to_owned()), line),
        None => (PathBuf::from(name), None, line),
    })
}

fn message(error: &minijinja::Error) -> String {
    let detail = error.detail().unwrap_or_default();
    match error.kind() {
        ErrorKind::UndefinedError if detail.is_empty() => "undefined value".to_owned(),
        ErrorKind::UndefinedError => format!("undefined value: {detail}"),
        ErrorKind::UnknownFunction if detail.is_empty() => "unknown function or macro".to_owned(),
        ErrorKind::UnknownFunction
            if detail.starts_with("macro") || detail.starts_with("package") =>
        {
            detail.to_owned()
        }
        ErrorKind::UnknownFunction => match unknown_name(error) {
            Some(name) => format!("unknown function or macro `{name}`"),
            None => format!("unknown function or macro: {detail}"),
        },
        ErrorKind::SyntaxError => format!("Jinja syntax error: {detail}"),
        ErrorKind::InvalidOperation | ErrorKind::UnknownMethod if !detail.is_empty() => {
            detail.to_owned()
        }
        kind if detail.is_empty() => kind.to_string(),
        kind => format!("{kind}: {detail}"),
    }
}

/// The name in minijinja's "`x` is unknown" detail.
pub fn unknown_name(error: &minijinja::Error) -> Option<&str> {
    error
        .detail()?
        .strip_suffix(" is unknown")
        .map(|name| name.trim_matches('`'))
}

/// The innermost MiniJinja error of a chain.
pub fn innermost(error: &minijinja::Error) -> &minijinja::Error {
    let mut current = error;
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(inner) = inner.downcast_ref::<minijinja::Error>() {
            current = inner;
        }
        source = inner.source();
    }
    current
}

/// Turns a MiniJinja error (and the macro calls it passed through) into a diagnostic.
pub fn to_diagnostic(error: &minijinja::Error) -> Diagnostic {
    let mut chain: Vec<&minijinja::Error> = vec![error];
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(inner) = inner.downcast_ref::<minijinja::Error>() {
            chain.push(inner);
        }
        source = inner.source();
    }
    let innermost = chain[chain.len() - 1];
    let mut diagnostic = Diagnostic::error(message(innermost));
    let frames: Vec<_> = chain.iter().rev().filter_map(|e| frame(e)).collect();
    let mut frames = frames.into_iter();
    if let Some((file, macro_name, line)) = frames.next() {
        diagnostic = diagnostic.at(Location::new(file, line));
        let source_line = innermost
            .template_source()
            .and_then(|source| source.lines().nth(line.checked_sub(1)?));
        if let Some(text) = source_line.filter(|t| !t.trim().is_empty()) {
            diagnostic = diagnostic.note(format!("{line:>4} | {}", text.trim_end()));
        }
        if let Some(macro_name) = macro_name {
            diagnostic = diagnostic.note(format!("in macro `{macro_name}`"));
        }
    }
    for (file, macro_name, line) in frames {
        let within = macro_name
            .map(|m| format!(" (in macro `{m}`)"))
            .unwrap_or_default();
        diagnostic = diagnostic.note(format!("called from {}:{line}{within}", file.display()));
    }
    diagnostic
}
