//! Data tests as nodes: generic tests declared in schema YAML (`- unique`,
//! `- accepted_values: {values: [...]}`, `- dbt_utils.expression_is_true: {...}`) and singular
//! tests (`.sql` files under the test paths).
//!
//! A generic test becomes a node whose SQL calls the test's macro (`test_unique`...) with the
//! tested model as `model`, the column as `column_name` and the declared arguments, named the
//! way dbt names it (`unique_orders_order_id`, `accepted_values_orders_status__placed__shipped`).

use std::collections::BTreeMap;
use std::path::Path;

use kiln_core::diagnostic::DiagnosticSink;
use kiln_core::{
    Diagnostic, Location, Node, NodeConfig, RawConfig, RefCall, Relation, ResourceType, SourceCall,
    TestInfo, TestKind, WrongType,
};
use kiln_project::project_file::FolderConfig;
use kiln_project::schema::{ColumnProps, TestDecl};
use kiln_project::{Package, Project};
use md5::{Digest, Md5};
use serde_json::Value as Json;

use crate::discover::Discovered;

/// Generic tests whose built-in macros call no `ref` or `source` of their own.
const BUILT_IN_TESTS: &[&str] = &["unique", "not_null", "accepted_values", "relationships"];

/// `ref('m')`, `ref("pkg", "m")` or `source('s', 't')` written as a test argument.
fn parse_call(text: &str) -> Option<(&str, Vec<String>)> {
    let text = text.trim();
    let (function, rest) = text.split_once('(')?;
    let inner = rest.strip_suffix(')')?;
    let args: Vec<String> = inner
        .split(',')
        .map(|a| a.trim().trim_matches(['\'', '"']).to_owned())
        .collect();
    matches!(function, "ref" | "source").then_some((function, args))
}

/// The `ref`s and `source`s a built-in generic test makes: its target, then its arguments.
fn static_calls(spec: &Spec, target: &Target<'_>) -> Option<(Vec<RefCall>, Vec<SourceCall>)> {
    if spec.namespace.is_some() || !BUILT_IN_TESTS.contains(&spec.test_name.as_str()) {
        return None;
    }
    let mut refs = Vec::new();
    let mut sources = Vec::new();
    let strings = std::iter::once(target.expression.clone()).chain(
        spec.args
            .values()
            .filter_map(|v| v.as_str().filter(|s| is_expression(s)).map(str::to_owned)),
    );
    for text in strings {
        match parse_call(&text)? {
            ("ref", args) => match args.as_slice() {
                [name] => refs.push(RefCall {
                    package: None,
                    name: name.clone(),
                    version: None,
                }),
                [package, name] => refs.push(RefCall {
                    package: Some(package.clone()),
                    name: name.clone(),
                    version: None,
                }),
                _ => return None,
            },
            (_, args) => match args.as_slice() {
                [source, table] => sources.push(SourceCall {
                    source: source.clone(),
                    table: table.clone(),
                }),
                _ => return None,
            },
        }
    }
    Some((refs, sources))
}

/// Config keys that may sit directly in a test's entry (dbt's older form) rather than under
/// `config:`; every other key is an argument of the test.
const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "store_failures",
    "store_failures_as",
    "fail_calc",
    "tags",
    "enabled",
    "meta",
    "database",
    "schema",
    "alias",
];

/// What is being tested.
pub struct Target<'a> {
    /// `orders`, or `raw_shop_orders` for a source table (used in the test's name).
    pub name: String,
    /// The Jinja that yields the relation: `ref("orders")` or `source("s", "t")`.
    pub expression: String,
    /// The same call as dbt writes it in the test's `model` argument: `ref('orders')`.
    pub dbt_call: String,
    /// The YAML entry the test is declared under: `models.orders`, `sources.shop`.
    pub file_key_name: String,
    pub column: Option<&'a str>,
    /// The column's `quote: true`.
    pub quote_column: bool,
    pub is_source: bool,
}

impl Target<'_> {
    /// The `column_name` argument: the column, in double quotes when it is quoted.
    fn column_arg(&self) -> Option<String> {
        self.column.map(|column| {
            if self.quote_column {
                format!("\"{}\"", column.replace('"', "\"\""))
            } else {
                column.to_owned()
            }
        })
    }
}

