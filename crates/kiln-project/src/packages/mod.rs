//! `packages.yml` / `dependencies.yml`: the packages a project uses, and `kiln deps`, which
//! resolves them (with their own packages, transitively), records the result in
//! `package-lock.yml` as dbt 1.7+ does, and installs them under the packages install path
//! (`dbt_packages/` by default).
//!
//! Sources: `local:` directories (symlinked), `git:` repositories (the `git` command),
//! `package:` entries of the dbt package hub (`$DBT_PACKAGE_HUB_URL`, else hub.getdbt.com)
//! and `tarball:` URLs.

mod git;
mod hub;
mod spec;
mod version;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::env::render_env_vars;
use crate::project_file;
use crate::yaml::{self, Node, Value};
use kiln_core::diagnostic::{Diagnostic, Location};

pub use spec::{PackageSpec, Source, packages_hash};
pub use version::{Specifier, Version};

pub const PACKAGE_FILE_NAMES: &[&str] = &["packages.yml", "dependencies.yml"];
pub const LOCK_FILE_NAME: &str = "package-lock.yml";

/// The dbt version Kiln answers to a hub package's `require_dbt_version`.
const DBT_VERSION: &str = kiln_core::DBT_VERSION;

/// Reads the packages file of the project at `root`, if there is one, with its `env_var()`s
/// rendered.
pub fn read_specs(root: &Path) -> Result<(Option<PathBuf>, Vec<PackageSpec>), Diagnostic> {
    let Some(name) = PACKAGE_FILE_NAMES
        .iter()
        .find(|name| root.join(name).is_file())
    else {
        return Ok((None, Vec::new()));
    };
    let display = PathBuf::from(name);
    let specs = read_entries(&root.join(name), &display, "packages")?;
    Ok((Some(display), specs))
}

/// Reads the `packages:` list of a packages or lock file.
fn read_entries(
    path: &Path,
    display: &Path,
    list_key: &str,
) -> Result<Vec<PackageSpec>, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Diagnostic::error(format!("cannot read {}: {error}", display.display()))
    })?;
    let raw = yaml::parse(display, &text)?;
    entries_of(&raw, display, list_key)
}

fn entries_of(raw: &Node, display: &Path, list_key: &str) -> Result<Vec<PackageSpec>, Diagnostic> {
    let mut rendered = raw.clone();
    let mut errors = Vec::new();
    render_env_vars(&mut rendered, display, &[], &mut errors);
    if let Some(error) = errors.into_iter().next() {
        return Err(error);
    }
    let items = match rendered.value {
        Value::Null => return Ok(Vec::new()),
        Value::Map(_) => match rendered.get(list_key).map(|n| &n.value) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Seq(items)) => items.clone(),
            Some(_) => {
                return Err(Diagnostic::error(format!("`{list_key}:` must be a list"))
                    .at(Location::new(display, rendered.line)));
            }
        },
        _ => {
            return Err(Diagnostic::error(format!(
                "{} must be a mapping with a `{list_key}:` list",
                display.display()
            ))
            .at(Location::new(display, rendered.line)));
        }
    };
    let raw_items = raw.get(list_key).and_then(Node::as_seq).unwrap_or_default();
    items
        .iter()
        .zip(raw_items)
        .map(|(item, raw_item)| spec::parse_entry(item, raw_item, display))
        .collect()
}

/// How `kiln deps` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DepsOptions {
    /// Resolve again even when the lock file matches the packages file.
    pub upgrade: bool,
    /// Only resolve and write the lock file; install nothing.
    pub lock_only: bool,
}

/// One package `kiln deps` resolved and, unless lock-only, installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    /// `dbt-labs/dbt_utils@1.3.0`, `https://...git@<sha>`, `local ../x`...
    pub description: String,
}

/// What `kiln deps` did.
#[derive(Debug, Default)]
pub struct DepsReport {
    pub packages: Vec<Installed>,
    /// Whether package-lock.yml was written (else it matched the packages file and was used).
    pub lock_written: bool,
    pub warnings: Vec<Diagnostic>,
    /// `(package, latest)` for hub packages installed below their latest version.
    pub updates: Vec<(String, String)>,
}

/// A package resolved to one version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Pinned {
    Local {
        path: String,
    },
    Git {
        url: String,
        raw_url: String,
        sha: String,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        version: String,
    },
    Tarball {
        url: String,
        raw_url: String,
        name: String,
    },
}

