//! Running a unit test as dbt 1.8 does: the model's SQL with each input replaced by a CTE of
//! the given rows (typed like the input's columns in the warehouse), its output compared with
//! the expected rows (typed like the model's output), in any order. A failure shows the rows
//! that differ, not only a count.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_adapter::catalog;
use kiln_compile::compile::inject_ctes;
use kiln_core::unit_test::{FixtureRow, FixtureRows, Input};
use kiln_core::{
    Node, RefCall, Relation, SourceCall, UnknownName, quote_identifier, quote_literal,
};
use kiln_graph::NameIndex;
use kiln_jinja::{NodeInfo, Resolver};
use serde_json::Value as Json;

use crate::connection::SharedConnection;
use crate::error::RunError;
use crate::results::{NodeResult, Status};
use crate::runner::Executor;

/// The temporary table that tells the model's output columns and types (one per session).
const OUTPUT_PROBE: &str = "kiln_unit_test_output";

/// Resolves the model's `ref()` and `source()` calls to the CTEs of the given rows.
struct FixtureResolver {
    names: Arc<NameIndex>,
    /// Input node id to its CTE.
    stand_ins: BTreeMap<String, Relation>,
}

impl FixtureResolver {
    fn stand_in(&self, id: &str, input: String) -> Result<Relation, UnknownName> {
        self.stand_ins
            .get(id)
            .cloned()
            .ok_or(UnknownName::NotGiven { input })
    }
}

impl Resolver for FixtureResolver {
    fn resolve_ref(&self, from: &NodeInfo, call: &RefCall) -> Result<Relation, UnknownName> {
        let id =
            self.names
                .resolve_ref(&from.package, call.package.as_deref(), &call.lookup_name())?;
        self.stand_in(id, Input::Ref(call.clone()).to_string())
    }

    fn resolve_source(&self, call: &SourceCall) -> Result<Relation, UnknownName> {
        let id = self.names.resolve_source(&call.source, &call.table)?;
        self.stand_in(id, Input::Source(call.clone()).to_string())
    }
}

