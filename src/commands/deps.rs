//! `kiln deps`: resolve the packages of packages.yml (and theirs), pin them in
//! package-lock.yml and install them under dbt_packages/.

use std::process::ExitCode;

use anyhow::Result;
use kiln_core::Diagnostics;
use kiln_project::packages::{self, AddSource, DepsOptions};

use crate::cli::{DepsArgs, PackageSource};
use crate::printer::Printer;
use crate::session;

pub fn run(args: &DepsArgs, printer: &Printer) -> Result<ExitCode> {
    let root = &args.project.project_dir;
    let file = session::project_file(root)?;
    if let Some(package) = &args.add_package {
        let source = match args.source {
            PackageSource::Hub => AddSource::Hub,
            PackageSource::Git => AddSource::Git,
            PackageSource::Local => AddSource::Local,
        };
        let written = packages::add_package(root, package, source).map_err(Diagnostics::from)?;
        printer.info(&format!("Added {package} to {}", written.display()));
    }
    let options = DepsOptions {
        upgrade: args.upgrade,
        lock_only: args.lock,
    };
    let report = packages::install(root, &file.name, &file.packages_install_path, options)
        .map_err(Diagnostics)?;
    printer.diagnostics(&report.warnings);
    if report.lock_written {
        printer.info(&format!("Wrote {}", packages::LOCK_FILE_NAME));
    }
    for package in &report.packages {
        printer.info(&format!(
            "Installed {} ({})",
            package.name, package.description
        ));
    }
    for (package, latest) in &report.updates {
        printer.info(&format!("Update available for {package}: {latest}"));
    }
    if args.lock {
        printer.success(&format!(
            "{} written; nothing installed (--lock)",
            packages::LOCK_FILE_NAME
        ));
    } else {
        printer.success(&format!(
            "{} package(s) installed in {}/",
            report.packages.len(),
            file.packages_install_path
        ));
    }
    Ok(ExitCode::SUCCESS)
}
