//! Unit tests (dbt 1.8's `unit_tests:` in schema YAML): one node per test, checked against the
//! project once every model is known, so that a test naming a missing model or input fails the
//! parse at its YAML line instead of the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_core::diagnostic::DiagnosticSink;
use kiln_core::unit_test::{FixtureRow, FixtureRows, Given, Input, Overrides, UnitTestSpec};
use kiln_core::{CliFlags, Diagnostic, Location, Node, RawConfig, Relation, ResourceType};
use kiln_graph::NameIndex;
use kiln_project::schema::{UnitFixtureProps, UnitTestProps};
use kiln_project::{Package, Project};
use serde_json::Value as Json;

/// The unit tests of every package, as nodes that depend on the model they test. Disabled
/// tests, and tests of disabled models, are left out.
pub fn unit_test_nodes(
    project: &Project,
    nodes: &BTreeMap<String, Node>,
    names: &NameIndex,
    cli: &CliFlags,
    sink: &mut DiagnosticSink,
) -> Vec<Node> {
    let mut out = Vec::new();
    for package in &project.packages {
        for file in &package.schema_files {
            for props in &file.unit_tests {
                let at = Location::new(&file.path, props.line);
                match unit_test_node(project, package, &file.path, props, nodes, names, cli) {
                    Ok(Some(node)) => out.push(node),
                    Ok(None) => {}
                    Err(error) if error.location.is_none() => sink.push(error.at(at)),
                    Err(error) => sink.push(error),
                }
            }
        }
    }
    out
}

fn unit_test_node(
    project: &Project,
    package: &Package,
    yaml_path: &Path,
    props: &UnitTestProps,
    nodes: &BTreeMap<String, Node>,
    names: &NameIndex,
    cli: &CliFlags,
) -> Result<Option<Node>, Diagnostic> {
    let config = RawConfig::from_json(
        props
            .config
            .clone()
            .unwrap_or_else(|| Json::Object(Default::default())),
    )
    .map_err(|error| Diagnostic::error(format!("unit test `{}`: {error}", props.name)))?
    .resolve(ResourceType::UnitTest, cli)
    .map_err(|error| Diagnostic::error(format!("unit test `{}`: {error}", props.name)))?;
    if !config.enabled {
        return Ok(None);
    }
    let model_id = match names.resolve_ref(&package.name, None, &props.model) {
        Ok(id) => id.to_owned(),
        Err(_) => {
            let models = nodes
                .values()
                .filter(|n| n.resource_type == ResourceType::Model)
                .map(|n| n.name.as_str());
            let help = match kiln_core::diagnostic::closest(&props.model, models) {
                Some(known) => format!("did you mean `{known}`?"),
                None => "`model:` names a model of this project".to_owned(),
            };
            return Err(Diagnostic::error(format!(
                "unit test `{}` tests model `{}`, which does not exist (or is disabled)",
                props.name, props.model
            ))
            .help(help));
        }
    };
    let model = &nodes[&model_id];
    if model.resource_type != ResourceType::Model {
        return Err(Diagnostic::error(format!(
            "unit test `{}` tests `{}`, a {}: unit tests test models",
            props.name, props.model, model.resource_type
        )));
    }
    let origin = Origin {
        project,
        package,
        yaml_path,
        test: &props.name,
    };
    let mut given = Vec::new();
    for entry in &props.given {
        let at = Location::new(yaml_path, entry.line);
        let text = entry.input.as_deref().unwrap_or_default();
        let input = Input::parse(text).ok_or_else(|| {
            Diagnostic::error(format!(
                "unit test `{}`: `input: {text}` is not an input Kiln can stand in for",
                props.name
            ))
            .at(at.clone())
            .help(
                "write `input: ref('model')`, `input: source('source', 'table')` or `input: this`",
            )
        })?;
        let node = match &input {
            Input::This => Ok(model_id.clone()),
            Input::Ref(call) => names
                .resolve_ref(&package.name, call.package.as_deref(), &call.lookup_name())
                .map(str::to_owned),
            Input::Source(call) => names
                .resolve_source(&call.source, &call.table)
                .map(str::to_owned),
        }
        .map_err(|error| {
            Diagnostic::error(format!(
                "unit test `{}`: input {input}: {error}",
                props.name
            ))
            .at(at.clone())
        })?;
        let seed = nodes
            .get(&node)
            .filter(|n| n.resource_type == ResourceType::Seed);
        let rows = fixture_rows(&origin, entry, "given", seed)?;
        given.push(Given {
            input,
            node,
            rows,
            line: entry.line,
        });
    }
    let expect = fixture_rows(&origin, &props.expect, "expect", None)?;
    let overrides = Overrides {
        macros: props.overrides.macros.clone(),
        vars: props.overrides.vars.clone(),
        env_vars: props
            .overrides
            .env_vars
            .iter()
            .map(|(k, v)| (k.clone(), json_text(v)))
            .collect(),
    };
    let original_file_path = yaml_path
        .strip_prefix(&package.rel_dir)
        .unwrap_or(yaml_path)
        .to_path_buf();
    let mut fqn = vec![package.name.clone()];
    let folders = original_file_path.parent().into_iter().flat_map(|p| {
        p.components()
            .skip(1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
    });
    fqn.extend(folders);
    fqn.extend([props.model.clone(), props.name.clone()]);
    let mut relation = model.relation.clone();
    relation.identifier = props.name.clone();
    Ok(Some(Node {
        unique_id: format!("unit_test.{}.{}.{}", package.name, props.model, props.name),
        name: props.name.clone(),
        resource_type: ResourceType::UnitTest,
        package: package.name.clone(),
        fqn,
        original_file_path,
        display_path: yaml_path.to_path_buf(),
        location: Location::new(yaml_path, props.line),
        raw_code: String::new(),
        config,
        relation: Relation {
            kind: None,
            ..relation
        },
        description: props.description.clone(),
        columns: Vec::new(),
        meta: BTreeMap::new(),
        refs: Vec::new(),
        sources: Vec::new(),
        depends_on: vec![model_id.clone()],
        macros: Vec::new(),
        compiled_code: None,
        source: None,
        patch_path: Some(yaml_path.to_path_buf()),
        test: None,
        unit_test: Some(Box::new(UnitTestSpec {
            model: model_id,
            given,
            expect,
            overrides,
        })),
        version: None,
        latest_version: None,
        time_spine: None,
        exposure: None,
    }))
}

/// Where a unit test is written, for reading its fixture files.
struct Origin<'a> {
    project: &'a Project,
    package: &'a Package,
    yaml_path: &'a Path,
    test: &'a str,
}

