//! `--state DIR`: another run's artifacts (its `manifest.json`, and `run_results.json` /
//! `sources.json` when present), for dbt's `state:`, `result:` and `source_status:` selectors
//! and for `--defer`.
//!
//! A node is `state:new` when the other manifest lacks it, and `state:modified` when it is new
//! or one of these changed: `.body` (its SQL), `.configs`, `.relation` (the configured
//! database, schema, alias), `.persisted_descriptions` (descriptions persisted with `persist_docs`), `.macros`
//! (a macro it calls, directly or through other macros, changed; calls are found by name in
//! the text, as dbt's static analysis finds them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use kiln_core::{Diagnostic, Relation, ResourceType};
use kiln_graph::StateFacts;
use kiln_project::Project;

use crate::manifest::{macro_sources, node_json};
use crate::parse::Parsed;

/// Another run's artifacts.
#[derive(Debug, Clone)]
pub struct State {
    pub dir: PathBuf,
    manifest: Json,
    run_results: Option<Json>,
    sources: Option<Json>,
}

fn read_json(path: &Path) -> Result<Option<Json>, Diagnostic> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|error| {
        Diagnostic::error(format!("{} is not valid JSON: {error}", path.display()))
            .help("point --state at the target directory of a finished run")
    })
}

impl State {
    /// Reads `dir/manifest.json` (required) and the run's other artifacts.
    pub fn load(dir: &Path) -> Result<State, Diagnostic> {
        let manifest = read_json(&dir.join("manifest.json"))?.ok_or_else(|| {
            Diagnostic::error(format!(
                "--state {}: there is no manifest.json in that directory",
                dir.display()
            ))
            .help("point --state at the target directory of the run to compare with (its manifest.json)")
        })?;
        Ok(State {
            dir: dir.to_path_buf(),
            manifest,
            run_results: read_json(&dir.join("run_results.json"))?,
            sources: read_json(&dir.join("sources.json"))?,
        })
    }

    fn node(&self, unique_id: &str) -> Option<&Json> {
        self.manifest["nodes"]
            .get(unique_id)
            .or_else(|| self.manifest["sources"].get(unique_id))
            .or_else(|| self.manifest["unit_tests"].get(unique_id))
    }

    /// Where the other run built `unique_id`, for `--defer`.
    pub fn relation_of(&self, unique_id: &str) -> Option<Relation> {
        let node = self.manifest["nodes"].get(unique_id)?;
        let text = |key: &str| node[key].as_str().map(str::to_owned);
        let mut relation = Relation::new(
            text("database").unwrap_or_default(),
            text("schema")?,
            text("alias").or_else(|| text("name"))?,
        );
        if text("database").is_none() {
            relation.database = None;
        }
        Some(relation)
    }

    /// What the selectors need to know about every node of `parsed`.
    pub fn facts(&self, project: &Project, parsed: &Parsed) -> StateFacts {
        let changed_macros = self.changed_macros(parsed);
        let mut labels = BTreeMap::new();
        for (id, node) in &parsed.nodes {
            let mut mine = BTreeSet::new();
            match self.node(id) {
                None => {
                    mine.insert("new".to_owned());
                    mine.insert("modified".to_owned());
                }
                Some(old) => {
                    let new = node_json(node, project);
                    let differs = |key: &str| new.get(key) != old.get(key);
                    if node.resource_type != ResourceType::Source
                        && (differs("raw_code") || differs("checksum"))
                    {
                        mine.insert("modified.body".to_owned());
                    }
                    let source_keys = ["loaded_at_field", "freshness", "identifier"];
                    if differs("config")
                        || (node.resource_type == ResourceType::Source
                            && source_keys.iter().any(|k| differs(k)))
                    {
                        mine.insert("modified.configs".to_owned());
                    }
                    // As dbt does, the configured names are compared, not the resolved ones:
                    // CI builds in a schema of its own without every node counting as moved.
                    let config_differs =
                        |key: &str| new["config"].get(key) != old["config"].get(key);
                    if ["database", "schema", "alias"]
                        .iter()
                        .any(|k| config_differs(k))
                    {
                        mine.insert("modified.relation".to_owned());
                    }
                    if persists_docs(&new) && descriptions(&new) != descriptions(old) {
                        mine.insert("modified.persisted_descriptions".to_owned());
                    }
                    if mentions_any(&node.raw_code, &changed_macros)
                        || node.test.as_ref().is_some_and(|t| {
                            changed_macros.contains(&format!("test_{}", t.test_name))
                        })
                    {
                        mine.insert("modified.macros".to_owned());
                    }
                    if !mine.is_empty() {
                        mine.insert("modified".to_owned());
                    }
                }
            }
            if !mine.is_empty() {
                labels.insert(id.clone(), mine);
            }
        }
        StateFacts {
            labels,
            results: self.results(),
            fresher: self.fresher(&project.target_dir()),
        }
    }

