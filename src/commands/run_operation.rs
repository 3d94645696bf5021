//! `kiln run-operation`: call a macro on the warehouse.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use kiln_core::{Diagnostic, Diagnostics};

use crate::cli::RunOperationArgs;
use crate::commands::seconds;
use crate::printer::Printer;
use crate::{session, target};

pub fn run(args: &RunOperationArgs, printer: &Printer) -> Result<ExitCode> {
    let started = Instant::now();
    let arguments = session::parse_mapping_flag(
        "--args",
        args.args.as_deref(),
        "--args '{table: orders, days: 30}'",
    )
    .map_err(Diagnostics::from)?;
    let session = session::load(&args.common, "run-operation", Default::default(), printer)?;
    let parsed = session.parse(printer)?;
    let name = args.macro_name.as_str();
    if !kiln_run::operation::macro_exists(&parsed, name) {
        let last = name.rsplit('.').next().unwrap_or(name);
        let mut error = Diagnostic::error(format!("no macro is named `{name}`"));
        error = match kiln_core::diagnostic::closest(last, parsed.env.registry().names()) {
            Some(known) => error.help(format!("did you mean `{known}`?")),
            None => error.help("define it in a .sql file under the macro paths"),
        };
        return Err(Diagnostics::from(error).into());
    }
    let adapter = target::adapter(&session.project, &session.profile, printer)?;
    session::show_logs(&parsed.env, printer);
    let arguments = arguments.into_iter().collect();
    match kiln_run::operation::run_operation(&parsed, &adapter, name, &arguments) {
        Ok(()) => {
            printer.success(&format!(
                "Ran operation `{name}` in {}",
                seconds(started.elapsed())
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let diagnostic = match error {
                kiln_run::error::RunError::Render(diagnostic) => diagnostic,
                other => Diagnostic::error(format!("operation `{name}` failed: {other}")),
            };
            printer.diagnostic(&diagnostic.note(format!(
                "operation `{name}` failed; its changes were rolled back"
            )));
            Ok(ExitCode::from(1))
        }
    }
}
