//! What the warehouse already holds: relations, their columns and their dependent views
//! (PostgreSQL's catalog).

use serde_json::Value as Json;

use crate::{AdapterError, Connection, Table};

/// A SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A quoted identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// What kind of relation exists under a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
    MaterializedView,
    Other,
}

impl RelationKind {
    /// From `pg_class.relkind`.
    pub fn from_relkind(relkind: &str) -> RelationKind {
        match relkind {
            "r" | "p" => RelationKind::Table,
            "v" => RelationKind::View,
            "m" => RelationKind::MaterializedView,
            _ => RelationKind::Other,
        }
    }

    /// The keyword for DDL (`alter view`, `drop table`).
    pub fn keyword(self) -> &'static str {
        match self {
            RelationKind::Table | RelationKind::Other => "table",
            RelationKind::View => "view",
            RelationKind::MaterializedView => "materialized view",
        }
    }

    pub fn dbt_name(self) -> &'static str {
        match self {
            RelationKind::Table | RelationKind::Other => "table",
            RelationKind::View => "view",
            RelationKind::MaterializedView => "materialized_view",
        }
    }
}

fn text(value: &Json) -> String {
    Table::cell_text(value)
}

/// The kind of `schema.name`, if it exists.
pub fn relation_kind(
    conn: &mut dyn Connection,
    schema: &str,
    name: &str,
) -> Result<Option<RelationKind>, AdapterError> {
    let table = conn.query(&format!(
        "select c.relkind::text as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = {} and c.relname = {}",
        literal(schema),
        literal(name)
    ))?;
    Ok(table
        .rows
        .first()
        .map(|row| RelationKind::from_relkind(&text(&row[0]))))
}

/// An index as dbt-postgres compares indexes: on which columns, unique or not, which method.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    /// Column names, lower case unless quoted.
    pub columns: Vec<String>,
    pub unique: bool,
    /// `btree`, `hash`, `gist`...
    pub method: String,
}

/// The indexes of `schema.name` (on plain columns; expression indexes have `None` columns
/// and are left out).
pub fn indexes(
    conn: &mut dyn Connection,
    schema: &str,
    name: &str,
) -> Result<Vec<Index>, AdapterError> {
    let table = conn.query(&format!(
        "select ix.indisunique::text, am.amname::text, \
         string_agg(a.attname::text, ',' order by k.n)::text \
         from pg_index ix \
         join pg_class t on t.oid = ix.indrelid \
         join pg_namespace ns on ns.oid = t.relnamespace \
         join pg_class i on i.oid = ix.indexrelid \
         join pg_am am on am.oid = i.relam \
         cross join lateral unnest(ix.indkey::int2[]) with ordinality as k(attnum, n) \
         join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum \
         where ns.nspname = {} and t.relname = {} \
         group by ix.indexrelid, ix.indisunique, am.amname",
        literal(schema),
        literal(name)
    ))?;
    Ok(table
        .rows
        .iter()
        .map(|row| Index {
            unique: text(&row[0]) == "true",
            method: text(&row[1]),
            columns: text(&row[2]).split(',').map(str::to_owned).collect(),
        })
        .collect())
}

/// A column of a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The full type, e.g. `numeric(16,2)` or `timestamp with time zone`.
    pub data_type: String,
}

impl Column {
    /// The type dbt-postgres gives this column when it adds it to another table
    /// (`on_schema_change`, snapshots): `character(n)` becomes `character varying(n)`, as dbt's
    /// `Column.data_type` has it; other types as PostgreSQL names them (where dbt writes
    /// `ARRAY` or `USER-DEFINED` and fails, Kiln keeps `integer[]` or the enum's name).
    pub fn dbt_data_type(&self) -> String {
        match self.data_type.strip_prefix("character(") {
            Some(size) => format!("character varying({size}"),
            None => self.data_type.clone(),
        }
    }

    /// dbt's `string_size()`: the declared length of a string column (256 for `text` and
    /// unbounded `varchar`), or `None` for other types.
    pub fn string_size(&self) -> Option<u64> {
        let ty = self.data_type.as_str();
        if ty == "text" || ty == "character varying" {
            return Some(256);
        }
        ["character varying(", "character("]
            .iter()
            .find_map(|prefix| ty.strip_prefix(prefix))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|n| n.parse().ok())
    }
}

/// dbt's `expand_target_column_types`: widens the string columns of `target` that are shorter
/// than the same columns of `incoming`, so that the new rows fit (`varchar(10)` becomes
/// `varchar(20)` when the model now selects 20 characters).
pub fn expand_string_columns(
    conn: &mut dyn Connection,
    target: &str,
    existing: &[Column],
    incoming: &[Column],
) -> Result<(), AdapterError> {
    for column in incoming {
        let Some(wanted) = column.string_size() else {
            continue;
        };
        let Some(current) = existing.iter().find(|c| c.name == column.name) else {
            continue;
        };
        if current.string_size().is_some_and(|size| wanted > size) {
            conn.execute(&format!(
                "alter table {target} alter column {} type character varying({wanted})",
                ident(&column.name)
            ))?;
        }
    }
    Ok(())
}

