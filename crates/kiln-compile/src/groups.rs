//! Groups (`groups:` in schema YAML) and model access: which models belong together, who owns
//! them, and which refs dbt refuses (a private model may only be read from its own group).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kiln_core::diagnostic::DiagnosticSink;
use kiln_core::{Diagnostic, Location, Node, ResourceType};
use kiln_project::Project;
use serde_json::{Value as Json, json};

/// A declared group.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub package: String,
    /// `{name, email}` as dbt's manifest writes it (both keys).
    pub owner: Json,
    pub description: Option<String>,
    pub meta: Json,
    /// Relative to the package, and relative to its model path (dbt's `path`).
    pub original_file_path: PathBuf,
    pub path: PathBuf,
}

impl Group {
    pub fn unique_id(&self) -> String {
        format!("group.{}.{}", self.package, self.name)
    }

    /// The group's entry in the manifest's `groups`.
    pub fn manifest_entry(&self) -> Json {
        json!({
            "name": self.name,
            "resource_type": "group",
            "package_name": self.package,
            "path": self.path,
            "original_file_path": self.original_file_path,
            "unique_id": self.unique_id(),
            "owner": self.owner,
            "description": self.description,
            "config": {"meta": self.meta},
        })
    }
}

/// The groups every package declares. A group without an owner, or declared twice, is an error.
pub fn discover(project: &Project, sink: &mut DiagnosticSink) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    for package in &project.packages {
        for file in &package.schema_files {
            for props in &file.groups {
                let location = Location::new(&file.path, props.line);
                if let Some(previous) = seen.insert(props.name.clone(), location.clone()) {
                    sink.push(
                        Diagnostic::error(format!("group `{}` is declared twice", props.name))
                            .at(location)
                            .note(format!("first declared at {previous}")),
                    );
                    continue;
                }
                let mut owner = props.owner.clone().unwrap_or(Json::Null);
                let Some(map) = owner
                    .as_object_mut()
                    .filter(|o| o.contains_key("name") || o.contains_key("email"))
                else {
                    sink.push(
                        Diagnostic::error(format!("group `{}` has no owner", props.name))
                            .at(location)
                            .help("add `owner: {name: ..., email: ...}` (one of the two at least)"),
                    );
                    continue;
                };
                map.entry("email").or_insert(Json::Null);
                map.entry("name").or_insert(Json::Null);
                let meta = props
                    .config
                    .as_ref()
                    .and_then(|c| c.get("meta"))
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                let original_file_path = file
                    .path
                    .strip_prefix(&package.rel_dir)
                    .unwrap_or(&file.path)
                    .to_path_buf();
                groups.push(Group {
                    name: props.name.clone(),
                    package: package.name.clone(),
                    owner,
                    description: props.description.clone(),
                    meta,
                    path: crate::discover::under_model_path(package, &original_file_path),
                    original_file_path,
                });
            }
        }
    }
    groups
}

/// A node's group and access, as configured.
pub fn group_of(node: &Node) -> Option<&str> {
    node.config.other.get("group").and_then(Json::as_str)
}

fn access_of(node: &Node) -> &str {
    node.config
        .other
        .get("access")
        .and_then(Json::as_str)
        .unwrap_or("protected")
}

/// dbt's checks: every node's group is declared, every model's access is one dbt knows, and no
/// node outside a private model's group refs it.
pub fn check(nodes: &BTreeMap<String, Node>, groups: &[Group], sink: &mut DiagnosticSink) {
    const ACCESS: &[&str] = &["private", "protected", "public"];
    let declared: BTreeSet<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    for node in nodes.values() {
        if let Some(group) = group_of(node).filter(|g| !declared.contains(g)) {
            let known = declared.iter().copied().collect::<Vec<_>>().join(", ");
            sink.push(
                Diagnostic::error(format!(
                    "{} `{}` is in group `{group}`, which no `groups:` entry declares",
                    node.resource_type, node.name
                ))
                .at(node.location.clone())
                .help(
                    match kiln_core::diagnostic::closest(group, declared.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None if known.is_empty() => {
                            "declare it under `groups:` in a schema YAML file, with its owner"
                                .to_owned()
                        }
                        None => format!("declared groups: {known}"),
                    },
                ),
            );
        }
        if node.resource_type == ResourceType::Model && !ACCESS.contains(&access_of(node)) {
            sink.push(
                Diagnostic::error(format!(
                    "model `{}` has unknown access `{}`",
                    node.name,
                    access_of(node)
                ))
                .at(node.location.clone())
                .help("use private, protected or public"),
            );
        }
        // Tests read what they test; a private model's tests are its group's business.
        if matches!(
            node.resource_type,
            ResourceType::Test | ResourceType::UnitTest
        ) {
            continue;
        }
        for parent in node.depends_on.iter().filter_map(|id| nodes.get(id)) {
            if parent.resource_type != ResourceType::Model || access_of(parent) != "private" {
                continue;
            }
            let parent_group = group_of(parent).unwrap_or_default();
            if group_of(node) == Some(parent_group) {
                continue;
            }
            let at = match node.raw_code.is_empty() {
                true => node.location.clone(),
                false => Location::new(
                    &node.display_path,
                    crate::parse::line_of_mention(&node.raw_code, &parent.name),
                ),
            };
            sink.push(
                Diagnostic::error(format!(
                    "{} `{}` refs `{}`, which is private to group `{parent_group}`",
                    node.resource_type, node.name, parent.name
                ))
                .at(at)
                .help(format!(
                    "put `{}` in group `{parent_group}`, or give `{}` `access: protected`",
                    node.name, parent.name
                )),
            );
        }
    }
}

/// dbt's `group_map`: each group's name and the unique ids of its nodes.
pub fn group_map(
    nodes: &BTreeMap<String, Node>,
    groups: &[Group],
) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = groups
        .iter()
        .map(|g| (g.name.clone(), Vec::new()))
        .collect();
    for node in nodes.values() {
        if let Some(members) = group_of(node).and_then(|g| map.get_mut(g)) {
            members.push(node.unique_id.clone());
        }
    }
    map
}
