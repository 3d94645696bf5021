//! `kiln docs generate`: compile the project and write `target/catalog.json`, what the
//! warehouse holds for each model, seed, snapshot and source (dbt's catalog v1: types,
//! column order, comments, owner), read from PostgreSQL's catalog in one query.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use kiln_core::{Diagnostic, Diagnostics, Node, ResourceType};
use serde_json::{Map, Value as Json, json};

use crate::cli::DocsGenerateArgs;
use crate::printer::Printer;
use crate::{session, target};

pub fn generate(args: &DocsGenerateArgs, printer: &Printer) -> Result<ExitCode> {
    let session = session::load(&args.common, "docs generate", Default::default(), printer)?;
    let mut parsed = session.parse(printer)?;
    let adapter = target::adapter(&session.project, &session.profile, printer)?;
    let connection = kiln_adapter::Adapter::connect(&adapter).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error(e.full_message()).help("`kiln debug` checks the connection"),
        )
    })?;
    let shared = kiln_run::connection::SharedConnection::new(connection);
    session::show_logs(&parsed.env, printer);
    if args.no_compile {
        kiln_compile::manifest::write_manifest(&session.project, &parsed)?;
    } else {
        // As `dbt docs generate`: every node compiled, with the warehouse (execute is true).
        let all: BTreeSet<String> = parsed.nodes.keys().cloned().collect();
        let warned = parsed.warnings.len();
        let compiled = kiln_compile::compile(
            &mut parsed,
            &all,
            kiln_compile::RenderOptions {
                warehouse: Some(Arc::new(shared.clone())),
                ..kiln_compile::RenderOptions::default()
            },
        );
        printer.diagnostics(&parsed.warnings[warned..]);
        kiln_compile::manifest::write_artifacts(&session.project, &parsed)?;
        compiled?;
    }
    let documented: Vec<&Node> = parsed
        .nodes
        .values()
        .filter(|n| match n.resource_type {
            ResourceType::Model => !n.is_ephemeral(),
            ResourceType::Seed | ResourceType::Snapshot | ResourceType::Source => true,
            _ => false,
        })
        .filter(|n| !n.relation.identifier.is_empty())
        .collect();
    let schemas: BTreeSet<&str> = documented
        .iter()
        .map(|n| n.relation.schema_or_public())
        .collect();
    let table = shared
        .lock()
        .query(&catalog_query(&schemas))
        .map_err(|e| Diagnostics::from(Diagnostic::error(e.full_message())))?;
    let relations = relations(&table.rows);
    let mut nodes = Map::new();
    let mut sources = Map::new();
    for node in documented {
        let key = (
            node.relation.schema_or_public().to_lowercase(),
            node.relation.identifier.to_lowercase(),
        );
        let Some(relation) = relations.get(&key) else {
            // Not built (yet): dbt leaves it out of the catalog too.
            continue;
        };
        let entry = relation.entry(
            node.relation.database.as_deref().unwrap_or_default(),
            &node.unique_id,
        );
        if node.resource_type == ResourceType::Source {
            sources.insert(node.unique_id.clone(), entry);
        } else {
            nodes.insert(node.unique_id.clone(), entry);
        }
    }
    let catalog = json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json",
            "dbt_version": kiln_core::DBT_VERSION,
            "generated_at": jiff::Timestamp::now().to_string(),
            "invocation_id": parsed.invocation_id,
            "invocation_started_at": parsed.run_started_at,
            "env": {"KILN_VERSION": env!("CARGO_PKG_VERSION")},
        },
        "nodes": nodes,
        "sources": sources,
        "errors": null,
    });
    let path = session.project.target_dir().join("catalog.json");
    let text = serde_json::to_string(&catalog).unwrap_or_default();
    std::fs::write(&path, text).map_err(|e| {
        Diagnostics::from(Diagnostic::error(format!(
            "cannot write {}: {e}",
            path.display()
        )))
    })?;
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    printer.success(&format!(
        "Catalog written to {} ({}, {})",
        path.strip_prefix(&session.project.root)
            .unwrap_or(&path)
            .display(),
        plural(nodes.len(), "node"),
        plural(sources.len(), "source")
    ));
    Ok(ExitCode::SUCCESS)
}

