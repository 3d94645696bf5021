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
use kiln_project::schema::TestDecl;
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
                }),
                [package, name] => refs.push(RefCall {
                    package: Some(package.clone()),
                    name: name.clone(),
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
    /// The Jinja that yields the relation: `ref('orders')` or `source('s', 't')`.
    pub expression: String,
    pub column: Option<&'a str>,
    /// The column's `quote: true`.
    pub quote_column: bool,
    pub is_source: bool,
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

/// A JSON value as a Jinja literal.
fn jinja_literal(value: &Json) -> String {
    match value {
        Json::Null => "none".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) if is_expression(s) => s.trim().to_owned(),
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

/// The words of a value for a test's name (`ref('customers')` -> `ref_customers_`).
fn flatten(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        Json::Object(map) => map.values().for_each(|v| flatten(v, out)),
        Json::String(s) => out.push(s.clone()),
        Json::Null => out.push("None".to_owned()),
        Json::Bool(b) => out.push(if *b { "True" } else { "False" }.to_owned()),
        Json::Number(n) => out.push(n.to_string()),
    }
}

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

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// dbt's generic test name, `<test>_<target>_<column>__<args>`, and the short name used for its
/// relation and file (the same, or with an md5 when the name has 64 characters or more).
fn test_name(spec: &Spec, target: &Target<'_>) -> (String, String) {
    let prefix = if target.is_source {
        format!("source_{}", spec.test_name)
    } else {
        spec.test_name.clone()
    };
    let mut words = Vec::new();
    for value in spec.args.values() {
        flatten(value, &mut words);
    }
    let mut name = format!("{prefix}_{}", target.name);
    if let Some(column) = target.column {
        name.push('_');
        name.push_str(column);
    }
    if !words.is_empty() {
        name.push_str("__");
        name.push_str(
            &words
                .iter()
                .map(|w| clean(w))
                .collect::<Vec<_>>()
                .join("__"),
        );
    }
    let name = clean(&name);
    if name.len() >= 64 {
        let short: String = prefix.chars().take(30).collect();
        let short = format!("{short}_{}", md5_hex(&name));
        (name, short)
    } else {
        (name.clone(), name)
    }
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
    if let Some(column) = target.column {
        let column = if target.quote_column {
            format!("\"{}\"", column.replace('"', "\"\""))
        } else {
            column.to_owned()
        };
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
        compiled_code: None,
        source: None,
        patch_path: None,
        test: Some(info),
        unit_test: None,
    }
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
        let mut targets: Vec<(Target<'_>, &[TestDecl])> = Vec::new();
        for entry in file.models.iter().chain(&file.seeds).chain(&file.snapshots) {
            let expression = format!("ref({})", Json::String(entry.name.clone()));
            targets.push((
                Target {
                    name: entry.name.clone(),
                    expression: expression.clone(),
                    column: None,
                    quote_column: false,
                    is_source: false,
                },
                &entry.data_test_decls,
            ));
            for column in &entry.columns {
                targets.push((
                    Target {
                        name: entry.name.clone(),
                        expression: expression.clone(),
                        column: Some(&column.name),
                        quote_column: column.quote == Some(true),
                        is_source: false,
                    },
                    &column.data_test_decls,
                ));
            }
        }
        for source in &file.sources {
            for table in &source.tables {
                let expression = format!(
                    "source({}, {})",
                    Json::String(source.name.clone()),
                    Json::String(table.name.clone())
                );
                let name = format!("{}_{}", source.name, table.name);
                targets.push((
                    Target {
                        name: name.clone(),
                        expression: expression.clone(),
                        column: None,
                        quote_column: false,
                        is_source: true,
                    },
                    &table.data_test_decls,
                ));
                for column in &table.columns {
                    targets.push((
                        Target {
                            name: name.clone(),
                            expression: expression.clone(),
                            column: Some(&column.name),
                            quote_column: column.quote == Some(true),
                            is_source: true,
                        },
                        &column.data_test_decls,
                    ));
                }
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
                let hash: String =
                    md5_hex(&format!("{}{}{name}", package.name, file.path.display()))
                        .chars()
                        .take(10)
                        .collect();
                let info = TestInfo {
                    kind: TestKind::Generic,
                    test_name: spec.test_name.clone(),
                    column_name: target.column.map(str::to_owned),
                    attached_node: None,
                    attached_to_source: target.is_source,
                    static_calls: static_calls(&spec, &target),
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
        let long = spec(
            serde_json::json!({"accepted_values": {"values": ["a_very_long_value", "another_very_long_value", "and_one_more"]}}),
        );
        let (full, short) = test_name(&long, &target(Some("status")));
        assert!(
            full.ends_with("__a_very_long_value__another_very_long_value__and_one_more"),
            "{full}"
        );
        assert!(
            short.starts_with("accepted_values_") && short.len() == 16 + 32,
            "{short}"
        );
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