/// A declared test, read.
struct Spec {
    namespace: Option<String>,
    test_name: String,
    args: BTreeMap<String, Json>,
    config: serde_json::Map<String, Json>,
    custom_name: Option<String>,
}

/// A test entry in schema YAML that is not a test declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum SpecError {
    #[error("the arguments of test `{name}` must be a mapping, found {found}")]
    Arguments { name: String, found: Json },
    #[error("a test is a name or a mapping with one name, found {0}")]
    Shape(Json),
    #[error("`{key}` of test `{name}` must be a mapping")]
    NotAMapping { key: &'static str, name: String },
}

fn read_spec(decl: &TestDecl) -> Result<Spec, SpecError> {
    let (full_name, body) = match &decl.definition {
        Json::String(name) => (name.clone(), serde_json::Map::new()),
        // `{test_name: unique, name: ..., config: ...}`: the name beside the arguments.
        Json::Object(map) if map.get("test_name").is_some_and(Json::is_string) => {
            let mut body = map.clone();
            let name = body
                .remove("test_name")
                .and_then(|n| n.as_str().map(str::to_owned));
            (name.unwrap_or_default(), body)
        }
        Json::Object(map) if map.len() == 1 => {
            let (name, body) = map
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
                .unwrap_or_default();
            match body {
                Json::Object(body) => (name, body),
                Json::Null => (name, serde_json::Map::new()),
                found => return Err(SpecError::Arguments { name, found }),
            }
        }
        other => return Err(SpecError::Shape(other.clone())),
    };
    let (namespace, test_name) = match full_name.split_once('.') {
        Some((namespace, name)) => (Some(namespace.to_owned()), name.to_owned()),
        None => (None, full_name.clone()),
    };
    let mut args = BTreeMap::new();
    let mut config = serde_json::Map::new();
    let mut custom_name = None;
    for (key, value) in body {
        match key.as_str() {
            "config" => match value {
                Json::Object(map) => config.extend(map),
                _ => {
                    return Err(SpecError::NotAMapping {
                        key: "config",
                        name: full_name,
                    });
                }
            },
            "arguments" => match value {
                Json::Object(map) => args.extend(map),
                _ => {
                    return Err(SpecError::NotAMapping {
                        key: "arguments",
                        name: full_name,
                    });
                }
            },
            "name" => custom_name = value.as_str().map(str::to_owned),
            "description" => {}
            key if TEST_CONFIG_KEYS.contains(&key) => {
                config.insert(key.to_owned(), value);
            }
            _ => {
                args.insert(key, value);
            }
        }
    }
    Ok(Spec {
        namespace,
        test_name,
        args,
        config,
        custom_name,
    })
}

/// `ref('x')` and `source('a', 'b')` arguments are Jinja expressions, as in dbt.
fn is_expression(text: &str) -> bool {
    let text = text.trim();
    (text.starts_with("ref(") || text.starts_with("source(")) && text.ends_with(')')
}

/// A test argument with Jinja in it, as an expression that renders it when the test compiles
/// (as dbt renders its tests' keyword arguments): `"{{ x() }}"` is `(x())`, keeping its type;
/// `"a {{ x }}"` is `("a " ~ (x))`.
fn template_string(text: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start..].find("}}") else {
            break;
        };
        if start > 0 {
            parts.push(Json::String(rest[..start].to_owned()).to_string());
        }
        let expression = rest[start + 2..start + length].trim();
        let expression = expression.strip_prefix('-').unwrap_or(expression);
        let expression = expression.strip_suffix('-').unwrap_or(expression);
        parts.push(format!("({})", expression.trim()));
        rest = &rest[start + length + 2..];
    }
    if !rest.is_empty() {
        parts.push(Json::String(rest.to_owned()).to_string());
    }
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("({})", parts.join(" ~ ")),
    }
}