/// dbt-postgres' catalog query, over whole schemas.
fn catalog_query(schemas: &BTreeSet<&str>) -> String {
    let schemas: Vec<String> = schemas
        .iter()
        .map(|s| kiln_core::quote_literal(&s.to_lowercase()))
        .collect();
    format!(
        "select sch.nspname::text, tbl.relname::text, \
           case tbl.relkind when 'v' then 'VIEW' when 'm' then 'MATERIALIZED VIEW' else 'BASE TABLE' end, \
           tbl_desc.description, col.attname::text, col.attnum::int, \
           pg_catalog.format_type(col.atttypid, col.atttypmod), col_desc.description, \
           pg_get_userbyid(tbl.relowner)::text \
         from pg_catalog.pg_namespace sch \
         join pg_catalog.pg_class tbl on tbl.relnamespace = sch.oid \
         join pg_catalog.pg_attribute col on col.attrelid = tbl.oid \
         left join pg_catalog.pg_description tbl_desc on tbl_desc.objoid = tbl.oid and tbl_desc.objsubid = 0 \
         left join pg_catalog.pg_description col_desc on col_desc.objoid = tbl.oid and col_desc.objsubid = col.attnum \
         where lower(sch.nspname) in ({}) \
           and not pg_is_other_temp_schema(sch.oid) \
           and tbl.relpersistence in ('p', 'u') \
           and tbl.relkind in ('r', 'v', 'f', 'p', 'm') \
           and col.attnum > 0 and not col.attisdropped \
         order by 1, 2, col.attnum",
        if schemas.is_empty() {
            "null".to_owned()
        } else {
            schemas.join(", ")
        }
    )
}

/// One relation of the catalog query's answer.
#[derive(Default)]
struct CatalogRelation {
    schema: String,
    name: String,
    kind: String,
    comment: Json,
    owner: Json,
    columns: Map<String, Json>,
}

impl CatalogRelation {
    fn entry(&self, database: &str, unique_id: &str) -> Json {
        json!({
            "metadata": {
                "type": self.kind,
                "schema": self.schema,
                "name": self.name,
                "database": database,
                "comment": self.comment,
                "owner": self.owner,
            },
            "columns": self.columns,
            "stats": {"has_stats": {
                "id": "has_stats",
                "label": "Has Stats?",
                "value": false,
                "include": false,
                "description": "Indicates whether there are statistics for this table",
            }},
            "unique_id": unique_id,
        })
    }
}

/// The query's rows (one per column), as relations keyed by lower-cased schema and name.
fn relations(rows: &[Vec<Json>]) -> BTreeMap<(String, String), CatalogRelation> {
    let text = |row: &[Json], i: usize| {
        row.get(i)
            .map(kiln_adapter::Table::cell_text)
            .unwrap_or_default()
    };
    let mut out: BTreeMap<(String, String), CatalogRelation> = BTreeMap::new();
    for row in rows {
        let (schema, name) = (text(row, 0), text(row, 1));
        let relation = out
            .entry((schema.to_lowercase(), name.to_lowercase()))
            .or_insert_with(|| CatalogRelation {
                schema: schema.clone(),
                name: name.clone(),
                kind: text(row, 2),
                comment: row.get(3).cloned().unwrap_or(Json::Null),
                owner: row.get(8).cloned().unwrap_or(Json::Null),
                columns: Map::new(),
            });
        let column = text(row, 4);
        relation.columns.insert(
            column.clone(),
            json!({
                "type": text(row, 6),
                "index": row.get(5).and_then(Json::as_i64).unwrap_or_default(),
                "name": column,
                "comment": row.get(7).cloned().unwrap_or(Json::Null),
            }),
        );
    }
    out
}
