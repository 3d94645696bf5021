//! `kiln run`, `kiln seed`, `kiln build`: materialize the selection on the warehouse.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Result;
use kiln_core::ResourceType;
use kiln_run::{Cancel, RunOptions, Status};

use crate::cli::RunArgs;
use crate::commands::run_report::RunReporter;
use crate::printer::Printer;
use crate::{session, target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Run,
    Seed,
    Snapshot,
    Test,
    Build,
}

impl Kind {
    /// The command a run_results.json's `which` names, for `kiln retry`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "run" => Kind::Run,
            "seed" => Kind::Seed,
            "snapshot" => Kind::Snapshot,
            "test" => Kind::Test,
            "build" => Kind::Build,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Seed => "seed",
            Kind::Snapshot => "snapshot",
            Kind::Test => "test",
            Kind::Build => "build",
        }
    }

    /// What the command runs, for messages.
    fn nodes(self) -> &'static str {
        match self {
            Kind::Run => "model",
            Kind::Seed => "seed",
            Kind::Snapshot => "snapshot",
            Kind::Test => "test",
            Kind::Build => "model, seed, snapshot or test",
        }
    }

    fn includes(self, resource: ResourceType) -> bool {
        match self {
            Kind::Run => resource == ResourceType::Model,
            Kind::Seed => resource == ResourceType::Seed,
            Kind::Snapshot => resource == ResourceType::Snapshot,
            Kind::Test => resource == ResourceType::Test,
            Kind::Build => matches!(
                resource,
                ResourceType::Model
                    | ResourceType::Seed
                    | ResourceType::Snapshot
                    | ResourceType::Test
            ),
        }
    }
}

/// Cancels the run on SIGINT (Ctrl-C), SIGTERM (`timeout`, CI cancellation, `docker stop`) and
/// SIGHUP: the queries in flight are cancelled on the server and the run ends as usual
/// (results written). A second signal exits at once. Returns the first signal received (0
/// while none has been), for the exit code (128 + signal, as shells report it).
fn on_signals(cancel: &Arc<Cancel>) -> Arc<AtomicI32> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let received = Arc::new(AtomicI32::new(0));
    // Registering fails only when the process cannot handle signals at all; the run then goes
    // on without cancellation, as before any handler existed.
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        let cancel = Arc::clone(cancel);
        let first = Arc::clone(&received);
        std::thread::spawn(move || {
            for signal in signals.forever() {
                if first
                    .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    std::process::exit(128 + signal);
                }
                cancel.interrupt();
            }
        });
    }
    received
}

pub fn run(args: &RunArgs, kind: Kind, printer: &Printer) -> Result<ExitCode> {
    execute(args, kind, None, printer)
}

/// Runs `kind` on the nodes that `args` selects, or, for `kiln retry`, on exactly the nodes of
/// `only` (unique ids) that still exist.
pub fn execute(
    args: &RunArgs,
    kind: Kind,
    only: Option<&BTreeSet<String>>,
    printer: &Printer,
) -> Result<ExitCode> {
    // First thing: a signal at any point ends with 128 + signal, nothing half-done on the
    // warehouse.
    let cancel = Cancel::new();
    let signal = on_signals(&cancel);
    let cli = kiln_core::CliFlags {
        full_refresh: args.full_refresh,
        store_failures: args.store_failures,
    };
    let session = session::load(&args.common, kind.name(), cli, printer)?;
    let mut parsed = kiln_compile::parse(&session.project, &session.profile, &session.options)?;
    printer.diagnostics(&parsed.warnings);
    let candidates: Vec<String> = match only {
        Some(ids) => ids.iter().cloned().collect(),
        None => kiln_graph::select(&parsed.graph, &args.select.select, &args.select.exclude)?
            .into_iter()
            .collect(),
    };
    let selected: BTreeSet<String> = candidates
        .into_iter()
        .filter(|id| {
            parsed
                .nodes
                .get(id)
                .is_some_and(|n| kind.includes(n.resource_type))
        })
        .collect();
    if selected.is_empty() {
        printer.diagnostic(
            &kiln_core::Diagnostic::warning(format!(
                "nothing to {}: the selection matches no {}",
                kind.name(),
                kind.nodes()
            ))
            .help("check --select and --exclude; `kiln ls` shows what a selection matches"),
        );
        return Ok(ExitCode::SUCCESS);
    }
    kiln_compile::compile(&mut parsed, &selected, Default::default())?;
    kiln_compile::manifest::write_artifacts(&session.project, &parsed)?;
    let adapter = target::adapter(&session.project, &session.profile, printer)?;
    // One connection up front: an unreachable warehouse is one clear error, not one per node.
    if let Err(error) = kiln_adapter::Adapter::connect(&adapter) {
        return Err(kiln_core::Diagnostics::from(
            kiln_core::Diagnostic::error(error.full_message())
                .help("check the target's host, port, user, password and dbname (`kiln debug` checks them one by one)"),
        )
        .into());
    }

    let options = RunOptions {
        threads: args
            .common
            .threads
            .unwrap_or(session.profile.threads() as usize)
            .clamp(1, crate::cli::MAX_THREADS),
        fail_fast: args.fail_fast,
        invocation_id: uuid::Uuid::new_v4().to_string(),
    };
    // Models log as they run (their compile render above is not what runs).
    session::show_logs(&parsed.env, printer);
    let reporter = RunReporter::new(printer, &parsed);
    printer.info(&format!(
        "Running with {} thread{} on {}",
        options.threads,
        if options.threads == 1 { "" } else { "s" },
        kiln_adapter::Adapter::describe(&adapter)
    ));
    let results = kiln_run::run(
        &parsed,
        &session.project,
        &adapter,
        &selected,
        &options,
        &cancel,
        &reporter,
    );
    // What `kiln retry` needs to run the same command again (dbt's `args`).
    let vars =
        session::parse_mapping_flag("--vars", args.common.vars.as_deref(), "").unwrap_or_default();
    let args_json = serde_json::json!({
        "which": kind.name(),
        "select": args.select.select,
        "exclude": args.select.exclude,
        "full_refresh": args.full_refresh,
        "store_failures": args.store_failures,
        "fail_fast": args.fail_fast,
        "threads": options.threads,
        "target": session.profile.target_name,
        "vars": vars,
    });
    let written = kiln_run::results::write(
        &results,
        &session.project.target_dir(),
        &options.invocation_id,
        args_json,
    );
    reporter.summary(&results);
    written.map_err(|e| anyhow::anyhow!("cannot write run_results.json: {e}"))?;
    if results.interrupted {
        let code = 128 + signal.load(Ordering::SeqCst).clamp(1, 127);
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(130)));
    }
    let failed = results
        .results
        .iter()
        .any(|r| r.status.is_failure() || r.status == Status::Error);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