impl Pinned {
    fn describe(&self) -> String {
        match self {
            Pinned::Local { path } => format!("local {path}"),
            Pinned::Git {
                raw_url,
                sha,
                subdirectory,
                ..
            } => match subdirectory {
                Some(sub) => format!("{raw_url} ({sub}) at {sha}"),
                None => format!("{raw_url} at {sha}"),
            },
            Pinned::Hub { package, version } => format!("{package}@{version}"),
            Pinned::Tarball { raw_url, .. } => format!("tarball {raw_url}"),
        }
    }

    /// The lock file entry (without `name`), as dbt's `PinnedPackage.to_dict()`.
    fn lock_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Pinned::Local { path } => vec![("local", path.clone())],
            Pinned::Git {
                raw_url,
                sha,
                subdirectory,
                ..
            } => {
                let mut fields = vec![("git", raw_url.clone()), ("revision", sha.clone())];
                if let Some(sub) = subdirectory {
                    fields.push(("subdirectory", sub.clone()));
                }
                fields
            }
            Pinned::Hub { package, version } => {
                vec![("package", package.clone()), ("version", version.clone())]
            }
            Pinned::Tarball { raw_url, name, .. } => {
                vec![("name", name.clone()), ("tarball", raw_url.clone())]
            }
        }
    }
}

/// What a resolved package is: its project name and its own packages.
#[derive(Debug, Clone)]
struct Metadata {
    name: String,
    packages: Vec<PackageSpec>,
}

/// One package wanted, with every entry that asked for it.
struct Wanted {
    /// (who asked: `packages.yml:3` or a package's name, the entry).
    requests: Vec<(String, PackageSpec)>,
}

impl Wanted {
    fn first(&self) -> &PackageSpec {
        &self.requests[0].1
    }
}

/// The network and the file system, as resolution and installation use them.
struct Fetcher<'a> {
    root: &'a Path,
    hub: Option<hub::Hub>,
    checkouts: git::Checkouts,
    downloads: PathBuf,
    metadata: HashMap<Pinned, Metadata>,
}

