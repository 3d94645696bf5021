//! `kiln deps`: install the local packages of packages.yml under dbt_packages/.

use std::process::ExitCode;

use anyhow::Result;
use kiln_core::Diagnostics;

use crate::cli::ProjectArgs;
use crate::printer::Printer;
use crate::session;

pub fn run(args: &ProjectArgs, printer: &Printer) -> Result<ExitCode> {
    let root = &args.project_dir;
    let file = session::project_file(root)?;
    let installed =
        kiln_project::packages::install(root, &file.packages_install_path).map_err(Diagnostics)?;
    for package in &installed {
        printer.info(&format!(
            "Installed package {} from {}",
            package.name,
            package.source.display()
        ));
    }
    printer.success(&format!(
        "{} package(s) installed in {}/",
        installed.len(),
        file.packages_install_path
    ));
    Ok(ExitCode::SUCCESS)
}
