//! `kiln compile`: render the selected models to the SQL that will run.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use kiln_compile::CompileFlags;
use kiln_graph::ResourceType;

use crate::cli::CompileArgs;
use crate::commands::seconds;
use crate::printer::Printer;
use crate::session;

pub fn run(args: &CompileArgs, printer: &Printer) -> Result<ExitCode> {
    let started = Instant::now();
    let session = session::load(&args.common, "compile", args.full_refresh, printer)?;
    let mut parsed = kiln_compile::parse(&session.project, &session.profile, &session.options)?;
    printer.diagnostics(&parsed.warnings);
    let selected = kiln_graph::select(&parsed.graph, &args.select.select, &args.select.exclude)?;
    kiln_compile::compile(
        &mut parsed,
        &selected,
        CompileFlags {
            incremental: args.incremental,
        },
    )?;
    for line in parsed.env.take_logs().into_iter().filter(|l| l.info) {
        printer.info(&line.message);
    }
    kiln_compile::manifest::write_artifacts(&session.project, &parsed)?;
    let compiled: Vec<_> = selected
        .iter()
        .filter_map(|id| parsed.nodes.get(id))
        .filter(|n| n.resource_type == ResourceType::Model && n.compiled_code.is_some())
        .collect();
    if let ([node], false) = (compiled.as_slice(), args.select.select.is_empty()) {
        printer.data(node.compiled_code.as_deref().unwrap_or_default());
    }
    let target = &session.project.file().target_path;
    printer.success(&format!(
        "Compiled {} model{} to {target}/compiled/ in {}",
        compiled.len(),
        if compiled.len() == 1 { "" } else { "s" },
        seconds(started.elapsed())
    ));
    Ok(ExitCode::SUCCESS)
}
