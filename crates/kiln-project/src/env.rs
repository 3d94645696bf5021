//! `env_var()`: environment variables in the profile, the project file and models.

use std::path::Path;

use std::collections::BTreeMap;

use minijinja::value::Rest;
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

/// What Jinja in the project file can read besides `env_var()`, as dbt's project renderer
/// has it: `var()` over the `--vars` of the command line (with its default otherwise), and
/// `target` once the profile is known.
#[derive(Debug, Clone, Default)]
pub struct YamlContext {
    pub cli_vars: BTreeMap<String, Json>,
    pub target: Option<Json>,
    /// A first reading, to learn the profile's name before the profile is read: a missing
    /// `var()` is none and `target` is undefined instead of errors.
    pub lenient: bool,
}

/// Renders every string value under `node` that contains Jinja, with `env_var()` available.
/// Values under the keys in `skip` are left as they are (hooks run later, with a full context).
pub fn render_env_vars(node: &mut Node, file: &Path, skip: &[&str], errors: &mut Vec<Diagnostic>) {
    render_yaml(node, file, skip, &YamlContext::default(), errors);
}

/// [`render_env_vars`] with `var()` and `target` from `context`. A value that is one Jinja
/// expression keeps the expression's type, as dbt's native rendering does
/// (`+enabled: "{{ var('x', false) }}"` is a boolean).
pub fn render_yaml(
    node: &mut Node,
    file: &Path,
    skip: &[&str],
    context: &YamlContext,
    errors: &mut Vec<Diagnostic>,
) {
    let mut env = Environment::new();
    add_env_functions(&mut env);
    env.set_undefined_behavior(if context.lenient {
        minijinja::UndefinedBehavior::Chainable
    } else {
        minijinja::UndefinedBehavior::Strict
    });
    let vars = context.cli_vars.clone();
    let lenient = context.lenient;
    env.add_function(
        "var",
        move |name: &str, default: Rest<Value>| -> Result<Value, Error> {
            match (vars.get(name), default.first()) {
                (Some(value), _) => Ok(Value::from(minijinja::value::Serde(value.clone()))),
                (None, Some(default)) => Ok(default.clone()),
                (None, None) if lenient => Ok(Value::from(())),
                (None, None) => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "required var `{name}` is not set: the project file sees only --vars, not its own `vars:`"
                    ),
                )),
            }
        },
    );
    if let Some(target) = &context.target {
        env.add_global(
            "target",
            Value::from(minijinja::value::Serde(target.clone())),
        );
    }
    render_node(&env, node, file, skip, errors);
}

/// `{{ expr }}` alone (nothing else in the text): the expression.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

/// A rendered value as YAML: what one expression gave keeps its type.
fn native(value: &Value, line: usize) -> Option<Node> {
    let json = serde_json::to_value(value).ok()?;
    Some(Node::from_json(&json, line))
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
            let evaluated = single_expression(text).map(|expr| {
                env.compile_expression(expr)
                    .and_then(|expression| expression.eval(()))
            });
            let line = node.line;
            if let Some(Ok(value)) = &evaluated
                && !value.is_undefined()
                && let Some(typed) = native(value, line)
            {
                *node = typed;
                return;
            }
            let text = match &mut node.value {
                yaml::Value::String(text) => text,
                _ => return,
            };
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
