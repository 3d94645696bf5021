//! Loading a whole project: the root project file, its installed packages, and every model,
//! macro, seed, test, schema YAML and docs file under their paths.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::docs::{self, DocBlock};
use crate::env::YamlContext;
use crate::packages::{self, PackageSpec, Source};
use crate::project_file::{self, PROJECT_FILE_NAMES, ProjectFile};
use crate::schema::{self, SchemaFile};
use crate::snapshot_blocks::{self, SnapshotBlock};
use crate::yaml;
use kiln_core::diagnostic::{Diagnostic, DiagnosticSink, Diagnostics, Location, relative_to};

/// A SQL file of a package: a model, a macro file or a singular test.
#[derive(Debug, Clone)]
pub struct SqlFile {
    /// Relative to the package's directory (dbt's `original_file_path`).
    pub path: PathBuf,
    /// Relative to the root project, for messages and template names.
    pub display: PathBuf,
    /// The file name without `.sql`.
    pub name: String,
    /// Folders between the resource path (`models/`) and the file, for the node's fqn.
    pub folders: Vec<String>,
    pub text: String,
}

/// A seed CSV file; its rows are read when it is loaded into the warehouse.
#[derive(Debug, Clone)]
pub struct SeedFile {
    pub path: PathBuf,
    pub display: PathBuf,
    pub name: String,
    pub folders: Vec<String>,
}

/// The root project or an installed package.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// Absolute directory.
    pub dir: PathBuf,
    /// Relative to the root project (empty for the root project itself).
    pub rel_dir: PathBuf,
    pub is_root: bool,
    pub file: ProjectFile,
    pub models: Vec<SqlFile>,
    /// Analyses: SQL that is compiled, never run.
    pub analyses: Vec<SqlFile>,
    /// Macro files, including generic tests in `<test-path>/generic/`.
    pub macros: Vec<SqlFile>,
    /// Singular data tests.
    pub tests: Vec<SqlFile>,
    pub seeds: Vec<SeedFile>,
    /// Snapshot blocks of the SQL files under the snapshot paths.
    pub snapshots: Vec<SnapshotBlock>,
    pub schema_files: Vec<SchemaFile>,
    pub docs: Vec<DocBlock>,
}

/// Everything Kiln knows about a project before rendering any model.
#[derive(Debug, Clone)]
pub struct Project {
    /// Absolute root directory.
    pub root: PathBuf,
    /// The root project first, then installed packages by name.
    pub packages: Vec<Package>,
    /// Warnings found while loading (unknown keys...).
    pub warnings: Vec<Diagnostic>,
}

impl Project {
    pub fn root_package(&self) -> &Package {
        &self.packages[0]
    }

    pub fn name(&self) -> &str {
        &self.root_package().name
    }

    pub fn file(&self) -> &ProjectFile {
        &self.root_package().file
    }

    pub fn target_dir(&self) -> PathBuf {
        self.root.join(&self.file().target_path)
    }

    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }
}

/// Loads the project in `dir` and its installed packages, collecting every error.
pub fn load(dir: &Path) -> Result<Project, Diagnostics> {
    load_with(dir, &YamlContext::default())
}

/// [`load`], with the `--vars` and target that Jinja in the project files may read.
pub fn load_with(dir: &Path, context: &YamlContext) -> Result<Project, Diagnostics> {
    let root = dir.canonicalize().map_err(|error| {
        Diagnostic::error(format!(
            "project directory {} not found: {error}",
            dir.display()
        ))
    })?;
    let Some(project_path) = project_file::find(&root) else {
        return Err(Diagnostic::error(format!("no project file in {}", root.display()))
            .help(format!(
                "run kiln in a directory with {}, pass --project-dir, or create one with `kiln init`",
                PROJECT_FILE_NAMES.join(" or ")
            ))
            .into());
    };
    let mut sink = DiagnosticSink::default();
    let mut warnings = Vec::new();
    let display = relative_to(&project_path, &root);
    let file = match project_file::load(&project_path, &display, context, &mut warnings) {
        Ok(file) => file,
        Err(errors) => {
            sink.extend(errors);
            sink.extend(warnings);
            return Err(sink
                .finish()
                .err()
                .unwrap_or_else(|| Diagnostics(Vec::new())));
        }
    };
    let install_path = file.packages_install_path.clone();
    let schema_yaml = schema_context(context, None, &file);
    let mut packages = vec![load_package(
        &root,
        &root,
        file,
        true,
        &schema_yaml,
        &mut sink,
    )];
    load_installed_packages(&root, &install_path, context, &mut packages, &mut sink);
    sink.extend(warnings);
    let warnings = sink.finish()?;
    Ok(Project {
        root,
        packages,
        warnings,
    })
}