/// The columns of a relation (any schema, temporary ones included) in order.
pub fn columns(conn: &mut dyn Connection, relation: &str) -> Result<Vec<Column>, AdapterError> {
    let table = conn.query(&format!(
        "select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as data_type \
         from pg_attribute a where a.attrelid = {}::regclass and a.attnum > 0 and not a.attisdropped \
         order by a.attnum",
        literal(relation)
    ))?;
    Ok(table
        .rows
        .iter()
        .map(|row| Column {
            name: text(&row[0]),
            data_type: text(&row[1]),
        })
        .collect())
}

/// A view that depends on a relation, directly or through other views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    pub schema: String,
    pub name: String,
    pub kind: RelationKind,
    /// The `select` that defines it.
    pub definition: String,
    /// 1 for a direct dependent, 2 for a dependent of one, and so on.
    pub depth: i64,
}

/// The kind of `schema.name` and the views that depend on it (closest first), in one query.
/// The kind of `schema.name` and whether any view depends on it, or `None` when it does not
/// exist. Reads only the catalog tables, so unlike [`relation_state`] it cannot fail on a view
/// that another transaction drops at the same moment.
pub fn relation_has_dependents(
    conn: &mut dyn Connection,
    schema: &str,
    name: &str,
) -> Result<Option<(RelationKind, bool)>, AdapterError> {
    let table = conn.query(&format!(
        "select c.relkind::text, exists ( \
           select 1 from pg_depend d join pg_rewrite r on r.oid = d.objid \
           where d.refclassid = 'pg_class'::regclass and d.refobjid = c.oid and d.classid = 'pg_rewrite'::regclass and r.ev_class <> c.oid \
         ) \
         from pg_class c join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = {schema} and c.relname = {name}",
        schema = literal(schema),
        name = literal(name)
    ))?;
    Ok(table.rows.first().map(|row| {
        (
            RelationKind::from_relkind(&text(&row[0])),
            row[1].as_bool().unwrap_or(true),
        )
    }))
}

/// Relations by (`schema`, `name`): each one's kind and whether a view depends on it.
pub type RelationsByName = std::collections::HashMap<(String, String), (RelationKind, bool)>;

/// Every relation in `schemas`: its kind and whether any view depends on it, in one query (what
/// a run knows before its first swap).
pub fn relations_in_schemas(
    conn: &mut dyn Connection,
    schemas: &[&str],
) -> Result<RelationsByName, AdapterError> {
    if schemas.is_empty() {
        return Ok(RelationsByName::new());
    }
    let list: Vec<String> = schemas.iter().map(|s| literal(s)).collect();
    let table = conn.query(&format!(
        "select n.nspname::text, c.relname::text, c.relkind::text, exists ( \
           select 1 from pg_depend d join pg_rewrite r on r.oid = d.objid \
           where d.refclassid = 'pg_class'::regclass and d.refobjid = c.oid and d.classid = 'pg_rewrite'::regclass and r.ev_class <> c.oid \
         ) \
         from pg_class c join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname in ({}) and c.relkind in ('r', 'p', 'v', 'm', 'f')",
        list.join(", ")
    ))?;
    Ok(table
        .rows
        .iter()
        .map(|row| {
            (
                (text(&row[0]), text(&row[1])),
                (
                    RelationKind::from_relkind(&text(&row[2])),
                    row[3].as_bool().unwrap_or(true),
                ),
            )
        })
        .collect())
}

pub fn relation_state(
    conn: &mut dyn Connection,
    schema: &str,
    name: &str,
) -> Result<Option<(RelationKind, Vec<Dependent>)>, AdapterError> {
    let table = conn.query(&format!(
        "with recursive target as ( \
           select c.oid, c.relkind::text as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace \
           where n.nspname = {schema} and c.relname = {name} \
         ), deps(oid, depth) as ( \
           select distinct r.ev_class, 1 from target t join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = t.oid \
           join pg_rewrite r on r.oid = d.objid \
           where d.classid = 'pg_rewrite'::regclass and r.ev_class <> t.oid \
           union \
           select distinct r.ev_class, deps.depth + 1 from deps join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = deps.oid \
           join pg_rewrite r on r.oid = d.objid \
           where d.classid = 'pg_rewrite'::regclass and r.ev_class <> deps.oid and deps.depth < 50 \
         ), found as ( \
           select n.nspname::text as schema, c.relname::text as name, c.relkind::text as kind, \
                  max(deps.depth) as depth, pg_get_viewdef(c.oid) as definition \
           from deps join pg_class c on c.oid = deps.oid join pg_namespace n on n.oid = c.relnamespace \
           group by n.nspname, c.relname, c.relkind, c.oid \
         ) \
         select t.kind as target_kind, f.schema, f.name, f.kind, f.depth, f.definition \
         from target t left join found f on true order by f.depth, f.schema, f.name",
        schema = literal(schema),
        name = literal(name)
    ))?;
    let Some(first) = table.rows.first() else {
        return Ok(None);
    };
    let kind = RelationKind::from_relkind(&text(&first[0]));
    let dependents = table
        .rows
        .iter()
        .filter(|row| !row[1].is_null())
        .map(|row| Dependent {
            schema: text(&row[1]),
            name: text(&row[2]),
            kind: if text(&row[3]) == "m" {
                RelationKind::MaterializedView
            } else {
                RelationKind::View
            },
            depth: row[4].as_i64().unwrap_or(1),
            definition: text(&row[5]),
        })
        .collect();
    Ok(Some((kind, dependents)))
}