impl Fetcher<'_> {
    fn hub(&mut self) -> &mut hub::Hub {
        self.hub.get_or_insert_with(hub::Hub::from_env)
    }

    /// Resolves what every request for one package allows to one version.
    fn pin(&mut self, key: &str, wanted: &Wanted) -> Result<(Pinned, Option<String>), Diagnostic> {
        let first = wanted.first();
        match &first.source {
            Source::Local { path } => Ok((Pinned::Local { path: path.clone() }, None)),
            Source::Tarball { url } => Ok((
                Pinned::Tarball {
                    url: url.clone(),
                    raw_url: url.clone(),
                    name: first.name.clone().unwrap_or_default(),
                },
                None,
            )),
            Source::Git {
                url, subdirectory, ..
            } => {
                let mut revisions: Vec<(&str, &String)> = Vec::new();
                for (who, spec) in &wanted.requests {
                    if let Source::Git {
                        revision: Some(revision),
                        ..
                    } = &spec.source
                        && !revisions.iter().any(|(r, _)| r == revision)
                    {
                        revisions.push((revision, who));
                    }
                }
                if revisions.len() > 1 {
                    let mut error = Diagnostic::error(format!(
                        "git package {key} is asked for at {} different revisions",
                        revisions.len()
                    ))
                    .at(first.location.clone());
                    for (revision, who) in &revisions {
                        error = error.note(format!("{who} asks for revision {revision}"));
                    }
                    return Err(error.help("ask for one revision of it everywhere"));
                }
                let revision = revisions.first().map(|(r, _)| *r);
                let (_, sha) = self
                    .checkouts
                    .checkout(url, revision)
                    .map_err(|e| Diagnostic::error(e).at(first.location.clone()))?;
                let raw_url = raw_url_of(first).unwrap_or_else(|| url.clone());
                Ok((
                    Pinned::Git {
                        url: url.clone(),
                        raw_url,
                        sha,
                        subdirectory: subdirectory.clone(),
                    },
                    None,
                ))
            }
            Source::Hub {
                package,
                install_prerelease,
                ..
            } => {
                let mut conditions: Vec<(Specifier, &String)> = Vec::new();
                for (who, spec) in &wanted.requests {
                    let Source::Hub { versions, .. } = &spec.source else {
                        continue;
                    };
                    for text in versions {
                        let condition = Specifier::parse(text).map_err(|error| {
                            Diagnostic::error(format!("version of {package}: {error}"))
                                .at(spec.location.clone())
                                .help("write a version such as 1.3.0 or a range such as [\">=1.0.0\", \"<2.0.0\"]")
                        })?;
                        conditions.push((condition, who));
                    }
                }
                let refs: Vec<&Specifier> = conditions.iter().map(|(c, _)| c).collect();
                let requests_note = |mut error: Diagnostic| {
                    for (who, spec) in &wanted.requests {
                        if let Source::Hub { versions, .. } = &spec.source {
                            error = error
                                .note(format!("{who} asks for {package} {}", versions.join(", ")));
                        }
                    }
                    error
                };
                if !version::satisfiable(&refs) {
                    return Err(requests_note(
                        Diagnostic::error(format!(
                            "no version of {package} can meet every requirement"
                        ))
                        .at(first.location.clone()),
                    )
                    .help("widen one of the version ranges so that they overlap"));
                }
                let location = first.location.clone();
                let versions = self
                    .hub()
                    .versions(package)
                    .map_err(|e| Diagnostic::error(e).at(location.clone()))?;
                let dbt = Version::parse(DBT_VERSION).unwrap_or_else(|e| unreachable!("{e}"));
                let compatible: Vec<&str> = versions
                    .iter()
                    .filter(|(_, info)| dbt_compatible(info, &dbt))
                    .map(|(v, _)| v.as_str())
                    .collect();
                let latest =
                    version::highest_matching(&[], compatible.iter().copied(), *install_prerelease)
                        .map(str::to_owned);
                match version::highest_matching(
                    &refs,
                    compatible.iter().copied(),
                    *install_prerelease,
                ) {
                    Some(chosen) => Ok((
                        Pinned::Hub {
                            package: package.clone(),
                            version: chosen.to_owned(),
                        },
                        latest.filter(|l| l != chosen),
                    )),
                    None => {
                        let mut listed: Vec<&str> = compatible.clone();
                        listed.sort_by_key(|v| Version::parse(v).ok());
                        Err(requests_note(
                            Diagnostic::error(format!(
                                "no version of {package} in the package hub meets every requirement"
                            ))
                            .at(location),
                        )
                        .note(format!("versions available for dbt {DBT_VERSION}: {}", listed.join(", ")))
                        .help("change the version range, or set install_prerelease: true for prereleases"))
                    }
                }
            }
        }
    }

    /// The project name and the packages of a resolved package (fetching it if need be).
    fn metadata(&mut self, pinned: &Pinned, location: &Location) -> Result<Metadata, Diagnostic> {
        if let Some(found) = self.metadata.get(pinned) {
            return Ok(found.clone());
        }
        let at = |message: String| Diagnostic::error(message).at(location.clone());
        let found = match pinned {
            Pinned::Local { path } => {
                read_package_dir(&spec::local_dir(self.root, path), path, location)?
            }
            Pinned::Git {
                url,
                sha,
                subdirectory,
                ..
            } => {
                let (dir, _) = self.checkouts.checkout(url, Some(sha)).map_err(at)?;
                let dir = match subdirectory {
                    Some(sub) => dir.join(sub),
                    None => dir,
                };
                read_package_dir(&dir, url, location)?
            }
            Pinned::Hub { package, version } => {
                let info = self.hub().version(package, version).map_err(at)?;
                let display = PathBuf::from(format!("{package}@{version}"));
                let node = Node::from_json(
                    &Json::Object(
                        [("packages".to_owned(), Json::Array(info.packages))]
                            .into_iter()
                            .collect(),
                    ),
                    0,
                );
                Metadata {
                    name: info.name,
                    packages: entries_of(&node, &display, "packages")?,
                }
            }
            Pinned::Tarball { url, name, .. } => {
                let dir = self.downloads.join(format!("tarball-{name}"));
                self.hub().download(url, &dir).map_err(at)?;
                let mut found = read_package_dir(&dir, url, location)?;
                found.name = name.clone();
                found
            }
        };
        self.metadata.insert(pinned.clone(), found.clone());
        Ok(found)
    }

    /// Puts a resolved package at `destination`.
    fn install(
        &mut self,
        pinned: &Pinned,
        destination: &Path,
        location: &Location,
    ) -> Result<(), Diagnostic> {
        let at = |message: String| Diagnostic::error(message).at(location.clone());
        match pinned {
            Pinned::Local { path } => {
                link(&spec::local_dir(self.root, path), destination).map_err(|e| {
                    at(format!(
                        "cannot link {path} into {}: {e}",
                        destination.display()
                    ))
                })
            }
            Pinned::Git {
                url,
                sha,
                subdirectory,
                ..
            } => {
                let (dir, _) = self.checkouts.checkout(url, Some(sha)).map_err(at)?;
                let from = match subdirectory {
                    Some(sub) => dir.join(sub),
                    None => dir,
                };
                git::copy_tree(&from, destination).map_err(|e| {
                    at(format!(
                        "cannot copy {url} into {}: {e}",
                        destination.display()
                    ))
                })
            }
            Pinned::Hub { package, version } => {
                let info = self.hub().version(package, version).map_err(at)?;
                self.hub().download(&info.tarball, destination).map_err(at)
            }
            Pinned::Tarball { url, .. } => self.hub().download(url, destination).map_err(at),
        }
    }
}