/// The rows of a `given` entry or of `expect`, in any of dbt's formats, as data or a query.
fn fixture_rows(
    origin: &Origin<'_>,
    props: &UnitFixtureProps,
    what: &str,
    seed: Option<&Node>,
) -> Result<FixtureRows, Diagnostic> {
    let at = Location::new(origin.yaml_path, props.line);
    let error = |message: String| {
        Diagnostic::error(format!("unit test `{}`: {what}: {message}", origin.test)).at(at.clone())
    };
    let format = props.format.as_deref().unwrap_or("dict");
    let text = |extension: &str| -> Result<String, Diagnostic> {
        match (&props.rows, &props.fixture) {
            (Some(Json::String(text)), _) => Ok(text.clone()),
            (None, Some(name)) => read_fixture(origin, name, extension).map_err(&error),
            _ => Err(error(format!(
                "`format: {format}` takes `rows` as text (`rows: |` and the lines under it) or a `fixture:` file"
            ))),
        }
    };
    match format {
        "dict" => match (&props.rows, seed) {
            (Some(Json::Array(rows)), _) => rows
                .iter()
                .map(|row| match row {
                    Json::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                    other => Err(error(format!(
                        "each row is a mapping of column to value, like `{{id: 1, name: a}}`; found `{other}`"
                    ))),
                })
                .collect::<Result<_, _>>()
                .map(FixtureRows::Rows),
            (None | Some(Json::Null), Some(seed)) => {
                let path = origin
                    .project
                    .packages
                    .iter()
                    .find(|p| p.name == seed.package)
                    .map_or_else(PathBuf::new, |p| p.dir.clone())
                    .join(&seed.original_file_path);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    error(format!("cannot read the seed file {}: {e}", seed.display_path.display()))
                })?;
                csv_rows(&text).map(FixtureRows::Rows).map_err(error)
            }
            (None | Some(Json::Null), None) => Err(error(
                "no `rows`: list the rows (`rows: []` for none)".to_owned(),
            )),
            (Some(other), _) => Err(error(format!(
                "`rows` is a list of rows in `format: dict`; found `{other}` (for CSV text, add `format: csv`)"
            ))),
        },
        "csv" => csv_rows(&text("csv")?).map(FixtureRows::Rows).map_err(error),
        "sql" => text("sql").map(FixtureRows::Sql),
        other => Err(error(format!("unknown format `{other}`")).help("use `dict`, `csv` or `sql`")),
    }
}

/// A fixture file: `<test path>/fixtures/**/<name>.<extension>` of the test's package.
fn read_fixture(origin: &Origin<'_>, name: &str, extension: &str) -> Result<String, String> {
    let file_name = format!("{name}.{extension}");
    for test_path in &origin.package.file.test_paths {
        let dir = origin.package.dir.join(test_path).join("fixtures");
        let found = walkdir::WalkDir::new(&dir)
            .sort_by_file_name()
            .into_iter()
            .flatten()
            .find(|entry| entry.file_type().is_file() && entry.file_name() == file_name.as_str());
        if let Some(path) = found.map(walkdir::DirEntry::into_path) {
            return std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read fixture {}: {e}", path.display()));
        }
    }
    Err(format!(
        "no fixture file `{file_name}` under {}",
        origin
            .package
            .file
            .test_paths
            .iter()
            .map(|p| format!("{p}/fixtures/"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// CSV rows as dbt reads them: every value text, an empty field null.
fn csv_rows(text: &str) -> Result<Vec<FixtureRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim().as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .clone();
    reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            let record = record.map_err(|e| format!("CSV row {}: {e}", i + 1))?;
            Ok(headers
                .iter()
                .zip(record.iter())
                .map(|(column, value)| {
                    let value = if value.is_empty() {
                        Json::Null
                    } else {
                        Json::String(value.to_owned())
                    };
                    (column.to_owned(), value)
                })
                .collect())
        })
        .collect()
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_text_and_empty_fields_null() {
        let rows = csv_rows("id, name\n1, a\n2,\n").unwrap();
        assert_eq!(
            rows,
            vec![
                vec![
                    ("id".to_owned(), Json::from("1")),
                    ("name".to_owned(), Json::from("a"))
                ],
                vec![
                    ("id".to_owned(), Json::from("2")),
                    ("name".to_owned(), Json::Null)
                ],
            ]
        );
    }
}
