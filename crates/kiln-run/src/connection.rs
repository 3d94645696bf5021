//! A worker's connection, shared between the materialization and the templates it renders.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kiln_adapter::catalog::{self, RelationKind};
use kiln_adapter::{AdapterError, Connection, Table};
use kiln_core::Relation;
use kiln_jinja::{QueryFailed, QueryResult, Warehouse};

/// A connection several owners use one at a time.
#[derive(Clone)]
pub struct SharedConnection(Arc<Mutex<Box<dyn Connection>>>);

impl SharedConnection {
    pub fn new(connection: Box<dyn Connection>) -> Self {
        SharedConnection(Arc::new(Mutex::new(connection)))
    }

    /// The connection; a panic elsewhere never leaves it in a state worse than a failed query.
    pub fn lock(&self) -> MutexGuard<'_, Box<dyn Connection>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn failed(error: AdapterError) -> QueryFailed {
    QueryFailed {
        message: error.full_message(),
    }
}

/// Statements that return rows; anything else runs as a command with no result rows. Leading
/// comments do not count (packages put a comment of metadata before their queries).
fn returns_rows(sql: &str) -> bool {
    let start = &sql[kiln_compile::leading_trivia_len(sql)..];
    let start = start.trim_start_matches('(').trim_start();
    let word: String = start
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        word.as_str(),
        "select" | "with" | "values" | "table" | "show"
    )
}

/// Values typed as dbt's agate table types them, where JSON loses the difference: timestamps
/// print as Python's `str()` of a datetime (`2017-01-01 00:00:00`, not `2017-01-01T00:00:00`),
/// and a `double precision` that holds a whole number is a float (`240.0`, not `240`), so that
/// SQL built from a `run_query` result is dbt's. The column types are asked for (one describe)
/// only when a cell could be either.
fn python_values(conn: &mut dyn Connection, sql: &str, table: &mut Table) {
    let ambiguous = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => {
            let bytes = text.as_bytes();
            bytes.len() >= 19
                && bytes[10] == b'T'
                && bytes[4] == b'-'
                && bytes[13] == b':'
                && bytes[..4].iter().all(u8::is_ascii_digit)
        }
        serde_json::Value::Number(number) => !number.is_f64(),
        _ => false,
    };
    if !table.rows.iter().flatten().any(ambiguous) {
        return;
    }
    let Ok(types) = conn.column_types_of(sql) else {
        return;
    };
    for (index, kind) in types.iter().enumerate() {
        let timestamp = kind.starts_with("TIMESTAMP");
        let float = matches!(kind.as_str(), "FLOAT4" | "FLOAT8");
        if !timestamp && !float {
            continue;
        }
        for row in &mut table.rows {
            match row.get_mut(index) {
                Some(serde_json::Value::String(text))
                    if timestamp && text.as_bytes().get(10) == Some(&b'T') =>
                {
                    text.replace_range(10..11, " ");
                }
                Some(value @ serde_json::Value::Number(_)) if float => {
                    if let Some(number) = value.as_f64().and_then(serde_json::Number::from_f64) {
                        *value = serde_json::Value::Number(number);
                    }
                }
                _ => {}
            }
        }
    }
}

fn to_result(table: Table, status: String) -> QueryResult {
    QueryResult {
        columns: table.columns,
        rows: table.rows,
        status,
    }
}

impl Warehouse for SharedConnection {
    fn query(&self, sql: &str) -> Result<QueryResult, QueryFailed> {
        let mut conn = self.lock();
        if returns_rows(sql) {
            let mut table = conn.query(sql).map_err(failed)?;
            if table.rows.is_empty() {
                table.columns = conn.columns_of(sql).map_err(failed)?;
            }
            python_values(conn.as_mut(), sql, &mut table);
            let status = format!("SELECT {}", table.rows.len());
            Ok(to_result(table, status))
        } else {
            let result = conn.execute(sql).map_err(failed)?;
            Ok(to_result(
                Table::default(),
                crate::materialize::command_tag(sql, result.rows_affected),
            ))
        }
    }

    fn columns(&self, relation: &Relation) -> Result<Vec<(String, String)>, QueryFailed> {
        let name = match &relation.schema {
            Some(schema) => catalog::qualified(schema, &relation.identifier),
            None => catalog::ident(&relation.identifier),
        };
        let mut conn = self.lock();
        match catalog::columns(conn.as_mut(), &name) {
            Ok(columns) => Ok(columns.into_iter().map(|c| (c.name, c.data_type)).collect()),
            // dbt answers [] for a relation that does not exist.
            Err(AdapterError::Database {
                code: Some(code), ..
            }) if code == "42P01" || code == "3F000" => Ok(Vec::new()),
            Err(error) => Err(failed(error)),
        }
    }

    fn get_relation(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, QueryFailed> {
        let mut conn = self.lock();
        let kind = catalog::relation_kind(conn.as_mut(), schema, identifier).map_err(failed)?;
        Ok(kind.map(|kind| Relation {
            database: database.map(str::to_owned),
            schema: Some(schema.to_owned()),
            identifier: identifier.to_owned(),
            kind: Some(kind.dbt_name().to_owned()),
            quote: Default::default(),
        }))
    }
}

/// The kind of relation `relation` is in the warehouse now.
pub fn existing_kind(
    conn: &SharedConnection,
    relation: &Relation,
) -> Result<Option<RelationKind>, AdapterError> {
    catalog::relation_kind(
        conn.lock().as_mut(),
        relation.schema_or_public(),
        &relation.identifier,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_after_a_comment_returns_rows() {
        assert!(returns_rows("/* --METADATA-- {} */\n select 1"));
        assert!(returns_rows("-- note\n(select 1)"));
        assert!(!returns_rows("/* select */ insert into t values (1)"));
    }

    #[test]
    fn knows_which_statements_return_rows() {
        assert!(returns_rows("  select 1"));
        assert!(returns_rows("(with x as (select 1) select * from x)"));
        assert!(!returns_rows("insert into t values (1)"));
        assert!(!returns_rows("create table t (id int)"));
    }
}