/// Whether a hub version's `require_dbt_version` admits the dbt version Kiln stands for.
fn dbt_compatible(info: &Json, dbt: &Version) -> bool {
    let required: Vec<&str> = match info.get("require_dbt_version") {
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).collect(),
        _ => return true,
    };
    required
        .iter()
        .flat_map(|text| text.split(','))
        .filter_map(|text| Specifier::parse(text).ok())
        .all(|spec| spec.matches(dbt))
}

fn raw_url_of(spec: &PackageSpec) -> Option<String> {
    spec.raw_url.clone()
}

/// Reads the project file and packages file of a package's directory.
fn read_package_dir(dir: &Path, what: &str, location: &Location) -> Result<Metadata, Diagnostic> {
    let Some(project_path) = project_file::find(dir) else {
        return Err(Diagnostic::error(format!("no dbt_project.yml or project.yml in {what}"))
            .at(location.clone())
            .help("a package is a dbt project: point the entry at the directory holding dbt_project.yml (for git, `subdirectory:`)"));
    };
    let display = PathBuf::from(what).join(project_path.file_name().unwrap_or_default());
    let mut warnings = Vec::new();
    let file = project_file::load(
        &project_path,
        &display,
        &crate::env::YamlContext {
            lenient: true,
            ..Default::default()
        },
        &mut warnings,
    )
    .map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| Diagnostic::error("cannot read the project file"))
    })?;
    let packages = match PACKAGE_FILE_NAMES.iter().find(|n| dir.join(n).is_file()) {
        Some(name) => read_entries(&dir.join(name), &PathBuf::from(what).join(name), "packages")?,
        None => Vec::new(),
    };
    Ok(Metadata {
        name: file.name,
        packages,
    })
}

/// The key under which requests for the same package meet (dbt's `PackageListing`).
fn listing_key(spec: &PackageSpec) -> String {
    match &spec.source {
        Source::Local { path } => format!("local:{path}"),
        Source::Git {
            url, subdirectory, ..
        } => {
            let url = url.strip_suffix(".git").unwrap_or(url);
            match subdirectory {
                Some(sub) => format!("git:{url}/{sub}"),
                None => format!("git:{url}"),
            }
        }
        Source::Hub { package, .. } => format!("hub:{package}"),
        Source::Tarball { url } => format!("tarball:{url}"),
    }
}

/// A resolved package, ready for the lock file.
struct Resolved {
    name: String,
    pinned: Pinned,
    location: Location,
}