impl Executor<'_> {
    pub(crate) fn run_unit_test(
        &self,
        node: &Node,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<(), RunError> {
        let spec = node
            .unit_test
            .as_deref()
            .ok_or(RunError::NotRunnable(node.config.materialized.clone()))?;
        let model = &self.parsed.nodes[&spec.model];
        let fail =
            |message: String| RunError::UnitTest(format!("unit test `{}`: {message}", node.name));

        // Each input as a CTE of its rows, named as dbt names them.
        let mut ctes = Vec::new();
        let mut stand_ins = BTreeMap::new();
        let mut this = None;
        for given in &spec.given {
            let input = &self.parsed.nodes[&given.node];
            let cte = match &given.input {
                Input::This => "__dbt__cte__this".to_owned(),
                Input::Source(call) => format!("__dbt__cte__{}__{}", call.source, call.table),
                Input::Ref(_) => format!("__dbt__cte__{}", input.name),
            };
            let body = match &given.rows {
                FixtureRows::Sql(sql) => sql.clone(),
                FixtureRows::Rows(_) if input.is_ephemeral() => {
                    return Err(fail(format!(
                        "{} is ephemeral: it has no columns in the warehouse to type the rows; give them with `format: sql`",
                        given.input
                    )));
                }
                FixtureRows::Rows(rows) => {
                    let mut columns = relation_columns(conn, &input.relation)?;
                    if columns.is_empty() && given.input == Input::This {
                        // The model's table is not built yet (a first `kiln build`): its
                        // columns are those of a full build from the real inputs.
                        let options = self.render_options(conn, false);
                        let full =
                            kiln_compile::render(self.parsed, model, &self.resolver, &options)?;
                        let full = kiln_compile::with_ephemeral_ctes(
                            &self.parsed.nodes,
                            &model.unique_id,
                            &full,
                        );
                        columns = probe_columns(conn, &full)?;
                    }
                    if columns.is_empty() {
                        return Err(fail(format!(
                            "cannot type the rows of {}: {} does not exist in the warehouse; build it first (`kiln run -s {} --empty` builds it with no rows)",
                            given.input, input.relation, input.name
                        )));
                    }
                    let label = format!("input {}", given.input);
                    fixture_sql(rows, &columns, &label).map_err(&fail)?
                }
            };
            let relation = Relation {
                identifier: cte.clone(),
                ..Relation::ephemeral("")
            };
            if given.input == Input::This {
                this = Some(relation);
            } else {
                stand_ins.insert(given.node.clone(), relation);
            }
            ctes.push((cte, body));
        }

        // The model, reading the CTEs.
        let resolver: Arc<dyn Resolver> = Arc::new(FixtureResolver {
            names: self.parsed.names.clone(),
            stand_ins,
        });
        let mut options = self.render_options(conn, false);
        options.overrides = Some(Arc::new(spec.overrides.clone()));
        options.incremental = spec
            .overrides
            .macros
            .get("is_incremental")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        options.this = this;
        let rendered = kiln_compile::render(self.parsed, model, &resolver, &options)?;
        let sql = inject_ctes(rendered.trim().trim_end_matches(';'), &ctes);

        // The model's output columns and their types.
        let output = probe_columns(conn, &sql)?;

        // What the test compares: the columns of the expected rows (all of them for SQL).
        let (compared, expected_sql) = match &spec.expect {
            FixtureRows::Sql(expected) => (
                output
                    .iter()
                    .map(|(name, _)| name.clone())
                    .collect::<Vec<_>>(),
                expected.clone(),
            ),
            FixtureRows::Rows(rows) => {
                let compared = match rows.first() {
                    Some(first) => first
                        .iter()
                        .map(|(name, _)| output_column(&output, name, "the expected output"))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(&fail)?,
                    None => output.iter().map(|(name, _)| name.clone()).collect(),
                };
                let expected = if rows.is_empty() {
                    let columns = quoted_list(&compared);
                    format!(
                        "select {columns} from (\n{sql}\n) as dbt_internal_unit_test_none limit 0"
                    )
                } else {
                    let typed: Vec<(String, String)> = output
                        .iter()
                        .filter(|(name, _)| compared.contains(name))
                        .cloned()
                        .collect();
                    fixture_sql(rows, &typed, "the expected output").map_err(&fail)?
                };
                (compared, expected)
            }
        };
        let columns = quoted_list(&compared);
        let query = format!(
            "with dbt_internal_unit_test_actual as (\n  select {columns}, 'actual' as \"actual_or_expected\" from (\n{sql}\n  ) _dbt_internal_unit_test_actual\n),\n\
             dbt_internal_unit_test_expected as (\n  select {columns}, 'expected' as \"actual_or_expected\" from (\n{expected_sql}\n  ) _dbt_internal_unit_test_expected\n)\n\
             select * from dbt_internal_unit_test_actual\nunion all\nselect * from dbt_internal_unit_test_expected"
        );
        result.compiled_code = Some(query.clone());
        let table = conn.lock().query(&query)?;

        let mut actual = Vec::new();
        let mut expected = Vec::new();
        for (values, texts) in table.rows.iter().zip(&table.texts) {
            let row = Row {
                key: values[..compared.len()].iter().map(comparable).collect(),
                texts: texts[..compared.len()].to_vec(),
            };
            match values.last().and_then(Json::as_str) {
                Some("actual") => actual.push(row),
                _ => expected.push(row),
            }
        }
        let diff = diff(expected, actual);
        if diff.is_empty() {
            result.status = Status::Pass;
            result.message = "PASS".to_owned();
            return Ok(());
        }
        let missing = diff.iter().filter(|(sign, _)| *sign == "-").count();
        let unexpected = diff.len() - missing;
        result.status = Status::Fail;
        result.failures = Some(diff.len() as u64);
        result.message = format!(
            "actual differs from expected: {missing} expected row{} not produced, {unexpected} row{} produced but not expected",
            plural(missing),
            plural(unexpected)
        );
        let mut header = vec!["+/-".to_owned()];
        header.extend(compared);
        let rows = diff
            .into_iter()
            .map(|(sign, row)| {
                let mut line = vec![sign.to_owned()];
                line.extend(row.texts);
                line
            })
            .collect();
        result.sample = Some((header, rows));
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One output row: comparable values (numbers by value: `1.50` equals `1.5`) and the text shown.
struct Row {
    key: Vec<String>,
    texts: Vec<String>,
}

fn comparable(value: &Json) -> String {
    match value {
        Json::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string()),
        other => other.to_string(),
    }
}

/// The rows of each side that the other lacks, as a multiset difference: `-` for an expected
/// row the model did not produce, `+` for a produced row that was not expected, expected first.
fn diff(expected: Vec<Row>, actual: Vec<Row>) -> Vec<(&'static str, Row)> {
    let mut produced: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for row in &actual {
        *produced.entry(row.key.clone()).or_default() += 1;
    }
    let mut out = Vec::new();
    for row in expected {
        match produced.get_mut(&row.key) {
            Some(count) if *count > 0 => *count -= 1,
            _ => out.push(("-", row)),
        }
    }
    for row in actual {
        if let Some(count) = produced.get_mut(&row.key)
            && *count > 0
        {
            *count -= 1;
            out.push(("+", row));
        }
    }
    out
}

fn quoted_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_identifier(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns a query returns and their types, from an empty temporary table made from it.
fn probe_columns(conn: &SharedConnection, sql: &str) -> Result<Vec<(String, String)>, RunError> {
    let mut conn = conn.lock();
    conn.execute(&format!("drop table if exists pg_temp.{OUTPUT_PROBE}"))?;
    conn.execute(&format!(
        "create temporary table {OUTPUT_PROBE} as select * from (\n{}\n) as dbt_internal_unit_test_probe limit 0",
        sql.trim().trim_end_matches(';')
    ))?;
    let columns = catalog::columns(conn.as_mut(), &format!("pg_temp.{OUTPUT_PROBE}"));
    conn.execute(&format!("drop table if exists pg_temp.{OUTPUT_PROBE}"))?;
    Ok(columns?
        .into_iter()
        .map(|c| (c.name, c.data_type))
        .collect())
}

/// The columns of a relation in the warehouse (none when it does not exist).
fn relation_columns(
    conn: &SharedConnection,
    relation: &Relation,
) -> Result<Vec<(String, String)>, RunError> {
    let name = catalog::qualified(relation.schema_or_public(), &relation.identifier);
    let exists = crate::connection::existing_kind(conn, relation)?.is_some();
    if !exists {
        return Ok(Vec::new());
    }
    let columns = catalog::columns(conn.lock().as_mut(), &name)?;
    Ok(columns.into_iter().map(|c| (c.name, c.data_type)).collect())
}

/// The output column a fixture's column name stands for (case-insensitive, as dbt).
fn output_column(
    columns: &[(String, String)],
    name: &str,
    fixture: &str,
) -> Result<String, String> {
    columns
        .iter()
        .find(|(column, _)| column.eq_ignore_ascii_case(name))
        .map(|(column, _)| column.clone())
        .ok_or_else(|| {
            let known: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            format!(
                "column `{name}` of {fixture} is not a column there; its columns are {}",
                known.join(", ")
            )
        })
}

/// dbt's `get_fixture_sql`: one `select` per row, every column of `columns` cast to its type
/// (`null` where the row gives no value), joined with `union all`; no rows reads none.
fn fixture_sql(
    rows: &[FixtureRow],
    columns: &[(String, String)],
    fixture: &str,
) -> Result<String, String> {
    let select = |values: &BTreeMap<String, String>| -> String {
        let cells: Vec<String> = columns
            .iter()
            .map(|(name, data_type)| {
                let value = values.get(name).map_or("null", String::as_str);
                format!("cast({value} as {data_type}) as {}", quote_identifier(name))
            })
            .collect();
        format!("select {}", cells.join(", "))
    };
    if rows.is_empty() {
        return Ok(format!("{} limit 0", select(&BTreeMap::new())));
    }
    let mut selects = Vec::new();
    for row in rows {
        let mut values = BTreeMap::new();
        for (name, value) in row {
            let column = output_column(columns, name, fixture)?;
            values.insert(column, sql_literal(value));
        }
        selects.push(select(&values));
    }
    Ok(selects.join("\nunion all\n"))
}

/// A fixture value as SQL: strings quoted, `null`, numbers and booleans as written, lists and
/// mappings as JSON text.
fn sql_literal(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::String(text) => quote_literal(text),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        other => quote_literal(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&str, Json)]) -> FixtureRow {
        cells
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn fixture_rows_are_cast_to_the_input_types_with_nulls_for_missing_columns() {
        let columns = vec![
            ("id".to_owned(), "integer".to_owned()),
            ("name".to_owned(), "text".to_owned()),
        ];
        let sql = fixture_sql(
            &[
                row(&[("ID", Json::from(1))]),
                row(&[("name", Json::from("o'k"))]),
            ],
            &columns,
            "input ref('x')",
        )
        .unwrap();
        assert_eq!(
            sql,
            "select cast(1 as integer) as \"id\", cast(null as text) as \"name\"\nunion all\n\
             select cast(null as integer) as \"id\", cast('o''k' as text) as \"name\""
        );
        let error = fixture_sql(&[row(&[("nme", Json::Null)])], &columns, "input ref('x')");
        assert_eq!(
            error.unwrap_err(),
            "column `nme` of input ref('x') is not a column there; its columns are id, name"
        );
        assert_eq!(
            fixture_sql(&[], &columns, "x").unwrap(),
            "select cast(null as integer) as \"id\", cast(null as text) as \"name\" limit 0"
        );
    }

    #[test]
    fn the_diff_is_a_multiset_difference_and_numbers_compare_by_value() {
        let r = |cells: &[Json]| Row {
            key: cells.iter().map(comparable).collect(),
            texts: cells.iter().map(|c| c.to_string()).collect(),
        };
        let number = |text: &str| serde_json::from_str::<Json>(text).unwrap();
        let expected = vec![
            r(&[Json::from(1), number("1.50")]),
            r(&[Json::from(2), Json::Null]),
        ];
        let actual = vec![
            r(&[Json::from(1), number("1.5")]),
            r(&[Json::from(3), Json::Null]),
        ];
        let diff = diff(expected, actual);
        let signs: Vec<(&str, Vec<String>)> = diff.into_iter().map(|(s, r)| (s, r.texts)).collect();
        assert_eq!(
            signs,
            vec![
                ("-", vec!["2".to_owned(), "null".to_owned()]),
                ("+", vec!["3".to_owned(), "null".to_owned()]),
            ]
        );
    }
}
