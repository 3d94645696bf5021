//! `kiln debug`: checks the project, the profile and the connection, one step at a time.

use std::process::ExitCode;

use anyhow::Result;
use kiln_adapter::Adapter;

use crate::cli::CommonArgs;
use crate::printer::Printer;
use crate::{session, target};

pub fn run(args: &CommonArgs, printer: &Printer) -> Result<ExitCode> {
    printer.info(&format!("kiln {}", env!("CARGO_PKG_VERSION")));
    let session = match session::load(args, "debug", Default::default(), printer) {
        Ok(session) => session,
        Err(error) => {
            printer.info("project and profile: FAILED");
            return Err(error);
        }
    };
    printer.info(&format!(
        "project: {} ({}) OK",
        session.project.name(),
        session
            .project
            .root
            .join(&session.project.file().file)
            .display()
    ));
    printer.info(&format!(
        "profile: {} target {} from {} OK",
        session.profile.profile_name,
        session.profile.target_name,
        session.profile.file.display()
    ));
    let adapter = target::adapter(&session.project, &session.profile, printer)?;
    match adapter
        .connect()
        .and_then(|mut c| c.query("select version() as version"))
    {
        Ok(table) => {
            let version = table
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned();
            printer.info(&format!("connection: {} OK", adapter.describe()));
            printer.info(&format!("server: {version}"));
            printer.success("All checks passed!");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            printer.info(&format!("connection: {} FAILED", adapter.describe()));
            Err(kiln_core::Diagnostics::from(
                kiln_core::Diagnostic::error(error.full_message()).help(error.connection_help()),
            )
            .into())
        }
    }
}
