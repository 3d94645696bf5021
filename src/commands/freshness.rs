//! `kiln source freshness`: are the selected sources loaded recently enough?

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use kiln_core::{Diagnostic, Diagnostics, ResourceType};
use kiln_run::freshness::{self, FreshnessStatus};

use crate::cli::FreshnessArgs;
use crate::commands::seconds;
use crate::printer::Printer;
use crate::{session, target};

const LINE_WIDTH: usize = 80;

fn line(left: &str, right: &str) -> String {
    let dots = LINE_WIDTH
        .saturating_sub(crate::printer::visible_width(left) + 1)
        .max(3);
    format!("{left} {} [{right}]", ".".repeat(dots))
}

pub fn run(args: &FreshnessArgs, printer: &Printer) -> Result<ExitCode> {
    let started = Instant::now();
    let session = session::load(&args.common, "freshness", Default::default(), printer)?;
    let parsed = session.parse(printer)?;
    // As every command that parses, it leaves the manifest (what --state reads).
    kiln_compile::manifest::write_artifacts(&session.project, &parsed)?;
    let (selected, _) = session::select(&session.project, &parsed, &args.select)?;
    let mut checks = Vec::new();
    let mut errors = Vec::new();
    for id in &selected {
        let Some(node) = parsed.nodes.get(id) else {
            continue;
        };
        if node.resource_type != ResourceType::Source {
            continue;
        }
        match freshness::criteria(node) {
            Ok(Some(criteria)) => checks.push((node, criteria)),
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors).into());
    }
    if checks.is_empty() {
        printer.diagnostic(
            &Diagnostic::warning("no selected source has a freshness to check")
                .help("give a source loaded_at_field and freshness: {warn_after: {count: 12, period: hour}}"),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let adapter = target::adapter(&session.project, &session.profile, printer)?;
    let mut conn = kiln_adapter::Adapter::connect(&adapter)
        .map_err(|e| Diagnostics::from(Diagnostic::error(e.full_message())))?;
    // Timestamps without a time zone are read as UTC, as dbt reads them.
    conn.execute("set time zone 'UTC'")
        .map_err(|e| Diagnostics::from(Diagnostic::error(e.full_message())))?;
    let total = checks.len();
    let mut results = Vec::new();
    for (index, (node, criteria)) in checks.into_iter().enumerate() {
        let name = format!(
            "{}.{}",
            node.source.as_ref().map_or("", |s| s.source_name.as_str()),
            node.name
        );
        printer.data(&line(
            &format!("{} of {total} START freshness of {name}", index + 1),
            "RUN",
        ));
        let checked = freshness::check(conn.as_mut(), node, criteria);
        let (word, color) = match checked.status {
            FreshnessStatus::Pass => ("PASS", "\x1b[32m"),
            FreshnessStatus::Warn => ("WARN", "\x1b[33m"),
            FreshnessStatus::Error => ("ERROR STALE", "\x1b[31m"),
            FreshnessStatus::RuntimeError => ("ERROR", "\x1b[31m"),
        };
        printer.data(&line(
            &format!(
                "{} of {total} {} freshness of {name}",
                index + 1,
                printer.paint(color, word)
            ),
            &format!("{word} in {:.2}s", checked.execution_time),
        ));
        if let Some(message) = &checked.message {
            printer.data(&format!("  {message}"));
        }
        results.push(checked);
    }
    let invocation_id = uuid::Uuid::new_v4().to_string();
    let json = freshness::sources_json(&results, &invocation_id, started.elapsed().as_secs_f64());
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| session.project.target_dir().join("sources.json"));
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&output, serde_json::to_string_pretty(&json)?)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    let count = |s: FreshnessStatus| results.iter().filter(|r| r.status == s).count();
    let failed = count(FreshnessStatus::Error) + count(FreshnessStatus::RuntimeError);
    printer.data(&format!(
        "\nDone. PASS={} WARN={} ERROR={failed} TOTAL={total} in {}",
        count(FreshnessStatus::Pass),
        count(FreshnessStatus::Warn),
        seconds(started.elapsed())
    ));
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
