//! `kiln ls`: the selected nodes, one per line.

use std::process::ExitCode;

use anyhow::Result;
use kiln_core::{Diagnostic, ResourceType};
use serde_json::json;

use crate::cli::{LsArgs, LsOutput};
use crate::printer::Printer;
use crate::session;

pub fn run(args: &LsArgs, printer: &Printer) -> Result<ExitCode> {
    let session = session::load(&args.common, "list", Default::default(), printer)?;
    let parsed = session.parse(printer)?;
    session::show_parse_logs(&parsed.env, printer);
    let mut types = Vec::new();
    for name in &args.resource_types {
        match ResourceType::parse(name) {
            Some(kind) => types.push(kind),
            None if name == "all" => {}
            None => {
                return Err(kiln_core::Diagnostics::from(
                    Diagnostic::error(format!("unknown resource type `{name}`"))
                        .help("use model, seed, source, test, snapshot or all"),
                )
                .into());
            }
        }
    }
    let (selected, _) = session::select(&session.project, &parsed, &args.select)?;
    for id in &selected {
        let Some(node) = parsed.nodes.get(id) else {
            continue;
        };
        if !types.is_empty() && !types.contains(&node.resource_type) {
            continue;
        }
        let line = match args.output {
            LsOutput::Name => node.name.clone(),
            LsOutput::Path => node.original_file_path.display().to_string(),
            LsOutput::Selector if node.resource_type == ResourceType::Source => {
                format!("source:{}", node.fqn.join("."))
            }
            LsOutput::Selector if node.resource_type == ResourceType::Exposure => {
                // As dbt lists them: `exposure:<package>.<name>`.
                format!("exposure:{}.{}", node.package, node.name)
            }
            LsOutput::Selector => node.fqn.join("."),
            LsOutput::Json => json!({
                "name": node.name,
                "resource_type": node.resource_type.as_str(),
                "package_name": node.package,
                "original_file_path": node.original_file_path,
                "unique_id": node.unique_id,
                "alias": node.relation.identifier,
                "config": node.config.to_json(),
                "tags": node.config.tags,
                "depends_on": {"nodes": node.depends_on},
            })
            .to_string(),
        };
        printer.data(&line);
    }
    Ok(ExitCode::SUCCESS)
}
