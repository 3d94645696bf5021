//! What templates can ask the warehouse while a node is rendered for execution (`execute` is
//! true): `run_query`, `statement`/`load_result`, `adapter.get_columns_in_relation`,
//! `adapter.get_relation`. The runner implements [`Warehouse`] over its connection; this crate
//! only sees the trait, so the dependency arrows keep pointing one way.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};
use serde_json::Value as Json;

use kiln_core::Relation;

/// Rows returned by a query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
    /// The server's status for the statement (`SELECT 3`).
    pub status: String,
}

/// A question to the warehouse that failed, with the server's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryFailed {
    pub message: String,
}

/// A live warehouse session, as templates see it.
pub trait Warehouse: Send + Sync {
    fn query(&self, sql: &str) -> Result<QueryResult, QueryFailed>;
    /// Runs `sql` as dbt's `{% call statement(name, auto_begin=...) %}` does. A session that
    /// keeps dbt's transactions (a materialization macro's) first opens one when `auto_begin`
    /// is true and none is open; elsewhere each statement commits as it runs.
    fn statement(
        &self,
        name: &str,
        sql: &str,
        auto_begin: bool,
    ) -> Result<QueryResult, QueryFailed> {
        let _ = (name, auto_begin);
        self.query(sql)
    }
    /// `adapter.commit()`: commits the open transaction, if one is open.
    fn commit(&self) -> Result<(), QueryFailed> {
        Ok(())
    }
    /// Columns of a relation: `(name, data type)`.
    fn columns(&self, relation: &Relation) -> Result<Vec<(String, String)>, QueryFailed>;
    /// The relation under that name with its type (`table`, `view`), if it exists.
    fn get_relation(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, QueryFailed>;
}

fn failed(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.to_string())
}

/// dbt's agate table, as much of it as projects use: `.columns` (with `.name` and
/// `.values()`), `.rows` (indexable by position and by name), `table[0]`, `.column_names`,
/// `len()`.
#[derive(Debug)]
pub struct AgateTable(pub QueryResult);

impl AgateTable {
    pub fn to_value(result: QueryResult) -> Value {
        Value::from_object(AgateTable(result))
    }

    fn row(&self, index: usize) -> Option<Value> {
        let cells = self.0.rows.get(index)?;
        Some(Value::from_object(AgateRow {
            columns: self.0.columns.clone(),
            cells: cells.clone(),
        }))
    }

    /// `data` for `load_result`: a list of row tuples.
    pub fn data(&self) -> Value {
        Value::from(self.0.rows.iter().map(crate::to_value).collect::<Vec<_>>())
    }
}

impl Object for AgateTable {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(index) = key.as_usize() {
            return self.row(index);
        }
        match key.as_str()? {
            "rows" => Some(Value::from(
                (0..self.0.rows.len())
                    .filter_map(|i| self.row(i))
                    .collect::<Vec<_>>(),
            )),
            "columns" => Some(Value::from_object(AgateColumns(
                self.0
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let values: Vec<Json> = self
                            .0
                            .rows
                            .iter()
                            .map(|r| r.get(i).cloned().unwrap_or(Json::Null))
                            .collect();
                        (
                            name.clone(),
                            Value::from_object(AgateColumn {
                                name: name.clone(),
                                values,
                            }),
                        )
                    })
                    .collect(),
            ))),
            "column_names" => Some(Value::from(self.0.columns.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => Ok(Value::from("")),
            // agate's `table.rename({'old': 'new'})` (or a list of new names): the same rows.
            "rename" => {
                let (names,): (Value,) = from_args(args)?;
                let mut result = self.0.clone();
                if let Ok(items) = names.try_iter() {
                    if names.kind() == minijinja::value::ValueKind::Map {
                        for old in items {
                            let new = names.get_item(&old)?;
                            for column in result.columns.iter_mut() {
                                if Some(column.as_str()) == old.as_str() {
                                    *column = new.to_string();
                                }
                            }
                        }
                    } else {
                        for (column, new) in result.columns.iter_mut().zip(items) {
                            *column = new.to_string();
                        }
                    }
                }
                Ok(AgateTable::to_value(result))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("query results have no method `{method}`"),
            )),
        }
    }
}

/// agate's `table.columns`: a sequence of columns that is also a mapping by name
/// (`columns[0]`, `columns['id']`, `columns.items()`, `columns.keys()`).
#[derive(Debug)]
struct AgateColumns(Vec<(String, Value)>);

impl Object for AgateColumns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str() {
            Some(name) => self
                .0
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| c.clone()),
            None => self.0.get(key.as_usize()?).map(|(_, c)| c.clone()),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "items" => Ok(Value::from(
                self.0
                    .iter()
                    .map(|(n, c)| {
                        Value::from(minijinja::value::Tuple::from([
                            Value::from(n.clone()),
                            c.clone(),
                        ]))
                    })
                    .collect::<Vec<_>>(),
            )),
            "keys" => Ok(Value::from(
                self.0.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            )),
            "values" => Ok(Value::from(
                self.0.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
            )),
            "get" => {
                let (name, default): (String, Option<Value>) = from_args(args)?;
                Ok(self
                    .0
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, c)| c.clone())
                    .or(default)
                    .unwrap_or(Value::from(())))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct AgateColumn {
    name: String,
    values: Vec<Json>,
}

/// agate's Column: a sequence of the column's values (`for v in table.columns['x']`,
/// `v in column`, `column | list`), with `name` and `values()`.
impl Object for AgateColumn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(index) = key.as_usize() {
            return self.values.get(index).map(crate::to_value);
        }
        (key.as_str()? == "name").then(|| Value::from(self.name.clone()))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.values.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(crate::to_value(&self.values)),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("columns have no method `{method}`"),
            )),
        }
    }
}

