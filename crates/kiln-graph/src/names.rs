//! Resolving `ref('name')` and `source('s', 't')` to unique ids, with a suggestion when the
//! name does not exist.

use std::collections::BTreeMap;

use kiln_core::UnknownName;
use kiln_core::diagnostic::closest;

/// The names `ref` and `source` can reach.
#[derive(Debug, Default)]
pub struct NameIndex {
    root: String,
    /// Model, seed and snapshot names: (package, unique id) for each node of that name.
    refs: BTreeMap<String, Vec<(String, String)>>,
    sources: BTreeMap<(String, String), String>,
}

impl NameIndex {
    pub fn new(root: &str) -> Self {
        NameIndex {
            root: root.to_owned(),
            ..NameIndex::default()
        }
    }

    pub fn add_ref_target(&mut self, package: &str, name: &str, unique_id: &str) {
        self.refs
            .entry(name.to_owned())
            .or_default()
            .push((package.to_owned(), unique_id.to_owned()));
    }

    pub fn add_source(&mut self, source: &str, table: &str, unique_id: &str) {
        self.sources
            .insert((source.to_owned(), table.to_owned()), unique_id.to_owned());
    }

    /// dbt's lookup: the named package if given; else the calling package, then the root
    /// project, then the one package that has it.
    pub fn resolve_ref(
        &self,
        from_package: &str,
        package: Option<&str>,
        name: &str,
    ) -> Result<&str, UnknownName> {
        let candidates = self.refs.get(name).map(Vec::as_slice).unwrap_or_default();
        let in_package = |p: &str| {
            candidates
                .iter()
                .find(|(pkg, _)| pkg == p)
                .map(|(_, id)| id.as_str())
        };
        let found = match package {
            Some(package) => in_package(package),
            None => in_package(from_package)
                .or_else(|| in_package(&self.root))
                .or_else(|| (candidates.len() == 1).then(|| candidates[0].1.as_str())),
        };
        found.ok_or_else(|| UnknownName::Ref {
            name: name.to_owned(),
            package: package.map(str::to_owned),
            suggestion: closest(name, self.refs.keys().map(String::as_str))
                .filter(|suggestion| *suggestion != name)
                .map(str::to_owned),
        })
    }

    pub fn resolve_source(&self, source: &str, table: &str) -> Result<&str, UnknownName> {
        if let Some(id) = self.sources.get(&(source.to_owned(), table.to_owned())) {
            return Ok(id);
        }
        let tables: Vec<&str> = self
            .sources
            .keys()
            .filter(|(s, _)| s == source)
            .map(|(_, t)| t.as_str())
            .collect();
        if tables.is_empty() {
            let names: Vec<&str> = self.sources.keys().map(|(s, _)| s.as_str()).collect();
            return Err(UnknownName::Source {
                source: source.to_owned(),
                suggestion: closest(source, names).map(str::to_owned),
            });
        }
        Err(UnknownName::SourceTable {
            source: source.to_owned(),
            table: table.to_owned(),
            suggestion: closest(table, tables.iter().copied()).map(str::to_owned),
            tables: tables.iter().map(|t| (*t).to_owned()).collect(),
        })
    }
}
