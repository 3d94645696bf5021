//! `kiln clean`: remove build output. The managed local warehouse under the target directory
//! (`target/postgres/`) is kept: it holds data, not build output (`kiln local destroy` removes it).

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::ProjectArgs;
use crate::printer::Printer;
use crate::session;

/// The folder of the target directory that holds the managed warehouse.
const KEEP: &str = "postgres";

pub fn run(args: &ProjectArgs, printer: &Printer) -> Result<ExitCode> {
    let root = &args.project_dir;
    let file = session::project_file(root)?;
    let mut targets = file.clean_targets.clone();
    if targets.is_empty() {
        targets = vec![file.target_path.clone(), file.packages_install_path.clone()];
    }
    for target in targets {
        let dir = root.join(&target);
        if !dir.exists() {
            continue;
        }
        if target == file.target_path {
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
            {
                let entry = entry?;
                if entry.file_name() == KEEP {
                    continue;
                }
                let path = entry.path();
                if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                }
                .with_context(|| format!("removing {}", path.display()))?;
            }
        } else {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        printer.info(&format!("Cleaned {target}/"));
    }
    Ok(ExitCode::SUCCESS)
}
