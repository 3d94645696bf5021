//! Template errors as diagnostics: the innermost template location first, then the chain of
//! macro calls that led there.

use std::error::Error as _;
use std::path::PathBuf;

use kiln_project::{Diagnostic, Location};
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
        ErrorKind::UnknownFunction if detail.starts_with("macro") || detail.starts_with("package") => detail.to_owned(),
        ErrorKind::UnknownFunction => format!("unknown function or macro: {detail}"),
        ErrorKind::SyntaxError => format!("Jinja syntax error: {detail}"),
        ErrorKind::InvalidOperation | ErrorKind::UnknownMethod if !detail.is_empty() => detail.to_owned(),
        kind if detail.is_empty() => kind.to_string(),
        kind => format!("{kind}: {detail}"),
    }
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
        if let Some(macro_name) = macro_name {
            diagnostic = diagnostic.note(format!("in macro `{macro_name}`"));
        }
    }
    for (file, macro_name, line) in frames {
        let within = macro_name.map(|m| format!(" (in macro `{m}`)")).unwrap_or_default();
        diagnostic = diagnostic.note(format!("called from {}:{line}{within}", file.display()));
    }
    diagnostic
}
