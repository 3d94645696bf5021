//! `kiln compile`: render the selected models to the SQL that will run.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use kiln_core::ResourceType;

use crate::cli::CompileArgs;
use crate::commands::seconds;
use crate::printer::Printer;
use crate::session;

pub fn run(args: &CompileArgs, printer: &Printer) -> Result<ExitCode> {
    let started = Instant::now();
    let cli = kiln_core::CliFlags {
        full_refresh: args.full_refresh,
        store_failures: false,
    };
    let session = session::load(&args.common, "compile", cli, printer)?;
    let mut parsed = session.parse(printer)?;
    let (selected, _) = session::select(&session.project, &parsed, &args.select)?;
    let mut options = kiln_compile::RenderOptions {
        empty: args.empty,
        incremental: args.incremental,
        warehouse: None,
        offline_fallback: !args.connect,
        ..kiln_compile::RenderOptions::default()
    };
    let mut lazy: Option<std::sync::Arc<crate::lazy_warehouse::LazyWarehouse>> = None;
    // As dbt's compile: `execute` is true. The warehouse is connected up front with
    // --connect, never with --no-connect, and otherwise when a template first needs it.
    if args.connect {
        let adapter = crate::target::adapter(&session.project, &session.profile, printer)?;
        let connection = kiln_adapter::Adapter::connect(&adapter).map_err(|e| {
            kiln_core::Diagnostics::from(
                kiln_core::Diagnostic::error(e.full_message())
                    .help("`kiln debug` checks the connection"),
            )
        })?;
        options.warehouse = Some(std::sync::Arc::new(
            kiln_run::connection::SharedConnection::new(connection),
        ));
    } else if !args.no_connect {
        let warehouse = std::sync::Arc::new(crate::lazy_warehouse::LazyWarehouse::new(
            crate::target::local_dir(&session.project, &session.profile),
            session.profile.clone(),
        ));
        lazy = Some(warehouse.clone());
        options.warehouse = Some(warehouse);
    }
    session::show_logs(&parsed.env, printer);
    if let Some(sql) = &args.inline {
        let rendered = session::render_inline(&session.project, &parsed, sql, &options);
        for message in lazy.iter().flat_map(|warehouse| warehouse.take_messages()) {
            printer.info(&message);
        }
        printer.data(&rendered?);
        return Ok(ExitCode::SUCCESS);
    }
    // A node that fails to compile is reported, after the others are written (as dbt does).
    let warned = parsed.warnings.len();
    let compiled = kiln_compile::compile(&mut parsed, &selected, options);
    for message in lazy.iter().flat_map(|warehouse| warehouse.take_messages()) {
        printer.info(&message);
    }
    printer.diagnostics(&parsed.warnings[warned..]);
    kiln_compile::manifest::write_artifacts(&session.project, &parsed)?;
    compiled?;
    let compiled: Vec<_> = selected
        .iter()
        .filter_map(|id| parsed.nodes.get(id))
        .filter(|n| {
            matches!(
                n.resource_type,
                ResourceType::Model
                    | ResourceType::Test
                    | ResourceType::Snapshot
                    | ResourceType::Analysis
            ) && n.compiled_code.is_some()
        })
        .collect();
    // One model selected (its tests come along): show its SQL; likewise for one test alone.
    let models: Vec<_> = compiled
        .iter()
        .filter(|n| n.resource_type != ResourceType::Test)
        .collect();
    let shown = match (models.as_slice(), compiled.as_slice()) {
        ([model], _) => Some(**model),
        ([], [test]) => Some(*test),
        _ => None,
    };
    if let (Some(node), false) = (shown, args.select.select.is_empty()) {
        printer.data(node.compiled_code.as_deref().unwrap_or_default());
    }
    let target = &session.project.file().target_path;
    let count = |kind: ResourceType| compiled.iter().filter(|n| n.resource_type == kind).count();
    let (models, snapshots, tests, analyses) = (
        count(ResourceType::Model),
        count(ResourceType::Snapshot),
        count(ResourceType::Test),
        count(ResourceType::Analysis),
    );
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut also = Vec::new();
    if snapshots > 0 {
        also.push(format!("{snapshots} snapshot{}", plural(snapshots)));
    }
    if analyses > 0 {
        let word = if analyses == 1 {
            "analysis"
        } else {
            "analyses"
        };
        also.push(format!("{analyses} {word}"));
    }
    if tests > 0 {
        also.push(format!("{tests} test{}", plural(tests)));
    }
    let also: String = also.iter().map(|part| format!(" and {part}")).collect();
    printer.success(&format!(
        "Compiled {models} model{}{also} to {target}/compiled/ in {}",
        plural(models),
        seconds(started.elapsed())
    ));
    // The process ends now: the OS takes the memory back faster than freeing every node would.
    std::mem::forget(parsed);
    std::mem::forget(session);
    Ok(ExitCode::SUCCESS)
}
