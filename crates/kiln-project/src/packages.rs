//! `packages.yml` / `dependencies.yml`: the packages a project uses, and `kiln deps`, which
//! installs them under the packages install path (`dbt_packages/` by default).
//!
//! Only `local:` packages can be installed: hub and git packages need the network, which Kiln
//! does not use. Their entries are reported as errors with what to do instead.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::project_file;
use crate::yaml;
use kiln_core::diagnostic::{Diagnostic, Location};

pub const PACKAGE_FILE_NAMES: &[&str] = &["packages.yml", "dependencies.yml"];

/// One entry of the packages file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageSpec {
    Local { path: PathBuf, line: usize },
    Remote { description: String, line: usize },
}

#[derive(Debug, Deserialize)]
struct RawPackagesFile {
    #[serde(default)]
    packages: Vec<Json>,
    #[serde(default)]
    #[allow(dead_code)]
    projects: Vec<Json>,
}

/// Reads the packages file of the project at `root`, if there is one.
pub fn read_specs(root: &Path) -> Result<(Option<PathBuf>, Vec<PackageSpec>), Diagnostic> {
    let Some(name) = PACKAGE_FILE_NAMES
        .iter()
        .find(|name| root.join(name).is_file())
    else {
        return Ok((None, Vec::new()));
    };
    let display = PathBuf::from(name);
    let text = std::fs::read_to_string(root.join(name))
        .map_err(|error| Diagnostic::error(format!("cannot read {name}: {error}")))?;
    let node = yaml::parse(&display, &text)?;
    let raw: RawPackagesFile =
        node.deserialize(&display, &["packages", "projects"], &mut Vec::new())?;
    let lines: Vec<usize> = node
        .get("packages")
        .and_then(yaml::Node::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|n| n.line)
        .collect();
    let specs = raw
        .packages
        .iter()
        .zip(lines)
        .map(
            |(entry, line)| match entry.get("local").and_then(Json::as_str) {
                Some(path) => PackageSpec::Local {
                    path: PathBuf::from(path),
                    line,
                },
                None => PackageSpec::Remote {
                    description: entry.to_string(),
                    line,
                },
            },
        )
        .collect();
    Ok((Some(display), specs))
}

/// What `kiln deps` did for one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub source: PathBuf,
}

/// Installs the local packages of the project at `root` into `install_dir` (relative to root)
/// as symlinks, replacing what was there.
pub fn install(root: &Path, install_dir: &str) -> Result<Vec<Installed>, Vec<Diagnostic>> {
    let (file, specs) = read_specs(root).map_err(|d| vec![d])?;
    let file = file.unwrap_or_else(|| PathBuf::from("packages.yml"));
    let mut errors = Vec::new();
    let mut installed = Vec::new();
    let target_dir = root.join(install_dir);
    for spec in specs {
        match spec {
            PackageSpec::Remote { description, line } => errors.push(
                Diagnostic::error(format!(
                    "cannot install {description}: only `local:` packages are supported"
                ))
                .at(Location::new(&file, line))
                .help("copy the package next to the project and use `- local: path/to/package`"),
            ),
            PackageSpec::Local { path, line } => {
                let source = root.join(&path);
                let Some(project_path) = project_file::find(&source) else {
                    errors.push(
                        Diagnostic::error(format!(
                            "no project.yml or dbt_project.yml in {}",
                            path.display()
                        ))
                        .at(Location::new(&file, line)),
                    );
                    continue;
                };
                let mut warnings = Vec::new();
                let package = match project_file::load(&project_path, &project_path, &mut warnings)
                {
                    Ok(package) => package,
                    Err(mut diagnostics) => {
                        errors.append(&mut diagnostics);
                        continue;
                    }
                };
                if let Err(error) = link(&source, &target_dir.join(&package.name)) {
                    errors.push(
                        Diagnostic::error(format!(
                            "cannot install package `{}`: {error}",
                            package.name
                        ))
                        .at(Location::new(&file, line)),
                    );
                    continue;
                }
                installed.push(Installed {
                    name: package.name,
                    source: path,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(installed)
    } else {
        Err(errors)
    }
}

fn link(source: &Path, destination: &Path) -> std::io::Result<()> {
    let source = source.canonicalize()?;
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::symlink_metadata(destination) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(destination)?,
        Ok(_) => std::fs::remove_file(destination)?,
        Err(_) => {}
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(source, destination)
    }
    #[cfg(not(unix))]
    {
        Err(std::io::Error::other(
            "local packages are symlinked, which needs a Unix system",
        ))
    }
}