fn load_installed_packages(
    root: &Path,
    install_path: &str,
    context: &YamlContext,
    packages: &mut Vec<Package>,
    sink: &mut DiagnosticSink,
) {
    let install_dir = root.join(install_path);
    let specs = match packages::read_specs(root) {
        Ok((_, specs)) => specs,
        Err(error) => {
            sink.push(error);
            return;
        }
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&install_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    for dir in dirs {
        let Some(path) = project_file::find(&dir) else {
            continue;
        };
        let display = relative_to(&path, root);
        let mut warnings = Vec::new();
        match project_file::load(&path, &display, context, &mut warnings) {
            Ok(file) => {
                let schema_yaml = schema_context(context, Some(&packages[0].file), &file);
                let package = load_package(root, &dir, file, false, &schema_yaml, sink);
                packages.push(package);
            }
            Err(errors) => sink.extend(errors),
        }
    }
    // A `local:` package not installed yet is read where it is: installing it only copies
    // those files (dbt refuses to parse before `dbt deps`; Kiln needs no install step for
    // local packages, and a read-only checkout parses).
    let mut missing_local = Vec::new();
    for spec in &specs {
        let Source::Local { path } = &spec.source else {
            continue;
        };
        let dir = root.join(path);
        let Some(project_path) = project_file::find(&dir) else {
            missing_local.push(
                Diagnostic::error(format!(
                    "local package {path}: no dbt_project.yml or project.yml there"
                ))
                .at(spec.location.clone())
                .help("correct the path in the packages file (it is relative to the project)"),
            );
            continue;
        };
        let display = relative_to(&project_path, root);
        let mut warnings = Vec::new();
        let Ok(file) = project_file::load(&project_path, &display, context, &mut warnings) else {
            continue;
        };
        if packages.iter().any(|p| p.name == file.name) {
            continue;
        }
        let schema_yaml = schema_context(context, Some(&packages[0].file), &file);
        packages.push(load_package(root, &dir, file, false, &schema_yaml, sink));
    }
    // As dbt: every package the lock file names (or, without a matching lock file, as many
    // packages as the packages file lists) must be installed.
    let missing: Vec<String> = match packages::locked_names(root, &specs) {
        Some(names) => names
            .into_iter()
            .filter(|name| !packages.iter().any(|p| &p.name == name))
            .collect(),
        None if packages.len() - 1 < specs.len() => specs
            .iter()
            .filter(|s| !matches!(s.source, Source::Local { .. }))
            .map(PackageSpec::describe)
            .collect(),
        None => Vec::new(),
    };
    sink.extend(missing_local);
    if !missing.is_empty() {
        sink.push(
            Diagnostic::error(format!(
                "the packages file lists {} package(s) but {} are installed in {install_path}/; not installed: {}",
                specs.len(),
                packages.len() - 1,
                missing.join(", ")
            ))
            .help("run `kiln deps`"),
        );
    }
}

/// What kind of file a path under a resource directory is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resource {
    Model,
    Analysis,
    Macro,
    Test,
    Seed,
    Snapshot,
}

