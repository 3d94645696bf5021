//! Filling in [`kiln_core::Node`]s from what loading and the parse render found.

use kiln_core::{
    CliFlags, Column, Diagnostic, Node, NodeConfig, RawConfig, ResourceType, SnapshotConfig,
};
use kiln_jinja::Recorded;
use kiln_project::schema::ColumnProps;

/// A documented column of schema YAML as a node's column.
pub(crate) fn column(props: &ColumnProps) -> Column {
    Column {
        name: props.name.clone(),
        description: props.description.clone(),
        data_type: props.data_type.clone(),
        quote: props.quote,
        meta: props.meta.clone(),
        tags: props.tags.clone(),
        constraints: props.constraints.clone(),
    }
}

/// Resolves the node's config layers with the command line. A config value that is not
/// allowed is an error at the node's file and line.
pub(crate) fn resolve_config(
    node: &Node,
    config: RawConfig,
    cli: &CliFlags,
) -> Result<NodeConfig, Diagnostic> {
    let mut resolved = config.resolve(node.resource_type, cli).map_err(|invalid| {
        invalid
            .to_diagnostic(node.resource_type, &node.name)
            .at(node.location.clone())
    })?;
    if node.resource_type == ResourceType::Snapshot && resolved.enabled {
        let settings = SnapshotConfig::from_config(&resolved).map_err(|error| {
            Diagnostic::error(format!("snapshot `{}` {error}", node.name))
                .at(node.location.clone())
                .help(error.help())
        })?;
        resolved.snapshot = Some(settings);
    }
    check_shapes(node, &resolved)?;
    Ok(resolved)
}

/// Configs kept as written (in `other`) whose shape the runner relies on: `grants` maps each
/// privilege to a role or a list of roles, `persist_docs` is `{relation: bool, columns: bool}`.
/// dbt refuses other shapes at parse; so does Kiln, rather than ignore them at run time.
fn check_shapes(node: &Node, config: &kiln_core::NodeConfig) -> Result<(), Diagnostic> {
    use serde_json::Value as Json;
    let wrong = |key: &str, expected: &str, example: &str| {
        Diagnostic::error(format!(
            "{} `{}`: config `{key}` must be {expected}",
            node.resource_type, node.name
        ))
        .at(node.location.clone())
        .help(format!("for example `{key}: {example}`"))
    };
    if let Some(grants) = config.other.get("grants") {
        let roles_ok = |roles: &Json| match roles {
            Json::String(_) => true,
            Json::Array(many) => many.iter().all(Json::is_string),
            _ => false,
        };
        if !grants
            .as_object()
            .is_some_and(|privileges| privileges.values().all(roles_ok))
        {
            return Err(wrong(
                "grants",
                "a mapping of privileges to roles",
                "{select: [reporter, analyst]}",
            ));
        }
    }
    if let Some(docs) = config.other.get("persist_docs")
        && !docs
            .as_object()
            .is_some_and(|map| map.values().all(Json::is_boolean))
    {
        return Err(wrong(
            "persist_docs",
            "a mapping of `relation` and `columns` to true or false",
            "{relation: true, columns: true}",
        ));
    }
    Ok(())
}

/// Records what the parse render found: the node's calls and its resolved config.
pub(crate) fn apply_recorded(
    node: &mut Node,
    recorded: Recorded,
    cli: &CliFlags,
) -> Result<(), Diagnostic> {
    node.refs = recorded.refs;
    node.sources = recorded.sources;
    // A generic test's macro comes first (set when the test was made).
    for id in recorded.macros {
        if !node.macros.contains(&id) {
            node.macros.push(id);
        }
    }
    node.config = resolve_config(node, recorded.config, cli)?;
    Ok(())
}