/// A JSON value as a Jinja literal.
fn jinja_literal(value: &Json) -> String {
    match value {
        Json::Null => "none".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) if is_expression(s) => s.trim().to_owned(),
        Json::String(s) if s.contains("{{") => template_string(s),
        Json::String(s) => Json::String(s.clone()).to_string(),
        Json::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(jinja_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", Json::String(k.clone()), jinja_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `str()` of a value read from YAML: strings as they are, the rest as Python prints
/// them (`True`, `None`, `['a', 'b']`, `{'k': 1}`).
fn python_str(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of a value read from YAML.
fn python_repr(value: &Json) -> String {
    match value {
        Json::Null => "None".to_owned(),
        Json::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => kiln_jinja::python_str_repr(s),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", kiln_jinja::python_str_repr(k), python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// dbt's `re.sub("[^0-9a-zA-Z_]+", "_", text)`.
fn clean(text: &str) -> String {
    let mut out = String::new();
    let mut last_underscore = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            last_underscore = false;
        } else if !last_underscore {
            out.push('_');
            last_underscore = true;
        }
    }
    out
}

/// The hex md5 of `text` (dbt's `md5`).
pub(crate) fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The keyword arguments dbt passes to a generic test's macro, as it records them in
/// `test_metadata.kwargs`: the declared arguments, `column_name` and `model`.
fn dbt_kwargs(spec: &Spec, target: &Target<'_>) -> BTreeMap<String, Json> {
    let mut kwargs = spec.args.clone();
    if let Some(column) = target.column_arg() {
        kwargs.insert("column_name".to_owned(), Json::String(column));
    }
    kwargs.insert(
        "model".to_owned(),
        Json::String(format!("{{{{ get_where_subquery({}) }}}}", target.dbt_call)),
    );
    kwargs
}

/// dbt's generic test names (`synthesize_generic_test_names`): the full name
/// `<namespace>_<test>_<target>_<arguments sorted by name, joined by __>` for the unique id and
/// fqn, and the short name for the relation and compiled file (the same, or the first 30
/// characters and an md5 of the full name when it has 64 characters or more).
fn test_name(spec: &Spec, target: &Target<'_>) -> (String, String) {
    let mut test_type = if target.is_source {
        format!("source_{}", spec.test_name)
    } else {
        spec.test_name.clone()
    };
    if let Some(namespace) = &spec.namespace {
        test_type = format!("{namespace}_{test_type}");
    }
    let mut parts = Vec::new();
    for (name, value) in dbt_kwargs(spec, target) {
        if name == "model" {
            continue;
        }
        match value {
            Json::Object(map) => parts.extend(map.values().map(python_str)),
            Json::Array(items) => parts.extend(items.iter().map(python_str)),
            other => parts.push(python_str(&other)),
        }
    }
    let unique = parts
        .iter()
        .map(|p| clean(p))
        .collect::<Vec<_>>()
        .join("__");
    let identifier = format!("{test_type}_{}", target.name);
    let full = format!("{identifier}_{unique}");
    if full.chars().count() >= 64 {
        let truncated: String = identifier.chars().take(30).collect();
        let short = format!("{truncated}_{}", md5_hex(&full));
        (full, short)
    } else {
        (full.clone(), full)
    }
}

/// dbt's `test_metadata`: the test's name, its namespace and its macro's keyword arguments.
fn test_metadata(spec: &Spec, target: &Target<'_>) -> Json {
    let kwargs: serde_json::Map<String, Json> = dbt_kwargs(spec, target).into_iter().collect();
    serde_json::json!({
        "name": spec.test_name,
        "kwargs": kwargs,
        "namespace": spec.namespace,
    })
}

/// The 10 characters that end a generic test's unique id: dbt's md5 of its name and of its
/// `test_metadata` as Python's repr writes it, every leaf value as a string.
fn test_hash(name: &str, metadata: &Json) -> String {
    fn hashable(value: &Json) -> String {
        match value {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let items: Vec<String> = keys
                    .into_iter()
                    .map(|k| format!("{}: {}", kiln_jinja::python_str_repr(k), hashable(&map[k])))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Json::Array(items) => format!(
                "[{}]",
                items.iter().map(hashable).collect::<Vec<_>>().join(", ")
            ),
            other => kiln_jinja::python_str_repr(&python_str(other)),
        }
    }
    let digest = md5_hex(&format!("{name}{}", hashable(metadata)));
    digest[digest.len() - 10..].to_owned()
}

/// The Jinja of a generic test node: a call of the test's macro.
fn generic_sql(spec: &Spec, target: &Target<'_>, where_: Option<&str>) -> String {
    let macro_name = match &spec.namespace {
        Some(namespace) => format!("{namespace}.test_{}", spec.test_name),
        None => format!("test_{}", spec.test_name),
    };
    let model = match where_ {
        Some(condition) => format!(
            "'(select * from ' ~ {} ~ ' where ' ~ {} ~ ') dbt_subquery'",
            target.expression,
            Json::String(condition.to_owned())
        ),
        None => target.expression.clone(),
    };
    let mut args = vec![format!("model={model}")];
    if let Some(column) = target.column_arg() {
        args.push(format!("column_name={}", Json::String(column)));
    }
    for (key, value) in &spec.args {
        args.push(format!("{key}={}", jinja_literal(value)));
    }
    format!("{{{{ {macro_name}({}) }}}}", args.join(", "))
}

fn base_test_config(
    trees: &[&[FolderConfig]],
    fqn: &[String],
    own: serde_json::Map<String, Json>,
) -> Result<RawConfig, WrongType> {
    // Tests store their failures in `<target schema>_dbt_test__audit` unless configured otherwise.
    let mut config = RawConfig::from_json(serde_json::json!({"schema": "dbt_test__audit"}))?;
    for layer in crate::discover::folder_layers(trees, fqn) {
        config.merge(layer.config.clone());
    }
    config.merge(RawConfig::from_json(Json::Object(own))?);
    Ok(config)
}

/// Where a test is declared.
struct Origin<'a> {
    /// Relative to the package.
    path: &'a Path,
    /// Relative to the root project.
    display: &'a Path,
    line: usize,
}

fn test_node(
    package: &Package,
    unique_name: &str,
    fqn: Vec<String>,
    origin: Origin<'_>,
    raw_code: String,
    info: TestInfo,
) -> Node {
    let Origin {
        path,
        display,
        line,
    } = origin;
    Node {
        unique_id: format!("test.{}.{unique_name}", package.name),
        name: unique_name
            .rsplit_once('.')
            .map_or(unique_name, |(name, _)| name)
            .to_owned(),
        resource_type: ResourceType::Test,
        package: package.name.clone(),
        fqn,
        original_file_path: path.to_path_buf(),
        display_path: display.to_path_buf(),
        location: Location::new(display, line),
        raw_code,
        config: NodeConfig::default_for(ResourceType::Test),
        relation: Relation::new("", "", unique_name),
        description: String::new(),
        columns: Vec::new(),
        meta: BTreeMap::new(),
        refs: Vec::new(),
        sources: Vec::new(),
        depends_on: Vec::new(),
        macros: Vec::new(),
        compiled_code: None,
        source: None,
        patch_path: None,
        test: Some(info),
        unit_test: None,
        version: None,
        latest_version: None,
        time_spine: None,
        exposure: None,
    }
}

/// The targets of a model's (or source table's) tests in dbt's order: its columns', then its own.
/// `calls` is the relation as Kiln renders it and as dbt writes it in the test's `model`.
fn push_targets<'a>(
    targets: &mut Vec<(Target<'a>, &'a [TestDecl])>,
    name: &str,
    file_key_name: String,
    calls: (String, String),
    is_source: bool,
    columns: &'a [ColumnProps],
    own: &'a [TestDecl],
) {
    let (expression, dbt_call) = calls;
    let target = |column: Option<&'a ColumnProps>| Target {
        name: name.to_owned(),
        expression: expression.clone(),
        dbt_call: dbt_call.clone(),
        file_key_name: file_key_name.clone(),
        column: column.map(|c| c.name.as_str()),
        quote_column: column.is_some_and(|c| c.quote == Some(true)),
        is_source,
    };
    for column in columns {
        targets.push((target(Some(column)), &column.data_test_decls));
    }
    targets.push((target(None), own));
}