/// What `var()` in a package's schema YAML sees: `--vars`, the root project's `vars:` and the
/// package's own, as its models do.
fn schema_context(
    context: &YamlContext,
    root: Option<&ProjectFile>,
    file: &ProjectFile,
) -> YamlContext {
    let mut project = std::collections::BTreeMap::new();
    if let Some(root) = root {
        project.insert(root.name.clone(), root.vars.clone());
    }
    project.insert(file.name.clone(), file.vars.clone());
    let vars = crate::env::Vars {
        cli: context.cli_vars.clone(),
        root_package: root.unwrap_or(file).name.clone(),
        project,
    };
    YamlContext {
        package_vars: Some((std::sync::Arc::new(vars), file.name.clone())),
        ..context.clone()
    }
}

fn load_package(
    root: &Path,
    dir: &Path,
    file: ProjectFile,
    is_root: bool,
    context: &YamlContext,
    sink: &mut DiagnosticSink,
) -> Package {
    let rel_dir = relative_to(dir, root);
    let mut found: Vec<(Resource, PathBuf, PathBuf)> = Vec::new(); // (kind, resource dir, file)
    let kinds = [
        (Resource::Model, &file.model_paths),
        (Resource::Analysis, &file.analysis_paths),
        (Resource::Macro, &file.macro_paths),
        (Resource::Test, &file.test_paths),
        (Resource::Seed, &file.seed_paths),
        (Resource::Snapshot, &file.snapshot_paths),
    ];
    for (kind, paths) in kinds {
        for path in paths {
            let resource_dir = dir.join(path);
            for entry in WalkDir::new(&resource_dir)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                })
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
            {
                found.push((kind, PathBuf::from(path), entry.into_path()));
            }
        }
    }
    // A `sources.yml` beside the project file declares the raw data of the whole project, as
    // DESIGN.md lays the repository out (dbt only reads schema YAML under its resource paths).
    let root_sources = dir.join("sources.yml");
    if root_sources.is_file() && !found.iter().any(|(_, _, path)| *path == root_sources) {
        found.push((Resource::Model, PathBuf::new(), root_sources));
    }
    // Read and parse every file in parallel; results keep the sorted walk order.
    let loaded: Vec<Loaded> = found
        .par_iter()
        .map(|(kind, resource_dir, path)| load_file(*kind, root, dir, resource_dir, path, context))
        .collect();
    let mut package = Package {
        name: file.name.clone(),
        dir: dir.to_path_buf(),
        rel_dir,
        is_root,
        file,
        models: Vec::new(),
        analyses: Vec::new(),
        macros: Vec::new(),
        tests: Vec::new(),
        seeds: Vec::new(),
        snapshots: Vec::new(),
        schema_files: Vec::new(),
        docs: Vec::new(),
    };
    for item in loaded {
        match item {
            Loaded::Model(f) => package.models.push(f),
            Loaded::Analysis(f) => package.analyses.push(f),
            Loaded::Macro(f) => package.macros.push(f),
            Loaded::Test(f) => package.tests.push(f),
            Loaded::Seed(f) => package.seeds.push(f),
            Loaded::Snapshots(blocks, warnings) => {
                package.snapshots.extend(blocks);
                sink.extend(warnings);
            }
            Loaded::Schema(f, warnings) => {
                package.schema_files.push(*f);
                sink.extend(warnings);
            }
            Loaded::Docs(blocks) => package.docs.extend(blocks),
            Loaded::Skipped => {}
            Loaded::Problem(diagnostic) => sink.push(diagnostic),
        }
    }
    package
}

enum Loaded {
    Model(SqlFile),
    Analysis(SqlFile),
    Macro(SqlFile),
    Test(SqlFile),
    Seed(SeedFile),
    Snapshots(Vec<SnapshotBlock>, Vec<Diagnostic>),
    Schema(Box<SchemaFile>, Vec<Diagnostic>),
    Docs(Vec<DocBlock>),
    Skipped,
    Problem(Diagnostic),
}

