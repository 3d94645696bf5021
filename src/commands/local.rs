//! `kiln local status|start|stop|destroy`: the managed local PostgreSQL instance.

use std::process::ExitCode;

use anyhow::Result;
use kiln_adapter::local::{LocalInstance, Status};
use kiln_core::{Diagnostic, Diagnostics};

use crate::cli::{LocalAction, LocalArgs};
use crate::printer::Printer;
use crate::{session, target};

pub fn run(args: &LocalArgs, printer: &Printer) -> Result<ExitCode> {
    let session = session::load(&args.common, "local", Default::default(), printer)?;
    let dir = target::local_dir(&session.project, &session.profile);
    let instance = LocalInstance::new(&dir)
        .map_err(|e| Diagnostics::from(Diagnostic::error(e.to_string())))?;
    let fail =
        |e: kiln_adapter::local::LocalError| Diagnostics::from(Diagnostic::error(e.to_string()));
    match args.action {
        LocalAction::Status => match instance.status() {
            Status::NotCreated => printer.data(&format!("not created ({})", dir.display())),
            Status::Stopped => printer.data(&format!("stopped ({})", dir.display())),
            Status::RunningWithoutPidFile { port } => printer.data(&format!(
                "running on 127.0.0.1:{port} without its postmaster.pid ({}): PostgreSQL will stop it within a minute; `kiln local start` starts a new one then",
                dir.display()
            )),
            Status::Running { port, pid } => {
                printer.data(&format!(
                    "running on 127.0.0.1:{port}, pid {pid} ({})",
                    dir.display()
                ));
                printer.data(&format!(
                    "connect with: PGPASSWORD=\"$(cat '{}')\" psql -h 127.0.0.1 -p {port} -U {} {}",
                    instance.password_file().display(),
                    kiln_adapter::local::DB_USER,
                    session.profile.database()
                ));
            }
        },
        LocalAction::Start => {
            let settings = instance.ensure_running().map_err(fail)?;
            printer.success(&format!("running on 127.0.0.1:{}", settings.port));
        }
        LocalAction::Stop => {
            let stopped = instance.stop().map_err(fail)?;
            printer.success(if stopped {
                "stopped"
            } else {
                "was not running"
            });
        }
        LocalAction::Destroy => {
            instance.destroy().map_err(fail)?;
            printer.success(&format!("destroyed {}", dir.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