/// Every test of a package: generic tests of its schema YAML and its singular tests.
pub fn discover_tests(
    project: &Project,
    package: &Package,
    sink: &mut DiagnosticSink,
) -> Vec<Discovered> {
    let mut trees = vec![package.file.tests.as_slice()];
    if !package.is_root {
        trees.push(project.root_package().file.tests.as_slice());
    }
    let mut out = Vec::new();
    for file in &package.schema_files {
        let path = file
            .path
            .strip_prefix(&package.rel_dir)
            .unwrap_or(&file.path)
            .to_path_buf();
        let folders: Vec<String> = path
            .parent()
            .map(|p| {
                p.components()
                    .skip(1)
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // As dbt parses them: a model's (or source table's) column tests, then its own.
        let mut targets: Vec<(Target<'_>, &[TestDecl])> = Vec::new();
        let entries = [
            ("models", &file.models),
            ("seeds", &file.seeds),
            ("snapshots", &file.snapshots),
        ];
        for (key, entry) in entries
            .into_iter()
            .flat_map(|(k, es)| es.iter().map(move |e| (k, e)))
        {
            let own = &entry.data_test_decls;
            let key = format!("{key}.{}", entry.name);
            let versions = entry.model_versions();
            if versions.is_empty() {
                let calls = (
                    format!("ref({})", Json::String(entry.name.clone())),
                    format!("ref('{}')", entry.name),
                );
                push_targets(
                    &mut targets,
                    &entry.name,
                    key,
                    calls,
                    false,
                    &entry.columns,
                    own,
                );
                continue;
            }
            // A versioned model's tests are each version's, named `<test>_<model>_v<v>_...`.
            for version in versions {
                let calls = (
                    format!(
                        "ref({}, version={})",
                        Json::String(entry.name.clone()),
                        Json::String(version.label.clone())
                    ),
                    format!("ref('{}', version='{}')", entry.name, version.label),
                );
                let name = format!("{}_v{}", entry.name, version.label);
                push_targets(
                    &mut targets,
                    &name,
                    key.clone(),
                    calls,
                    false,
                    &entry.columns,
                    own,
                );
            }
        }
        for source in &file.sources {
            for table in &source.tables {
                let calls = (
                    format!(
                        "source({}, {})",
                        Json::String(source.name.clone()),
                        Json::String(table.name.clone())
                    ),
                    format!("source('{}', '{}')", source.name, table.name),
                );
                let name = format!("{}_{}", source.name, table.name);
                let (own, key) = (&table.data_test_decls, format!("sources.{}", source.name));
                push_targets(&mut targets, &name, key, calls, true, &table.columns, own);
            }
        }
        for (target, decls) in targets {
            for decl in decls {
                let at = Location::new(&file.path, decl.line);
                let spec = match read_spec(decl) {
                    Ok(spec) => spec,
                    Err(error) => {
                        sink.push(Diagnostic::error(error.to_string()).at(at));
                        continue;
                    }
                };
                let (name, short_name) = match &spec.custom_name {
                    Some(custom) => (custom.clone(), custom.clone()),
                    None => test_name(&spec, &target),
                };
                let mut fqn = vec![package.name.clone()];
                fqn.extend(folders.iter().cloned());
                fqn.push(name.clone());
                let mut own_config = spec.config.clone();
                if short_name != name && !own_config.contains_key("alias") {
                    own_config.insert("alias".to_owned(), Json::String(short_name));
                }
                let config = match base_test_config(&trees, &fqn, own_config) {
                    Ok(config) => config,
                    Err(error) => {
                        sink.push(Diagnostic::error(error.to_string()).at(at));
                        continue;
                    }
                };
                let sql = generic_sql(&spec, &target, config.where_.as_deref());
                let metadata = test_metadata(&spec, &target);
                let hash = test_hash(&name, &metadata);
                let info = TestInfo {
                    kind: TestKind::Generic,
                    test_name: spec.test_name.clone(),
                    column_name: target.column.map(str::to_owned),
                    attached_node: None,
                    attached_to_source: target.is_source,
                    // A versioned model's tests render their `ref(..., version=...)`.
                    static_calls: static_calls(&spec, &target)
                        .filter(|_| !target.expression.contains("version=")),
                    metadata: Some(metadata),
                    file_key_name: Some(target.file_key_name.clone()),
                };
                let origin = Origin {
                    path: &path,
                    display: &file.path,
                    line: decl.line,
                };
                let node = test_node(package, &format!("{name}.{hash}"), fqn, origin, sql, info);
                out.push(Discovered {
                    node,
                    base_config: config,
                });
            }
        }
    }
    for file in &package.tests {
        let mut fqn = vec![package.name.clone()];
        fqn.extend(file.folders.iter().cloned());
        fqn.push(file.name.clone());
        let config = match base_test_config(&trees, &fqn, serde_json::Map::new()) {
            Ok(config) => config,
            Err(error) => {
                sink.push(Diagnostic::error(error.to_string()).at(Location::new(&file.display, 1)));
                continue;
            }
        };
        let info = TestInfo {
            kind: TestKind::Singular,
            test_name: file.name.clone(),
            column_name: None,
            attached_node: None,
            attached_to_source: false,
            static_calls: None,
            metadata: None,
            file_key_name: None,
        };
        let origin = Origin {
            path: &file.path,
            display: &file.display,
            line: 1,
        };
        let node = test_node(package, &file.name, fqn, origin, file.text.clone(), info);
        out.push(Discovered {
            node,
            base_config: config,
        });
    }
    // Two tests with one name would share a unique id: the second one says so.
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    out.retain(|d| match seen.get(&d.node.unique_id) {
        Some(first) => {
            sink.push(
                Diagnostic::error(format!("two tests are both named `{}`", d.node.name))
                    .at(d.node.location.clone())
                    .note(format!("the other one is at {first}"))
                    .help("give one of them a `name:`"),
            );
            false
        }
        None => {
            seen.insert(d.node.unique_id.clone(), d.node.location.clone());
            true
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: Json) -> Spec {
        read_spec(&TestDecl {
            definition: json,
            line: 1,
        })
        .unwrap()
    }

    fn target(column: Option<&str>) -> Target<'_> {
        Target {
            name: "orders".to_owned(),
            expression: "ref(\"orders\")".to_owned(),
            dbt_call: "ref('orders')".to_owned(),
            file_key_name: "models.orders".to_owned(),
            column,
            quote_column: false,
            is_source: false,
        }
    }

    #[test]
    fn names_follow_dbt() {
        let name = |s: &Spec, t: &Target<'_>| test_name(s, t).0;
        assert_eq!(
            name(
                &spec(serde_json::json!("unique")),
                &target(Some("order_id"))
            ),
            "unique_orders_order_id"
        );
        let accepted =
            spec(serde_json::json!({"accepted_values": {"values": ["placed", "shipped"]}}));
        assert_eq!(
            name(&accepted, &target(Some("status"))),
            "accepted_values_orders_status__placed__shipped"
        );
        let relationships = spec(
            serde_json::json!({"relationships": {"to": "ref('customers')", "field": "customer_id"}}),
        );
        assert_eq!(
            name(&relationships, &target(Some("customer_id"))),
            "relationships_orders_customer_id__customer_id__ref_customers_"
        );
        // The expected names and hashes below were computed by dbt-core 1.11's own
        // `synthesize_generic_test_names` and `create_test_node` hash.
        let long = spec(
            serde_json::json!({"accepted_values": {"values": ["a_very_long_value", "another_very_long_value", "and_one_more"]}}),
        );
        assert_eq!(
            test_name(&long, &target(Some("status"))),
            (
                "accepted_values_orders_status__a_very_long_value__another_very_long_value__and_one_more"
                    .to_owned(),
                "accepted_values_orders_dd8441a8c9b48d09b228f11626724d62".to_owned()
            )
        );
        // Arguments in name order, `column_name` among them; the package prefixes the name.
        let range = spec(
            serde_json::json!({"dbt_utils.accepted_range": {"min_value": 0, "inclusive": true, "max_value": 11.5}}),
        );
        assert_eq!(
            name(&range, &target(Some("id"))),
            "dbt_utils_accepted_range_orders_id__True__11_5__0"
        );
        assert_eq!(
            test_hash(
                "dbt_utils_accepted_range_orders_id__True__11_5__0",
                &test_metadata(&range, &target(Some("id")))
            ),
            "217d1cb7c4"
        );
        let not_null = spec(serde_json::json!("not_null"));
        assert_eq!(
            test_hash(
                "not_null_orders_id",
                &test_metadata(&not_null, &target(Some("id")))
            ),
            "84ef11d8fe"
        );
        let source = Target {
            name: "shop_orders".to_owned(),
            expression: "source(\"shop\", \"orders\")".to_owned(),
            dbt_call: "source('shop', 'orders')".to_owned(),
            file_key_name: "sources.shop".to_owned(),
            column: Some("Id"),
            quote_column: true,
            is_source: true,
        };
        assert_eq!(name(&not_null, &source), "source_not_null_shop_orders__Id_");
    }

    #[test]
    fn arguments_and_config_are_told_apart() {
        let s = spec(
            serde_json::json!({"accepted_values": {"values": [1, 2], "quote": false, "severity": "warn", "config": {"where": "x > 1"}}}),
        );
        assert_eq!(s.args.keys().collect::<Vec<_>>(), ["quote", "values"]);
        assert_eq!(s.config.keys().collect::<Vec<_>>(), ["severity", "where"]);
        let newer = spec(
            serde_json::json!({"accepted_values": {"arguments": {"values": ["a"]}, "config": {"severity": "warn"}}}),
        );
        assert_eq!(newer.args.keys().collect::<Vec<_>>(), ["values"]);
        // dbt's other form: the test's name beside its arguments.
        let named = spec(
            serde_json::json!({"test_name": "accepted_values", "name": "status_ok", "values": ["a"]}),
        );
        assert_eq!(named.test_name, "accepted_values");
        assert_eq!(named.custom_name.as_deref(), Some("status_ok"));
        assert_eq!(named.args.keys().collect::<Vec<_>>(), ["values"]);
    }

    #[test]
    fn built_in_tests_know_their_refs_without_rendering() {
        let relationships = spec(
            serde_json::json!({"relationships": {"to": "ref('customers')", "field": "customer_id"}}),
        );
        let (refs, sources) = static_calls(&relationships, &target(Some("customer_id"))).unwrap();
        let names: Vec<&str> = refs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["orders", "customers"]);
        assert!(sources.is_empty());
        let custom = spec(serde_json::json!({"positive": {}}));
        assert!(
            static_calls(&custom, &target(Some("amount"))).is_none(),
            "custom tests are rendered"
        );
    }

    #[test]
    fn jinja_in_test_arguments_renders_when_the_test_compiles() {
        assert_eq!(
            template_string("{{ dbt.type_string() }}"),
            "(dbt.type_string())"
        );
        assert_eq!(
            template_string("x > {{ var('min') }} and y"),
            r#"("x > " ~ (var('min')) ~ " and y")"#
        );
        assert_eq!(template_string("{{- 1 -}}"), "(1)");
    }

    #[test]
    fn generic_sql_calls_the_test_macro() {
        let s = spec(
            serde_json::json!({"relationships": {"to": "ref('customers')", "field": "customer_id"}}),
        );
        assert_eq!(
            generic_sql(&s, &target(Some("customer_id")), None),
            r#"{{ test_relationships(model=ref("orders"), column_name="customer_id", field="customer_id", to=ref('customers')) }}"#
        );
        let unique = spec(
            serde_json::json!({"dbt_utils.unique_combination": {"combination_of_columns": ["a", "b"]}}),
        );
        assert_eq!(
            generic_sql(&unique, &target(None), Some("a > 0")),
            r#"{{ dbt_utils.test_unique_combination(model='(select * from ' ~ ref("orders") ~ ' where ' ~ "a > 0" ~ ') dbt_subquery', combination_of_columns=["a", "b"]) }}"#
        );
    }
}