fn load_file(
    kind: Resource,
    root: &Path,
    package_dir: &Path,
    resource_dir: &Path,
    path: &Path,
    context: &YamlContext,
) -> Loaded {
    let display = relative_to(path, root);
    let in_package = relative_to(path, package_dir);
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let folders: Vec<String> = in_package
        .strip_prefix(resource_dir)
        .unwrap_or(&in_package)
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let read = || read_text(path, &display);
    match (kind, extension) {
        (Resource::Seed, "csv") => Loaded::Seed(SeedFile {
            path: in_package,
            display,
            name,
            folders,
        }),
        (Resource::Snapshot, "sql") => {
            // dbt's fqn of a snapshot block holds the file's name too.
            let mut folders = folders;
            folders.push(name);
            match read().and_then(|text| snapshot_blocks::read(&text, in_package, display, folders))
            {
                Ok((blocks, warnings)) => Loaded::Snapshots(blocks, warnings),
                Err(error) => Loaded::Problem(error),
            }
        }
        (_, "sql") => match read() {
            Ok(text) => {
                let file = SqlFile {
                    path: in_package,
                    display,
                    name,
                    folders,
                    text,
                };
                match kind {
                    Resource::Model => Loaded::Model(file),
                    Resource::Analysis => Loaded::Analysis(file),
                    Resource::Test if file.folders.first().is_some_and(|f| f == "generic") => {
                        Loaded::Macro(file)
                    }
                    // `<test-path>/fixtures/`: unit tests' fixture files, not singular tests.
                    Resource::Test if file.folders.first().is_some_and(|f| f == "fixtures") => {
                        Loaded::Skipped
                    }
                    Resource::Test => Loaded::Test(file),
                    Resource::Macro | Resource::Seed | Resource::Snapshot => Loaded::Macro(file),
                }
            }
            Err(error) => Loaded::Problem(error),
        },
        (_, "yml" | "yaml") => {
            let mut warnings = Vec::new();
            let parsed = read()
                .and_then(|text| {
                    let mut node = yaml::parse_as_dbt(&display, &text, &mut warnings)?;
                    if text.contains("{{") || text.contains("{%") {
                        crate::env::render_schema(&mut node, &display, context, &mut warnings);
                    }
                    Ok(node)
                })
                .and_then(|node| {
                    schema::read(&node, &display, &mut warnings).map(|file| (file, warnings))
                });
            match parsed {
                Ok((file, warnings)) => Loaded::Schema(Box::new(file), warnings),
                Err(error) => Loaded::Problem(error),
            }
        }
        (_, "md") => match read().and_then(|text| docs::parse(&display, &text)) {
            Ok(blocks) => Loaded::Docs(blocks),
            Err(error) => Loaded::Problem(error),
        },
        (Resource::Model, "py") => Loaded::Problem(
            Diagnostic::warning("Python models are not supported; this file is ignored")
                .at(Location::new(display, 1)),
        ),
        _ => Loaded::Skipped,
    }
}

/// A project file's text. Bytes that are not UTF-8, and NUL bytes (which PostgreSQL refuses
/// with only "invalid message format"), are errors at their line.
fn read_text(path: &Path, display: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|error| {
        Diagnostic::error(format!("cannot read {}: {error}", display.display()))
    })?;
    let line_of = |offset: usize| bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
    let column_of = |offset: usize| {
        offset
            - bytes[..offset]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1)
            + 1
    };
    let text = String::from_utf8(bytes.clone()).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        Diagnostic::error(format!(
            "{} is not valid UTF-8 (byte 0x{:02x})",
            display.display(),
            bytes[offset]
        ))
        .at(Location::new(display, line_of(offset)).with_col(column_of(offset)))
        .help("save the file as UTF-8")
    })?;
    if let Some(offset) = text.find('\0') {
        return Err(
            Diagnostic::error(format!("{} contains a NUL byte (\\0)", display.display()))
                .at(Location::new(display, line_of(offset)).with_col(column_of(offset)))
                .help("remove it: no SQL or YAML file can hold one"),
        );
    }
    Ok(text)
}
