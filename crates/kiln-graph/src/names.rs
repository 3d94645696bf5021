//! Resolving `ref('name')` and `source('s', 't')` to unique ids, with a suggestion when the
//! name does not exist.

use std::collections::BTreeMap;

use kiln_project::diagnostic::closest;

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
    ) -> Result<&str, String> {
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
        found.ok_or_else(|| {
            let place = package.map_or_else(String::new, |p| format!(" in package `{p}`"));
            match closest(name, self.refs.keys().map(String::as_str)) {
                Some(suggestion) if suggestion != name => {
                    format!("no model, seed or snapshot is named `{name}`{place}; did you mean `{suggestion}`?")
                }
                _ => format!("no model, seed or snapshot is named `{name}`{place}"),
            }
        })
    }

    pub fn resolve_source(&self, source: &str, table: &str) -> Result<&str, String> {
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
            return Err(match closest(source, names) {
                Some(s) => format!("source `{source}` is not declared; did you mean `{s}`?"),
                None => format!("source `{source}` is not declared in any schema YAML file"),
            });
        }
        Err(match closest(table, tables.iter().copied()) {
            Some(t) => format!("source `{source}` has no table `{table}`; did you mean `{t}`?"),
            None => format!(
                "source `{source}` has no table `{table}`; its tables are {}",
                tables.join(", ")
            ),
        })
    }
}