/// Resolves the project's packages and theirs, transitively, to one version each.
fn resolve(
    root_name: &str,
    file: &Path,
    specs: &[PackageSpec],
    fetcher: &mut Fetcher<'_>,
    report: &mut DepsReport,
) -> Result<Vec<Resolved>, Vec<Diagnostic>> {
    let mut listing: IndexMap<String, Wanted> = IndexMap::new();
    let incorporate = |listing: &mut IndexMap<String, Wanted>, who: String, spec: &PackageSpec| {
        let entry = listing.entry(listing_key(spec)).or_insert_with(|| Wanted {
            requests: Vec::new(),
        });
        let new = !entry
            .requests
            .iter()
            .any(|(w, s)| *w == who && s.source == spec.source);
        if new {
            entry.requests.push((who, spec.clone()));
        }
        new
    };
    for spec in specs {
        incorporate(
            &mut listing,
            format!("{}:{}", file.display(), spec.location.line),
            spec,
        );
    }
    let mut expanded: HashMap<Pinned, ()> = HashMap::new();
    // Until nothing new is asked for: pin every package, and read the packages of those not
    // read yet (their requests can change the pins).
    loop {
        let mut changed = false;
        let keys: Vec<String> = listing.keys().cloned().collect();
        for key in keys {
            let (pinned, _) = fetcher.pin(&key, &listing[&key]).map_err(|d| vec![d])?;
            if expanded.contains_key(&pinned) {
                continue;
            }
            let location = listing[&key].first().location.clone();
            let metadata = fetcher.metadata(&pinned, &location).map_err(|d| vec![d])?;
            expanded.insert(pinned, ());
            let who = format!("package {}", metadata.name);
            for dep in &metadata.packages {
                changed |= incorporate(&mut listing, who.clone(), dep);
            }
        }
        if !changed {
            break;
        }
    }
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut errors = Vec::new();
    for (key, wanted) in &listing {
        let (pinned, latest) = fetcher.pin(key, wanted).map_err(|d| vec![d])?;
        let location = wanted.first().location.clone();
        let metadata = fetcher.metadata(&pinned, &location).map_err(|d| vec![d])?;
        if let (Pinned::Hub { package, .. }, Some(latest)) = (&pinned, latest) {
            report.updates.push((package.clone(), latest));
        }
        if metadata.name == root_name {
            errors.push(
                Diagnostic::error(format!(
                    "package {} is a project named `{root_name}`, as the root project is",
                    pinned.describe()
                ))
                .at(location.clone())
                .help("a project cannot depend on itself; remove the entry"),
            );
        }
        if let Some(other) = resolved.iter().find(|r| r.name == metadata.name) {
            errors.push(
                Diagnostic::error(format!(
                    "two packages are both a project named `{}`: {} and {}",
                    metadata.name,
                    other.pinned.describe(),
                    pinned.describe()
                ))
                .at(location.clone())
                .help("keep one of them (for example the hub package, not a git copy of it)"),
            );
        }
        resolved.push(Resolved {
            name: metadata.name,
            pinned,
            location,
        });
    }
    for (old, new) in &fetcher
        .hub
        .as_ref()
        .map(|h| h.redirects.clone())
        .unwrap_or_default()
    {
        report.warnings.push(Diagnostic::warning(format!(
            "package {old} has been renamed to {new}: update packages.yml to the new name"
        )));
    }
    for (_, wanted) in &listing {
        let spec = wanted.first();
        if let Source::Git {
            url,
            revision,
            warn_unpinned: true,
            ..
        } = &spec.source
            && revision
                .as_deref()
                .is_none_or(|r| matches!(r, "HEAD" | "main" | "master"))
        {
            report.warnings.push(
                Diagnostic::warning(format!(
                    "the git package {url} is not pinned: it follows {}",
                    revision.as_deref().unwrap_or("the default branch")
                ))
                .at(spec.location.clone())
                .help("add `revision:` with a tag or a commit, or `warn-unpinned: false`"),
            );
        }
    }
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(errors)
    }
}

/// `package-lock.yml` as dbt writes it (PyYAML, keys sorted, lists indented).
fn lock_text(resolved: &[Resolved], hash: &str) -> String {
    let mut text = String::from("packages:\n");
    for package in resolved {
        let mut fields = package.pinned.lock_fields();
        if !fields.iter().any(|(k, _)| *k == "name") {
            fields.push(("name", package.name.clone()));
        }
        fields.sort_by_key(|(k, _)| *k);
        for (i, (key, value)) in fields.iter().enumerate() {
            let lead = if i == 0 { "  - " } else { "    " };
            let _ = writeln!(text, "{lead}{key}: {}", yaml_scalar(value));
        }
    }
    let _ = writeln!(text, "sha1_hash: {hash}");
    text
}