#[derive(Debug)]
struct AgateRow {
    columns: Vec<String>,
    cells: Vec<Json>,
}

impl Object for AgateRow {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = match key.as_usize() {
            Some(index) => index,
            None => self
                .columns
                .iter()
                .position(|c| Some(c.as_str()) == key.as_str())?,
        };
        self.cells.get(index).map(crate::to_value)
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.cells.len())
    }

    /// agate's Row is also a mapping of column names: `keys()`, `values()`, `items()`,
    /// `get(name, default)`, `dict(row)` as `row.dict()`.
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let cells = || self.cells.iter().map(crate::to_value);
        let names = || self.columns.iter().map(|c| Value::from(c.clone()));
        match method {
            "keys" => Ok(Value::from(names().collect::<Vec<_>>())),
            "values" => Ok(Value::from(cells().collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                names()
                    .zip(cells())
                    .map(|(name, cell)| Value::from(vec![name, cell]))
                    .collect::<Vec<_>>(),
            )),
            "dict" => Ok(Value::from(
                self.columns
                    .iter()
                    .cloned()
                    .zip(cells())
                    .collect::<BTreeMap<String, Value>>(),
            )),
            "get" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                Ok(self
                    .get_value(&key)
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("rows have no method `{method}`"),
            )),
        }
    }
}

/// A column as `adapter.get_columns_in_relation` returns it.
#[derive(Debug)]
pub struct ColumnValue {
    pub name: String,
    pub data_type: String,
}

impl Object for ColumnValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" | "column" => Some(Value::from(self.name.clone())),
            "quoted" => Some(Value::from(kiln_core::quote_identifier(&self.name))),
            "data_type" | "dtype" => Some(Value::from(self.data_type.clone())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let dtype = self.data_type.to_lowercase();
        let base = dtype
            .split('(')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let is_string = matches!(
            base.as_str(),
            "text" | "character varying" | "character" | "varchar"
        );
        let is_integer = matches!(
            base.as_str(),
            "smallint"
                | "integer"
                | "bigint"
                | "smallserial"
                | "serial"
                | "bigserial"
                | "int2"
                | "int4"
                | "int8"
                | "serial2"
                | "serial4"
                | "serial8"
        );
        let is_float = matches!(
            base.as_str(),
            "real" | "float4" | "float" | "double precision" | "float8" | "double"
        );
        let is_numeric = matches!(base.as_str(), "numeric" | "decimal");
        Ok(match method {
            "is_string" => Value::from(is_string),
            "is_integer" => Value::from(is_integer),
            "is_float" => Value::from(is_float),
            "is_numeric" => Value::from(is_numeric),
            "is_number" => Value::from(is_integer || is_float || is_numeric),
            "string_size" => {
                if !is_string {
                    return Err(failed("Called string_size() on non-string field!"));
                }
                let size = dtype
                    .split_once('(')
                    .and_then(|(_, rest)| rest.trim_end_matches(')').parse::<i64>().ok());
                Value::from(size.unwrap_or(256))
            }
            "literal" => {
                let (value,): (Value,) = from_args(args)?;
                Value::from(format!("{value}::{}", self.data_type))
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// `api.Column`: dbt's Column class methods on PostgreSQL (`translate_type`, `string_type`,
/// `numeric_type`, `create`, `from_description`).
#[derive(Debug)]
pub struct ColumnApi;

impl ColumnApi {
    const METHODS: &'static [&'static str] = &[
        "translate_type",
        "string_type",
        "numeric_type",
        "create",
        "from_description",
    ];
}

impl Object for ColumnApi {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    /// `api.Column.translate_type` without calling it: packages test `is defined` first.
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let method = *Self::METHODS.iter().find(|m| Some(**m) == key.as_str())?;
        Some(Value::from_function(
            move |args: minijinja::value::Rest<Value>| column_api(method, &args),
        ))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        column_api(method, args)
    }
}

/// dbt's Column class methods on PostgreSQL.
fn column_api(method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        // dbt's TYPE_LABELS: only `string` is translated (to `TEXT`).
        "translate_type" => {
            let (dtype,): (String,) = from_args(args)?;
            Ok(Value::from(if dtype.eq_ignore_ascii_case("string") {
                "TEXT".to_owned()
            } else {
                dtype
            }))
        }
        "string_type" => {
            let (size,): (i64,) = from_args(args)?;
            Ok(Value::from(format!("character varying({size})")))
        }
        "numeric_type" => {
            let (dtype, precision, scale): (String, Value, Value) = from_args(args)?;
            Ok(Value::from(if precision.is_none() || scale.is_none() {
                dtype
            } else {
                format!("{dtype}({precision},{scale})")
            }))
        }
        "create" | "from_description" => {
            let (name, data_type): (String, String) = from_args(args)?;
            Ok(Value::from_object(ColumnValue { name, data_type }))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

/// `adapter.get_relation(database, schema, identifier)` arguments.
pub fn relation_args(args: &[Value]) -> Result<(Option<String>, String, String), Error> {
    let (database, schema, identifier, kwargs): (
        Option<Value>,
        Option<String>,
        Option<String>,
        minijinja::value::Kwargs,
    ) = from_args(args)?;
    let database = match database {
        Some(v) if !v.is_none() => Some(v.to_string()),
        _ => kwargs.get::<Option<String>>("database")?,
    };
    let schema = schema
        .or(kwargs.get("schema")?)
        .ok_or_else(|| failed("get_relation needs a schema"))?;
    let identifier = identifier
        .or(kwargs.get("identifier")?)
        .ok_or_else(|| failed("get_relation needs an identifier"))?;
    Ok((database, schema, identifier))
}
