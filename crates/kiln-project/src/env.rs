//! `env_var()`: environment variables in the profile, the project file and models.

use std::path::Path;

use minijinja::{Environment, Error, ErrorKind, Value};

use kiln_core::diagnostic::{Diagnostic, Location};
use serde_json::Value as Json;

use crate::yaml::{self, Node};

/// dbt's `env_var(name, default)`: the variable's value, else the default, else an error that
/// names the variable.
pub fn env_var(name: &str, default: Option<Value>) -> Result<Value, Error> {
    match std::env::var(name) {
        Ok(value) => Ok(Value::from(value)),
        Err(_) => default.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("environment variable `{name}` is not set and has no default"),
            )
        }),
    }
}

/// dbt's `as_bool`, `as_number`, `as_native` and `as_text` filters.
pub fn as_bool(value: Value) -> Value {
    match value.as_str().map(str::trim) {
        Some("true" | "True" | "TRUE") => Value::from(true),
        Some("false" | "False" | "FALSE") => Value::from(false),
        _ => value,
    }
}

pub fn as_number(value: Value) -> Value {
    match value.as_str().map(str::trim) {
        Some(text) => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or(value),
        None => value,
    }
}

pub fn as_native(value: Value) -> Value {
    match value
        .as_str()
        .and_then(|text| serde_json::from_str::<Json>(text.trim()).ok())
    {
        Some(json) => Value::from(minijinja::value::Serde(json)),
        None => as_bool(value),
    }
}

pub fn as_text(value: Value) -> Value {
    Value::from(value.to_string())
}

/// Adds `env_var()` and dbt's `as_*` filters to an environment.
pub fn add_env_functions(env: &mut Environment<'_>) {
    env.add_function("env_var", env_var);
    env.add_filter("as_bool", as_bool);
    env.add_filter("as_number", as_number);
    env.add_filter("as_native", as_native);
    env.add_filter("as_text", as_text);
}

/// Renders every string value under `node` that contains Jinja, with `env_var()` available.
/// Values under the keys in `skip` are left as they are (hooks run later, with a full context).
pub fn render_env_vars(node: &mut Node, file: &Path, skip: &[&str], errors: &mut Vec<Diagnostic>) {
    let mut env = Environment::new();
    add_env_functions(&mut env);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    render_node(&env, node, file, skip, errors);
}

fn render_node(
    env: &Environment<'_>,
    node: &mut Node,
    file: &Path,
    skip: &[&str],
    errors: &mut Vec<Diagnostic>,
) {
    match &mut node.value {
        yaml::Value::String(text) if text.contains("{{") || text.contains("{%") => {
            match env.render_str(text, ()) {
                Ok(rendered) => *text = rendered,
                Err(error) => errors.push(
                    Diagnostic::error(
                        error
                            .detail()
                            .unwrap_or("cannot render this value")
                            .to_owned(),
                    )
                    .at(Location::new(file, node.line))
                    .help(
                        "set the variable, or give env_var() a default: env_var('NAME', 'default')",
                    ),
                ),
            }
        }
        yaml::Value::Seq(items) => {
            for item in items {
                render_node(env, item, file, skip, errors);
            }
        }
        yaml::Value::Map(entries) => {
            for (key, value) in entries {
                if !key.as_str().is_some_and(|k| skip.contains(&k)) {
                    render_node(env, value, file, skip, errors);
                }
            }
        }
        _ => {}
    }
}