/// A string as PyYAML writes it: plain when it reads back as the same string, else quoted.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@+~{}()' ".contains(c) && c != '\'')
        && !text.starts_with(|c: char| " -:{}".contains(c))
        && !text.ends_with(' ')
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains("{{")
        && matches!(
            yaml::parse(Path::new("lock"), text).map(|n| n.value),
            Ok(Value::String(s)) if s == text
        );
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// `kiln deps`: resolves the packages of the project at `root` (or takes them from
/// package-lock.yml when it matches the packages file), writes the lock file, and installs
/// them into `install_dir` (relative to root), replacing what was there.
pub fn install(
    root: &Path,
    root_name: &str,
    install_dir: &str,
    options: DepsOptions,
) -> Result<DepsReport, Vec<Diagnostic>> {
    let (file, specs) = read_specs(root).map_err(|d| vec![d])?;
    let file = file.unwrap_or_else(|| PathBuf::from("packages.yml"));
    let mut report = DepsReport::default();
    let downloads = std::env::var_os("DBT_DOWNLOADS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("kiln-deps-{}", std::process::id())));
    let mut fetcher = Fetcher {
        root,
        hub: None,
        checkouts: git::Checkouts::new(downloads.join("git")),
        downloads: downloads.clone(),
        metadata: HashMap::new(),
    };
    let result = install_with(
        root,
        root_name,
        install_dir,
        options,
        &file,
        &specs,
        &mut fetcher,
        &mut report,
    );
    if std::env::var_os("DBT_DOWNLOADS_DIR").is_none() {
        let _ = std::fs::remove_dir_all(&downloads);
    }
    result.map(|()| report)
}

#[allow(clippy::too_many_arguments)]
fn install_with(
    root: &Path,
    root_name: &str,
    install_dir: &str,
    options: DepsOptions,
    file: &Path,
    specs: &[PackageSpec],
    fetcher: &mut Fetcher<'_>,
    report: &mut DepsReport,
) -> Result<(), Vec<Diagnostic>> {
    let hash = packages_hash(specs);
    let lock_path = root.join(LOCK_FILE_NAME);
    let lock_display = PathBuf::from(LOCK_FILE_NAME);
    let lock_matches = !options.upgrade
        && lock_path.is_file()
        && std::fs::read_to_string(&lock_path)
            .ok()
            .and_then(|text| yaml::parse(&lock_display, &text).ok())
            .and_then(|node| {
                node.get("sha1_hash")
                    .and_then(Node::as_str)
                    .map(str::to_owned)
            })
            .is_some_and(|previous| previous == hash);
    if specs.is_empty() && !lock_path.is_file() {
        return Ok(());
    }
    if !lock_matches {
        let resolved = resolve(root_name, file, specs, fetcher, report)?;
        std::fs::write(&lock_path, lock_text(&resolved, &hash)).map_err(|error| {
            vec![Diagnostic::error(format!(
                "cannot write {LOCK_FILE_NAME}: {error}"
            ))]
        })?;
        report.lock_written = true;
    }
    if options.lock_only {
        return Ok(());
    }
    let locked = read_lock(&lock_path, &lock_display).map_err(|d| vec![d])?;
    // Packages are installed side by side with the current ones and swapped in only when all
    // of them installed: a failed download leaves the project as it was (dbt empties the
    // directory first).
    let target_dir = root.join(install_dir);
    let dir_name = target_dir.file_name().map_or_else(
        || "dbt_packages".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let staging = target_dir.with_file_name(format!(".{dir_name}.kiln-new"));
    let io_error = |what: &str, error: std::io::Error| {
        vec![Diagnostic::error(format!(
            "cannot {what} {install_dir}/: {error}"
        ))]
    };
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io_error("prepare", e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| io_error("create", e))?;
    let mut errors = Vec::new();
    let mut installed = Vec::new();
    for package in locked {
        if !project_file::is_identifier(&package.name) {
            errors.push(
                Diagnostic::error(format!("`{}` is not a valid package name", package.name))
                    .at(package.location.clone()),
            );
            continue;
        }
        let destination = staging.join(&package.name);
        match fetcher.install(&package.pinned, &destination, &package.location) {
            Ok(()) => installed.push(Installed {
                name: package.name.clone(),
                description: package.pinned.describe(),
            }),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(errors);
    }
    if target_dir.exists() {
        std::fs::remove_dir_all(&target_dir).map_err(|e| io_error("empty", e))?;
    }
    std::fs::rename(&staging, &target_dir).map_err(|e| io_error("fill", e))?;
    report.packages = installed;
    Ok(())
}

/// Reads package-lock.yml: every entry pinned, with the name it installs as.
fn read_lock(path: &Path, display: &Path) -> Result<Vec<Resolved>, Diagnostic> {
    let specs = read_entries(path, display, "packages")?;
    specs
        .into_iter()
        .map(|spec| {
            let name = spec.name.clone().ok_or_else(|| {
                Diagnostic::error("a lock file entry without `name`")
                    .at(spec.location.clone())
                    .help("run `kiln deps --upgrade` to write the lock file again")
            })?;
            let pinned = match &spec.source {
                Source::Local { path } => Pinned::Local { path: path.clone() },
                Source::Git {
                    url,
                    revision,
                    subdirectory,
                    ..
                } => Pinned::Git {
                    url: url.clone(),
                    raw_url: raw_url_of(&spec).unwrap_or_else(|| url.clone()),
                    sha: revision.clone().unwrap_or_else(|| "HEAD".to_owned()),
                    subdirectory: subdirectory.clone(),
                },
                Source::Hub {
                    package, versions, ..
                } => Pinned::Hub {
                    package: package.clone(),
                    version: versions.first().cloned().unwrap_or_default(),
                },
                Source::Tarball { url } => Pinned::Tarball {
                    url: url.clone(),
                    raw_url: raw_url_of(&spec).unwrap_or_else(|| url.clone()),
                    name: name.clone(),
                },
            };
            Ok(Resolved {
                name,
                pinned,
                location: spec.location,
            })
        })
        .collect()
}

/// The names package-lock.yml installs, when it matches the packages file.
pub fn locked_names(root: &Path, specs: &[PackageSpec]) -> Option<Vec<String>> {
    let display = PathBuf::from(LOCK_FILE_NAME);
    let text = std::fs::read_to_string(root.join(LOCK_FILE_NAME)).ok()?;
    let node = yaml::parse(&display, &text).ok()?;
    if node.get("sha1_hash").and_then(Node::as_str)? != packages_hash(specs) {
        return None;
    }
    let names = node
        .get("packages")?
        .as_seq()?
        .iter()
        .filter_map(|entry| entry.get("name").and_then(Node::as_str).map(str::to_owned))
        .collect();
    Some(names)
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

/// Where `kiln deps --add-package` takes a package from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddSource {
    Hub,
    Git,
    Local,
}

/// `kiln deps --add-package name@version`: writes the entry into the project's packages file
/// (creating `packages.yml` when there is none), replacing an entry for the same package, as
/// dbt does. Unlike dbt, which writes the whole file again, the rest of the file (comments,
/// order, quoting) is kept as written.
pub fn add_package(root: &Path, package: &str, source: AddSource) -> Result<PathBuf, Diagnostic> {
    let (name, version) = match package.split_once('@') {
        Some((name, version)) => (name.trim(), Some(version.trim())),
        None => (package.trim(), None),
    };
    if name.is_empty() {
        return Err(Diagnostic::error(
            "--add-package needs a package: --add-package dbt-labs/dbt_utils@1.3.0",
        ));
    }
    let (key, version_key) = match source {
        AddSource::Hub => ("package", "version"),
        AddSource::Git => ("git", "revision"),
        AddSource::Local => ("local", "version"),
    };
    let mut entry = vec![format!("{key}: {}", yaml_scalar(name))];
    match (source, version) {
        (AddSource::Hub, None) => {
            return Err(Diagnostic::error(format!(
                "--add-package {name} needs a version for the package hub: {name}@1.0.0"
            )));
        }
        (AddSource::Local, Some(_)) => {
            return Err(Diagnostic::error(
                "a local package has no version: --add-package ../path --source local",
            ));
        }
        (_, Some(version)) => {
            let versions: Vec<&str> = version.split(',').map(str::trim).collect();
            let value = match versions.as_slice() {
                [one] => yaml_scalar(one),
                many => format!(
                    "[{}]",
                    many.iter()
                        .map(|v| format!("\"{v}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            entry.push(format!("{version_key}: {value}"));
        }
        _ => {}
    }
    let existing = PACKAGE_FILE_NAMES.iter().find(|n| root.join(n).is_file());
    let file_name = existing.copied().unwrap_or("packages.yml");
    let display = PathBuf::from(file_name);
    let text = match existing {
        Some(_) => std::fs::read_to_string(root.join(file_name))
            .map_err(|error| Diagnostic::error(format!("cannot read {file_name}: {error}")))?,
        None => String::new(),
    };
    let node = yaml::parse(&display, &text)?;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let items = node
        .get("packages")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    // The lines of each entry: from its first line to the next entry (or the next top-level key).
    let list_end = node
        .as_map()
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| k.line)
        .filter(|line| items.first().is_some_and(|first| *line > first.line))
        .min()
        .map_or(lines.len(), |line| line - 1);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let end = items.get(i + 1).map_or(list_end, |next| next.line - 1);
        spans.push((item.line - 1, end));
    }
    let indent = items
        .first()
        .and_then(|first| lines.get(first.line - 1))
        .map(|line| line.len() - line.trim_start().len())
        .unwrap_or(2);
    // Where the new entry goes: after the last entry, before what follows the list.
    let mut insert_at = spans.last().map_or(lines.len(), |&(_, end)| end);
    while insert_at > 0
        && spans
            .last()
            .is_some_and(|&(start, _)| insert_at > start + 1)
        && lines[insert_at - 1].trim().is_empty()
    {
        insert_at -= 1;
    }
    for (item, &(start, end)) in items.iter().zip(&spans).rev() {
        let identifier = ["package", "git", "local", "tarball"]
            .iter()
            .find_map(|k| item.get(k).and_then(Node::as_str));
        if identifier.is_some_and(|id| same_package(name, id)) {
            lines.drain(start..end.min(lines.len()));
            if insert_at >= end {
                insert_at -= end - start;
            }
        }
    }
    let pad = " ".repeat(indent);
    let mut new_lines = vec![format!("{pad}- {}", entry[0])];
    new_lines.extend(entry[1..].iter().map(|line| format!("{pad}  {line}")));
    if node.get("packages").is_none() {
        if lines.last().is_some_and(|l| !l.trim().is_empty()) {
            lines.push(String::new());
        }
        lines.push("packages:".to_owned());
        insert_at = lines.len();
    } else if items.is_empty() {
        // `packages: []` or `packages:` with nothing under it.
        let key_line = node.key_node("packages").map_or(0, |k| k.line);
        if let Some(line) = lines.get_mut(key_line.saturating_sub(1)) {
            *line = "packages:".to_owned();
        }
        insert_at = key_line;
    }
    for (i, line) in new_lines.into_iter().enumerate() {
        lines.insert(insert_at + i, line);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(root.join(file_name), out)
        .map_err(|error| Diagnostic::error(format!("cannot write {file_name}: {error}")))?;
    Ok(display)
}

/// dbt's duplicate rule for `--add-package`: the name (or its short name, with `-` and `_`
/// read alike) appears in the entry's identifier between `/`, `.` or the ends.
fn same_package(name: &str, identifier: &str) -> bool {
    let short = name.rsplit('/').next().unwrap_or(name);
    let variants = [
        name.to_owned(),
        name.replace('_', "-"),
        name.replace('-', "_"),
        short.to_owned(),
        short.replace('_', "-"),
        short.replace('-', "_"),
    ];
    variants.iter().any(|variant| {
        identifier.match_indices(variant.as_str()).any(|(at, _)| {
            let before = identifier[..at].chars().last();
            let after = identifier[at + variant.len()..].chars().next();
            before.is_none_or(|c| c == '/' || c == '.')
                && after.is_none_or(|c| c == '/' || c == '.')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(text: Option<&str>, package: &str, source: AddSource) -> String {
        let dir = std::env::temp_dir().join(format!(
            "kiln-add-package-{}-{}",
            std::process::id(),
            package.replace(['/', '@', '.'], "_")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        if let Some(text) = text {
            std::fs::write(dir.join("packages.yml"), text).unwrap_or_else(|e| panic!("{e}"));
        }
        add_package(&dir, package, source).unwrap_or_else(|e| panic!("{e:?}"));
        let out =
            std::fs::read_to_string(dir.join("packages.yml")).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    #[test]
    fn add_package_replaces_the_same_package_and_keeps_the_rest_of_the_file() {
        let text = "# our packages\npackages:\n  - package: dbt-labs/dbt_utils # pinned for the audit\n    version: 1.1.1\n\n  - git: https://github.com/dbt-labs/dbt-codegen.git\n    revision: 0.12.1\n";
        assert_eq!(
            add(Some(text), "dbt-labs/dbt_utils@1.3.0", AddSource::Hub),
            "# our packages\npackages:\n  - git: https://github.com/dbt-labs/dbt-codegen.git\n    revision: 0.12.1\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n"
        );
        assert_eq!(
            add(
                Some(text),
                "calogica/dbt_date@>=0.10.0,<0.11.0",
                AddSource::Hub
            ),
            "# our packages\npackages:\n  - package: dbt-labs/dbt_utils # pinned for the audit\n    version: 1.1.1\n\n  - git: https://github.com/dbt-labs/dbt-codegen.git\n    revision: 0.12.1\n  - package: calogica/dbt_date\n    version: [\">=0.10.0\", \"<0.11.0\"]\n"
        );
        // The git repository dbt-utils and the hub package dbt_utils are the same package.
        assert_eq!(
            add(
                Some(
                    "packages:\n  - git: https://github.com/dbt-labs/dbt-utils.git\n    revision: 1.3.0\n"
                ),
                "dbt-labs/dbt_utils@1.3.0",
                AddSource::Hub
            ),
            "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n"
        );
        assert_eq!(
            add(None, "../shared_macros", AddSource::Local),
            "packages:\n  - local: ../shared_macros\n"
        );
        assert_eq!(
            add(
                Some("packages: []\n"),
                "https://example.com/x.git@v1.0.0",
                AddSource::Git
            ),
            "packages:\n  - git: https://example.com/x.git\n    revision: v1.0.0\n"
        );
    }
}
