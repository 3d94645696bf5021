//! `kiln run-operation`: one macro called with arguments, on the warehouse, in a transaction.

use serde_json::{Map, Value as Json};

use kiln_adapter::Adapter;
use kiln_compile::Parsed;
use kiln_core::Diagnostic;

use crate::connection::SharedConnection;
use crate::error::RunError;
use crate::hooks::operation_context;

/// A Jinja string literal holding `text`.
fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// The template that calls `name` with `args` as keyword arguments, each value passed
/// through `fromjson` so that any JSON value arrives with its type.
pub fn call_source(name: &str, args: &Map<String, Json>) -> Result<String, Diagnostic> {
    let is_identifier = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    if !name.split('.').all(is_identifier) || name.split('.').count() > 2 {
        return Err(Diagnostic::error(format!("`{name}` is not a macro name"))
            .help("name a macro: `my_macro`, or `package.my_macro`"));
    }
    let mut kwargs = Vec::new();
    for (key, value) in args {
        if !is_identifier(key) {
            return Err(Diagnostic::error(format!(
                "--args key `{key}` is not a valid argument name"
            ))
            .help("use the names of the macro's parameters"));
        }
        kwargs.push(format!(
            "{key}=fromjson({})",
            string_literal(&value.to_string())
        ));
    }
    Ok(format!("{{% do {name}({}) %}}", kwargs.join(", ")))
}

/// Whether the project or one of its packages defines the macro (`name` or `package.name`).
pub fn macro_exists(parsed: &Parsed, name: &str) -> bool {
    let registry = parsed.env.registry();
    match name.split_once('.') {
        Some((package, macro_name)) => registry.get(package, macro_name).is_some(),
        None => registry
            .resolve(registry.root(), registry.root(), name)
            .is_some(),
    }
}

/// Calls the macro in a transaction, committed when it returns, rolled back when it fails.
pub fn run_operation(
    parsed: &Parsed,
    adapter: &dyn Adapter,
    name: &str,
    args: &Map<String, Json>,
) -> Result<(), RunError> {
    let source = call_source(name, args)?;
    let conn = SharedConnection::new(adapter.connect()?);
    conn.lock().execute("begin")?;
    let context = std::sync::Arc::new(operation_context(parsed, &conn, name));
    let result = parsed
        .env
        .render(&format!("operation {name}"), &source, context)
        .map_err(RunError::from)
        .and_then(|_| Ok(conn.lock().execute("commit").map(|_| ())?));
    if result.is_err() {
        let _ = conn.lock().execute("rollback");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_keep_their_json_types() {
        let args = json!({"table": "o'neil", "days": 3, "dry": true, "cols": ["a", "b"]});
        let source = call_source("purge", args.as_object().unwrap()).unwrap();
        assert_eq!(
            source,
            r#"{% do purge(table=fromjson('"o\'neil"'), days=fromjson('3'), dry=fromjson('true'), cols=fromjson('["a","b"]')) %}"#
        );
        assert!(call_source("drop table x; --", &Map::new()).is_err());
        assert!(call_source("dbt_utils.log_info", &Map::new()).is_ok());
    }
}
