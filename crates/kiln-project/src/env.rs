//! `env_var()`: environment variables in the profile, the project file and models.

use std::path::Path;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

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

/// Variables: a unit test's `overrides.vars` first, then `--vars`, then the root project's `vars:` (scoped to the node's package,
/// then global), then the node's own package's `vars:`.
#[derive(Debug, Default)]
pub struct Vars {
    pub cli: BTreeMap<String, Json>,
    pub root_package: String,
    /// Each package's `vars:` block as written.
    pub project: BTreeMap<String, BTreeMap<String, Json>>,
}

impl Vars {
    pub fn lookup(&self, package: &str, name: &str) -> Option<&Json> {
        if let Some(value) = self.cli.get(name) {
            return Some(value);
        }
        let root = self.project.get(&self.root_package);
        let scoped = root
            .and_then(|vars| vars.get(package))
            .and_then(|scope| scope.get(name));
        let global = root
            .and_then(|vars| vars.get(name))
            .filter(|_| !self.project.contains_key(name));
        scoped
            .or(global)
            .or_else(|| self.project.get(package).and_then(|vars| vars.get(name)))
    }
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
    /// Schema YAML: `var()` sees the projects' `vars:` too, as a model of that package does.
    pub package_vars: Option<(Arc<Vars>, String)>,
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
    let package_vars = context.package_vars.clone();
    let lenient = context.lenient;
    env.add_function(
        "var",
        move |name: &str, default: Rest<Value>| -> Result<Value, Error> {
            let value = match &package_vars {
                Some((all, package)) => all.lookup(package, name),
                None => vars.get(name),
            };
            match (value, default.first()) {
                (Some(value), _) => Ok(Value::from(minijinja::value::Serde(value.clone()))),
                (None, Some(default)) => Ok(default.clone()),
                (None, None) if lenient => Ok(Value::from(())),
                (None, None) if package_vars.is_some() => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "required var `{name}` is not set: set it under `vars:` in the project file or with --vars, or give var() a default"
                    ),
                )),
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
    // dbt renders these values natively: when a template's whole output is one value an
    // `as_bool` / `as_number` / `as_native` filter made (`{% if c -%} {{ x | as_bool }}
    // {%- endif %}`), the value keeps its type. The filters note what they made last.
    let made: Marker = Arc::default();
    for (name, filter) in [
        ("as_bool", as_bool as fn(Value) -> Value),
        ("as_number", as_number),
        ("as_native", as_native),
    ] {
        let made = made.clone();
        env.add_filter(name, move |value: Value| {
            let value = filter(value);
            *made.lock().unwrap_or_else(PoisonError::into_inner) = Some(value.clone());
            value
        });
    }
    render_node(&env, &made, node, file, skip, errors);
}

/// The value an `as_*` filter made last while rendering one YAML value.
type Marker = Arc<Mutex<Option<Value>>>;

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
    made: &Marker,
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
            made.lock().unwrap_or_else(PoisonError::into_inner).take();
            match env.render_str(text, ()) {
                Ok(rendered) => {
                    let marker = made.lock().unwrap_or_else(PoisonError::into_inner).take();
                    match marker.filter(|value| value.to_string() == rendered) {
                        Some(value) if let Some(typed) = native(&value, line) => *node = typed,
                        _ => *text = rendered,
                    }
                }
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
                render_node(env, made, item, file, skip, errors);
            }
        }
        yaml::Value::Map(entries) => {
            for (key, value) in entries {
                if !key.as_str().is_some_and(|k| skip.contains(&k)) {
                    render_node(env, made, value, file, skip, errors);
                }
            }
        }
        _ => {}
    }
}

/// Keys of schema YAML entries that dbt does not render when it reads the file: descriptions
/// (only `doc()`, later), tests (their arguments are rendered when the test compiles), hooks
/// (rendered when they run) and `loaded_at_query`.
const SCHEMA_NORENDER: &[&str] = &[
    "description",
    "tests",
    "data_tests",
    "pre_hook",
    "post_hook",
    "pre-hook",
    "post-hook",
    "+pre-hook",
    "+post-hook",
    "loaded_at_query",
];

/// Renders the Jinja of a schema YAML file's models, seeds, snapshots, sources and analyses as
/// dbt's schema renderer does (`var()` with the projects' vars, `env_var()`, `target`; a value
/// that is one expression keeps its type: `enabled: "{{ var('x', true) }}"` is a boolean).
pub fn render_schema(
    root: &mut Node,
    file: &Path,
    context: &YamlContext,
    errors: &mut Vec<Diagnostic>,
) {
    let yaml::Value::Map(entries) = &mut root.value else {
        return;
    };
    for (key, section) in entries {
        if matches!(
            key.as_str(),
            Some("models" | "seeds" | "snapshots" | "sources" | "analyses")
        ) {
            render_yaml(section, file, SCHEMA_NORENDER, context, errors);
            render_test_configs(section, file, context, errors);
        }
        // A unit test's `config:` (`enabled: "{{ var('x') | as_bool }}"`); its rows are data.
        if key.as_str() == Some("unit_tests")
            && let yaml::Value::Seq(tests) = &mut section.value
        {
            for test in tests {
                if let yaml::Value::Map(entries) = &mut test.value {
                    for (key, value) in entries {
                        if key.as_str() == Some("config") {
                            render_yaml(value, file, &[], context, errors);
                        }
                    }
                }
            }
        }
    }
}

/// A data test's configuration keys, beside its arguments or under `config:`.
const TEST_CONFIG_KEYS: &[&str] = &[
    "config",
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
];

fn is_test_config(key: &Node) -> bool {
    key.as_str().is_some_and(|k| TEST_CONFIG_KEYS.contains(&k))
}

/// The configs of the data tests under `node` (an entry, its columns, a source's tables),
/// rendered as dbt's test builder renders them; the tests' arguments are left for compile time.
fn render_test_configs(
    node: &mut Node,
    file: &Path,
    context: &YamlContext,
    errors: &mut Vec<Diagnostic>,
) {
    match &mut node.value {
        yaml::Value::Seq(items) => {
            for item in items {
                render_test_configs(item, file, context, errors);
            }
        }
        yaml::Value::Map(entries) => {
            for (key, value) in entries {
                match key.as_str() {
                    Some("tests" | "data_tests") => {
                        let yaml::Value::Seq(tests) = &mut value.value else {
                            continue;
                        };
                        for test in tests {
                            let yaml::Value::Map(test) = &mut test.value else {
                                continue;
                            };
                            // `{name: {args, config}}`, or the keys beside `test_name:`.
                            let configs: Vec<&mut Node> = if test.len() == 1 {
                                test.iter_mut()
                                    .filter_map(|(_, body)| match &mut body.value {
                                        yaml::Value::Map(body) => Some(body),
                                        _ => None,
                                    })
                                    .flatten()
                                    .filter(|(key, _)| is_test_config(key))
                                    .map(|(_, value)| value)
                                    .collect()
                            } else {
                                test.iter_mut()
                                    .filter(|(key, _)| is_test_config(key))
                                    .map(|(_, value)| value)
                                    .collect()
                            };
                            for value in configs {
                                render_yaml(value, file, &[], context, errors);
                            }
                        }
                    }
                    Some("columns" | "tables") => {
                        render_test_configs(value, file, context, errors);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}