    /// Names of the macros that changed since the other run, and of the macros that call them.
    fn changed_macros(&self, parsed: &Parsed) -> BTreeSet<String> {
        let current = macro_sources(parsed);
        let name_of = |id: &str| id.rsplit('.').next().unwrap_or(id).to_owned();
        let mut changed: BTreeSet<String> = current
            .iter()
            .filter(|(id, sql)| {
                self.manifest["macros"][id.as_str()]["macro_sql"].as_str() != Some(sql.as_str())
            })
            .map(|(id, _)| name_of(id))
            .collect();
        // Macros that call a changed macro changed too, to any depth.
        loop {
            let callers: Vec<String> = current
                .iter()
                .map(|(id, sql)| (name_of(id), sql))
                .filter(|(name, sql)| !changed.contains(name) && mentions_any(sql, &changed))
                .map(|(name, _)| name)
                .collect();
            if callers.is_empty() {
                return changed;
            }
            changed.extend(callers);
        }
    }

    fn results(&self) -> BTreeMap<String, String> {
        self.run_results
            .as_ref()
            .map(|json| by_unique_id(json, "status"))
            .unwrap_or_default()
    }

    /// Sources whose latest load (in `target/sources.json` of this project) is newer than the
    /// state's.
    fn fresher(&self, target_dir: &Path) -> BTreeSet<String> {
        let Ok(Some(current)) = read_json(&target_dir.join("sources.json")) else {
            return BTreeSet::new();
        };
        let loads = |json: &Json| by_unique_id(json, "max_loaded_at");
        let before = self.sources.as_ref().map(loads).unwrap_or_default();
        loads(&current)
            .into_iter()
            .filter(|(id, loaded)| before.get(id).is_none_or(|old| loaded > old))
            .map(|(id, _)| id)
            .collect()
    }
}

/// `field` of each entry of an artifact's `results`, by unique id (run_results.json's
/// `status`, sources.json's `max_loaded_at`).
fn by_unique_id(artifact: &Json, field: &str) -> BTreeMap<String, String> {
    artifact["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r["unique_id"].as_str()?.to_owned(),
                r[field].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn persists_docs(node: &Json) -> bool {
    let docs = &node["config"]["persist_docs"];
    docs["relation"].as_bool() == Some(true) || docs["columns"].as_bool() == Some(true)
}

fn descriptions(node: &Json) -> (Json, Vec<Json>) {
    let columns = node["columns"]
        .as_object()
        .map(|c| c.values().map(|c| c["description"].clone()).collect())
        .unwrap_or_default();
    (node["description"].clone(), columns)
}

/// Whether `text` calls one of `names` (`name(` after a non-identifier character).
fn mentions_any(text: &str, names: &BTreeSet<String>) -> bool {
    if names.is_empty() {
        return false;
    }
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut start = 0;
    while start < bytes.len() {
        if is_ident(bytes[start]) && (start == 0 || !is_ident(bytes[start - 1])) {
            let end = (start..bytes.len())
                .find(|&i| !is_ident(bytes[i]))
                .unwrap_or(bytes.len());
            let word = &text[start..end];
            let rest = text[end..].trim_start();
            if rest.starts_with('(') && names.contains(word) {
                return true;
            }
            start = end;
        } else {
            start += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_calls_by_name() {
        let names: BTreeSet<String> = ["cents_to_dollars".to_owned()].into();
        assert!(mentions_any(
            "select {{ cents_to_dollars ('amount') }}",
            &names
        ));
        assert!(!mentions_any(
            "select my_cents_to_dollars('amount')",
            &names
        ));
        assert!(!mentions_any(
            "select cents_to_dollars_v2('amount')",
            &names
        ));
        assert!(!mentions_any("-- cents_to_dollars is not called", &names));
    }
}
