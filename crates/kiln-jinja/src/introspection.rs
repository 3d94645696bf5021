//! What templates can ask the warehouse while a node is rendered for execution (`execute` is
//! true): `run_query`, `statement`/`load_result`, `adapter.get_columns_in_relation`,
//! `adapter.get_relation`. The runner implements [`Warehouse`] over its connection; this crate
//! only sees the trait, so the dependency arrows keep pointing one way.

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
            "columns" => Some(Value::from(
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
                        Value::from_object(AgateColumn {
                            name: name.clone(),
                            values,
                        })
                    })
                    .collect::<Vec<_>>(),
            )),
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
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => Ok(Value::from("")),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("query results have no method `{method}`"),
            )),
        }
    }
}

#[derive(Debug)]
struct AgateColumn {
    name: String,
    values: Vec<Json>,
}

impl Object for AgateColumn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "name").then(|| Value::from(self.name.clone()))
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

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
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
