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
            Kind::Test => matches!(resource, ResourceType::Test | ResourceType::UnitTest),
            Kind::Build => matches!(
                resource,
                ResourceType::Model
                    | ResourceType::Seed
                    | ResourceType::Snapshot
                    | ResourceType::Test
                    | ResourceType::UnitTest
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
    let mut parsed = session.parse(printer)?;
    let (candidates, state): (Vec<String>, _) = match only {
        Some(ids) => (ids.iter().cloned().collect(), None),
        None => {
            let (selected, state) = session::select(&session.project, &parsed, &args.select)?;
            (selected.into_iter().collect(), state)
        }
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
    let connect = || -> Result<_> {
        let adapter = target::adapter(&session.project, &session.profile, printer)?;
        // One connection up front: an unreachable warehouse is one clear error, not one per
        // node.
        match kiln_adapter::Adapter::connect(&adapter) {
            Ok(conn) => Ok((adapter, conn)),
            Err(error) => Err(kiln_core::Diagnostics::from(
                kiln_core::Diagnostic::error(error.full_message()).help(error.connection_help()),
            )
            .into()),
        }
    };
    // --defer must see the warehouse before compiling: refs resolve to where parents exist.
    let mut connected = None;
    if let (true, Some(state)) = (args.select.defer, &state) {
        let (adapter, mut conn) = connect()?;
        let deferred = defer(&mut parsed, &selected, state, conn.as_mut())?;
        if deferred > 0 {
            printer.info(&format!(
                "Deferred {deferred} unbuilt parent{} to the relations of --state {}",
                if deferred == 1 { "" } else { "s" },
                state.dir.display()
            ));
        }
        connected = Some(adapter);
    }
    // Each node renders once, when it runs (with the warehouse, as `execute`), and its SQL is
    // written then. Only the ephemeral models that the run inlines are compiled before.
    let ephemeral = kiln_compile::compile::ephemeral_inputs(&parsed.nodes, &selected);
    kiln_compile::compile(&mut parsed, &ephemeral, Default::default())?;
    kiln_compile::manifest::write_artifacts(&session.project, &parsed)?;
    let adapter = match connected {
        Some(adapter) => adapter,
        None => connect()?.0,
    };

    let options = RunOptions {
        threads: args
            .common
            .threads
            .unwrap_or(session.profile.threads() as usize)
            .clamp(1, crate::cli::MAX_THREADS),
        fail_fast: args.fail_fast,
        invocation_id: uuid::Uuid::new_v4().to_string(),
        empty: args.empty,
        event_time: event_time_flags(args)?,
    };
    // Models log as they run.
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
        "indirect_selection": format!("{:?}", args.select.indirect_selection).to_lowercase(),
        "full_refresh": args.full_refresh,
        "store_failures": args.store_failures,
        "fail_fast": args.fail_fast,
        "empty": args.empty,
        "event_time_start": args.event_time_start,
        "event_time_end": args.event_time_end,
        "warn_error": args.common.warnings_are_errors(),
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
    // The manifest, as dbt's after a run, holds the SQL each node ran.
    for result in &results.results {
        if let (Some(node), Some(sql)) = (
            parsed.nodes.get_mut(&result.unique_id),
            &result.compiled_code,
        ) {
            node.compiled_code = Some(sql.clone());
        }
    }
    kiln_compile::manifest::write_manifest(&session.project, &parsed)?;
    if results.interrupted {
        let code = 128 + signal.load(Ordering::SeqCst).clamp(1, 127);
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(130)));
    }
    let warnings_fail = args.common.warnings_are_errors();
    let failed = results.results.iter().any(|r| {
        r.status.is_failure()
            || r.status == Status::Error
            || (warnings_fail && r.status == Status::Warn)
    });
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// dbt's `--defer`: every model, seed or snapshot that this run does not build and whose
/// relation does not exist in the target is read from where the `--state` run built it.
/// Returns how many nodes were deferred.
fn defer(
    parsed: &mut kiln_compile::Parsed,
    selected: &BTreeSet<String>,
    state: &kiln_compile::state::State,
    conn: &mut dyn kiln_adapter::Connection,
) -> Result<usize> {
    let candidates: Vec<String> = parsed
        .nodes
        .values()
        .filter(|n| !selected.contains(&n.unique_id))
        .filter(|n| match n.resource_type {
            ResourceType::Model => !n.is_ephemeral(),
            ResourceType::Seed | ResourceType::Snapshot => true,
            _ => false,
        })
        .filter(|n| n.config.enabled)
        .map(|n| n.unique_id.clone())
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let pairs: Vec<String> = candidates
        .iter()
        .map(|id| {
            let relation = &parsed.nodes[id].relation;
            format!(
                "({}, {})",
                kiln_core::quote_literal(relation.schema_or_public()),
                kiln_core::quote_literal(&relation.identifier)
            )
        })
        .collect();
    let existing = conn
        .query(&format!(
            "select n.nspname::text, c.relname::text from pg_class c \
             join pg_namespace n on n.oid = c.relnamespace \
             where (n.nspname::text, c.relname::text) in ({})",
            pairs.join(", ")
        ))
        .map_err(|e| {
            kiln_core::Diagnostics::from(kiln_core::Diagnostic::error(e.full_message()))
        })?;
    let exists: BTreeSet<(String, String)> = existing
        .rows
        .iter()
        .map(|row| {
            (
                kiln_adapter::Table::cell_text(&row[0]),
                kiln_adapter::Table::cell_text(&row[1]),
            )
        })
        .collect();
    let mut deferred = 0;
    for id in candidates {
        let Some(node) = parsed.nodes.get_mut(&id) else {
            continue;
        };
        let key = (
            node.relation.schema_or_public().to_owned(),
            node.relation.identifier.clone(),
        );
        if exists.contains(&key) {
            continue;
        }
        if let Some(mut relation) = state.relation_of(&id) {
            relation.kind = node.relation.kind.clone();
            if relation.database.is_none() {
                relation.database = node.relation.database.clone();
            }
            node.relation = relation;
            deferred += 1;
        }
    }
    Ok(deferred)
}

/// `--event-time-start` / `--event-time-end`, read as dbt reads them (UTC).
fn event_time_flags(
    args: &RunArgs,
) -> Result<Option<(jiff::civil::DateTime, jiff::civil::DateTime)>> {
    let read = |flag: &str, text: &Option<String>| -> Result<Option<jiff::civil::DateTime>> {
        let Some(text) = text else { return Ok(None) };
        let at = kiln_compile::microbatch::parse_datetime(text).ok_or_else(|| {
            kiln_core::Diagnostics::from(
                kiln_core::Diagnostic::error(format!(
                    "--{flag} `{text}` is not a date or a datetime"
                ))
                .help(format!(
                    "for example --{flag} 2024-01-01 or --{flag} '2024-01-01 06:00:00'"
                )),
            )
        })?;
        Ok(Some(at))
    };
    let start = read("event-time-start", &args.event_time_start)?;
    let end = read("event-time-end", &args.event_time_end)?;
    match (start, end) {
        (Some(start), Some(end)) if start >= end => Err(kiln_core::Diagnostics::from(
            kiln_core::Diagnostic::error("--event-time-start must be before --event-time-end"),
        )
        .into()),
        (Some(start), Some(end)) => Ok(Some((start, end))),
        _ => Ok(None),
    }
}
