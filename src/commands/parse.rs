//! `kiln parse`: load and validate everything, write the manifest (when the target directory
//! is writable), report counts and timing.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use kiln_core::ResourceType;

use crate::cli::CommonArgs;
use crate::commands::seconds;
use crate::printer::Printer;
use crate::session;

pub fn run(args: &CommonArgs, printer: &Printer) -> Result<ExitCode> {
    let started = Instant::now();
    let session = session::load(args, "parse", Default::default(), printer)?;
    let load_time = started.elapsed();
    let parsed = session.parse(printer)?;
    session::show_parse_logs(&parsed.env, printer);
    // `kiln parse` gives its verdict on a read-only checkout too (a mounted corpus, a CI cache):
    // a manifest that cannot be written is a warning, not a failed parse.
    if let Err(error) = kiln_compile::manifest::write_artifacts(&session.project, &parsed) {
        printer.diagnostic(
            &kiln_core::Diagnostic::warning(format!(
                "{}: the project parses, but target/manifest.json was not written",
                error.message
            ))
            .help("pass --target-path with a writable directory to get the manifest"),
        );
    }
    let count = |kind: ResourceType| {
        parsed
            .nodes
            .values()
            .filter(|n| n.resource_type == kind)
            .count()
    };
    let macros = parsed
        .env
        .registry()
        .all()
        .filter(|m| m.package != kiln_jinja::macros::BUILTIN_PACKAGE)
        .count();
    // Kinds a project may not have at all: named only when there are some.
    let some = |n: usize, one: &str, many: &str| match n {
        0 => String::new(),
        1 => format!(", 1 {one}"),
        n => format!(", {n} {many}"),
    };
    let semantic = &parsed.semantic;
    let others = [
        some(count(ResourceType::Analysis), "analysis", "analyses"),
        some(count(ResourceType::Exposure), "exposure", "exposures"),
        some(
            semantic.semantic_models.len(),
            "semantic model",
            "semantic models",
        ),
        some(semantic.metrics.len(), "metric", "metrics"),
        some(semantic.saved_queries.len(), "saved query", "saved queries"),
    ]
    .concat();
    printer.info(&format!(
        "Found {} models, {} tests, {} seeds, {} sources{others}, {} macros, {} packages",
        count(ResourceType::Model),
        count(ResourceType::Test),
        count(ResourceType::Seed),
        count(ResourceType::Source),
        macros,
        session.project.packages.len() - 1,
    ));
    printer.success(&format!(
        "Parsed in {} (load {}, render {}, graph {})",
        seconds(started.elapsed()),
        seconds(load_time),
        seconds(parsed.timings.parse),
        seconds(parsed.timings.graph),
    ));
    // The process ends now: the OS takes the memory back faster than freeing every node would.
    std::mem::forget(parsed);
    std::mem::forget(session);
    Ok(ExitCode::SUCCESS)
}
