//! `target/manifest.json` (shaped after dbt's manifest v12, so tools that read dbt manifests
//! can read Kiln's) and the compiled SQL files under `target/compiled/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_graph::{Direction, ResourceType};
use kiln_project::{Diagnostic, Project};
use serde_json::{Value as Json, json};

use crate::node::Node;
use crate::parse::{Parsed, now_rfc3339};

/// Where a node's compiled SQL is written: `target/compiled/<package>/<original_file_path>`.
pub fn compiled_path(target_path: &str, node: &Node) -> PathBuf {
    Path::new(target_path)
        .join("compiled")
        .join(&node.package)
        .join(&node.original_file_path)
}

fn columns_json(node: &Node) -> Json {
    let columns: serde_json::Map<String, Json> = node
        .columns
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                json!({
                    "name": c.name, "description": c.description, "meta": c.meta,
                    "data_type": c.data_type, "constraints": [], "quote": c.quote, "tags": c.tags,
                }),
            )
        })
        .collect();
    Json::Object(columns)
}

fn node_json(node: &Node, target_path: &str) -> Json {
    let path_in_resource = node
        .original_file_path
        .components()
        .skip(1)
        .collect::<PathBuf>();
    let refs: Vec<Json> = node
        .refs
        .iter()
        .map(|r| json!({"name": r.name, "package": r.package, "version": null}))
        .collect();
    let sources: Vec<Json> = node
        .sources
        .iter()
        .map(|s| json!([s.source, s.table]))
        .collect();
    let mut value = json!({
        "database": node.relation.database,
        "schema": node.relation.schema,
        "name": node.name,
        "resource_type": node.resource_type.as_str(),
        "package_name": node.package,
        "path": path_in_resource,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "alias": node.relation.identifier,
        "config": node.config.to_json(),
        "tags": node.config.tags,
        "description": node.description,
        "columns": columns_json(node),
        "meta": node.meta,
        "docs": {"show": true, "node_color": null},
        "patch_path": node.patch_path.as_ref().map(|p| format!("{}://{}", node.package, p.display())),
        "relation_name": (!node.is_ephemeral()).then(|| node.relation.to_string()),
        "raw_code": node.raw_code,
        "language": "sql",
        "refs": refs,
        "sources": sources,
        "depends_on": {"macros": [], "nodes": node.depends_on},
    });
    if let (Json::Object(map), Some(sql)) = (&mut value, &node.compiled_code) {
        map.insert(
            "compiled_path".to_owned(),
            json!(compiled_path(target_path, node)),
        );
        map.insert("compiled".to_owned(), json!(true));
        map.insert("compiled_code".to_owned(), json!(sql));
        map.insert("extra_ctes_injected".to_owned(), json!(true));
    }
    if let (Json::Object(map), Some(source)) = (&mut value, &node.source) {
        map.remove("raw_code");
        map.remove("language");
        map.remove("refs");
        map.remove("sources");
        map.remove("depends_on");
        map.insert("source_name".to_owned(), json!(source.source_name));
        map.insert(
            "source_description".to_owned(),
            json!(source.source_description),
        );
        map.insert(
            "loader".to_owned(),
            json!(source.loader.clone().unwrap_or_default()),
        );
        map.insert("identifier".to_owned(), json!(node.relation.identifier));
        map.insert("loaded_at_field".to_owned(), json!(source.loaded_at_field));
        map.insert("freshness".to_owned(), json!(source.freshness));
    }
    value
}

/// The manifest of a parsed (and possibly compiled) project.
pub fn manifest(project: &Project, parsed: &Parsed) -> Json {
    let target_path = &project.file().target_path;
    let mut nodes = serde_json::Map::new();
    let mut sources = serde_json::Map::new();
    for (id, node) in &parsed.nodes {
        let value = node_json(node, target_path);
        if node.resource_type == ResourceType::Source {
            sources.insert(id.clone(), value);
        } else {
            nodes.insert(id.clone(), value);
        }
    }
    let mut macros = serde_json::Map::new();
    for def in parsed.env.registry().all() {
        macros.insert(
            format!("macro.{}.{}", def.package, def.name),
            json!({
                "name": def.name,
                "resource_type": "macro",
                "package_name": def.package,
                "original_file_path": def.file,
                "unique_id": format!("macro.{}.{}", def.package, def.name),
                "line": def.line,
            }),
        );
    }
    let map_of = |direction: Direction| -> BTreeMap<String, Vec<&str>> {
        parsed
            .nodes
            .keys()
            .map(|id| (id.clone(), parsed.graph.neighbors(id, direction)))
            .collect()
    };
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": "1.11.0",
            "generator": format!("kiln {}", env!("CARGO_PKG_VERSION")),
            "generated_at": now_rfc3339(),
            "project_name": project.name(),
            "adapter_type": parsed.profile.target.kind,
            "env": {},
        },
        "nodes": nodes,
        "sources": sources,
        "macros": macros,
        "docs": {},
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": map_of(Direction::Incoming),
        "child_map": map_of(Direction::Outgoing),
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
    })
}

/// Writes `manifest.json` and the compiled SQL of every compiled node.
pub fn write_artifacts(project: &Project, parsed: &Parsed) -> Result<(), Diagnostic> {
    let target = project.target_dir();
    let io_error = |path: &Path, error: std::io::Error| {
        Diagnostic::error(format!("cannot write {}: {error}", path.display()))
            .help("check that the target directory is writable")
    };
    for node in parsed.nodes.values() {
        let Some(sql) = &node.compiled_code else {
            continue;
        };
        let path = project
            .root
            .join(compiled_path(&project.file().target_path, node));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        std::fs::write(&path, sql).map_err(|e| io_error(&path, e))?;
    }
    std::fs::create_dir_all(&target).map_err(|e| io_error(&target, e))?;
    let path = target.join("manifest.json");
    let text = serde_json::to_string(&manifest(project, parsed)).unwrap_or_default();
    std::fs::write(&path, text).map_err(|e| io_error(&path, e))
}
