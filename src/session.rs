//! What every command that reads models needs: the project, the profile, the options.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use kiln_compile::Options;
use kiln_core::{CliFlags, Diagnostic, Diagnostics};
use kiln_project::{Profile, Project, profiles};
use serde_json::Value as Json;

use crate::cli::CommonArgs;
use crate::printer::Printer;

pub struct Session {
    pub project: Project,
    pub profile: Profile,
    pub options: Options,
    /// `--warn-error`: warnings of the project's files fail the command.
    pub warn_error: bool,
}

impl Session {
    /// Parses the project and prints its warnings; with `--warn-error`, a warning about the
    /// project's files (as the load's, printed earlier) fails the command as dbt's does.
    pub fn parse(&self, printer: &Printer) -> Result<kiln_compile::Parsed> {
        let parsed = kiln_compile::parse(&self.project, &self.profile, &self.options)?;
        printer.diagnostics(&parsed.warnings);
        let warnings = self.project.warnings.len() + parsed.warnings.len();
        if self.warn_error && warnings > 0 {
            return Err(Diagnostics::from(
                Diagnostic::error(format!(
                    "{warnings} warning(s) about the project's files, treated as errors (--warn-error)"
                ))
                .help("fix the warnings above, or run without --warn-error"),
            )
            .into());
        }
        Ok(parsed)
    }
}

/// `--vars` as YAML or JSON: a mapping.
fn parse_vars(text: Option<&str>) -> Result<BTreeMap<String, Json>, Diagnostic> {
    parse_mapping_flag("--vars", text, "--vars '{start_date: \"2024-01-01\"}'")
}

/// A command-line flag that holds a mapping as YAML or JSON (`--vars`, `--args`).
pub fn parse_mapping_flag(
    flag: &str,
    text: Option<&str>,
    example: &str,
) -> Result<BTreeMap<String, Json>, Diagnostic> {
    let Some(text) = text else {
        return Ok(BTreeMap::new());
    };
    let node = kiln_project::yaml::parse(Path::new(flag), text).map_err(|d| {
        Diagnostic::error(format!("{flag} is not valid YAML or JSON: {}", d.message))
    })?;
    match node.to_json() {
        Json::Object(map) => Ok(map.into_iter().collect()),
        Json::Null => Ok(BTreeMap::new()),
        _ => {
            Err(Diagnostic::error(format!("{flag} must be a mapping"))
                .help(format!("e.g. {example}")))
        }
    }
}

/// Sizes the thread pool that parses and renders.
pub fn configure_threads(threads: Option<usize>) {
    if let Some(threads) = threads.filter(|t| *t > 0) {
        // Fails only if the pool was already built, which leaves the default in place.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
}

pub fn load(args: &CommonArgs, which: &str, cli: CliFlags, printer: &Printer) -> Result<Session> {
    configure_threads(args.threads);
    let cli_vars = parse_vars(args.vars.as_deref()).map_err(Diagnostics::from)?;
    // As dbt: the project file is read once for its profile's name, then with the profile's
    // target (and --vars) for the Jinja in its configs.
    let dir = &args.project.project_dir;
    let first_reading = kiln_project::env::YamlContext {
        cli_vars: cli_vars.clone(),
        target: None,
        lenient: true,
        package_vars: None,
    };
    let (profile_name, root) = match project_file_with(dir, &first_reading) {
        Ok(file) => (
            file.profile.clone().unwrap_or_else(|| file.name.clone()),
            dir.canonicalize().unwrap_or_else(|_| dir.clone()),
        ),
        // The full load below reports what is wrong with the project file.
        Err(_) => {
            kiln_project::project::load_with(dir, &first_reading)?;
            return Err(
                Diagnostics::from(Diagnostic::error("the project file cannot be read")).into(),
            );
        }
    };
    let dirs = profiles::search_dirs(args.profiles_dir.as_deref(), &root);
    let nothing_asked = args.profiles_dir.is_none() && args.target.is_none();
    // Commands that never connect (parse, ls) need only the target's names: a profiles.yml
    // without this project's profile (another project's, in ~/.dbt) does not stop them. dbt
    // fails its parse there; a run still fails, so that a nightly job never builds elsewhere.
    let offline = matches!(which, "parse" | "list");
    let found = profiles::find_file(&dirs);
    let missing = match &found {
        None => Some("no profiles.yml found".to_owned()),
        Some(path) if offline && !profiles::defines_profile(path, &profile_name) => Some(format!(
            "profile `{profile_name}` is not in {}",
            path.display()
        )),
        Some(_) => None,
    };
    let managed = |why: &str| {
        printer.diagnostic(
            &Diagnostic::warning(format!(
                "{why}: using Kiln's own PostgreSQL for profile `{profile_name}` (target `dev`, schema `analytics`)"
            ))
            .help("`kiln init` shows a profiles.yml to copy next to the project file, with a target for an existing server"),
        );
        profiles::managed_default(&profile_name)
    };
    let profile = match (nothing_asked, missing) {
        (true, Some(why)) => managed(&why),
        _ => match profiles::load(&dirs, &root, &profile_name, args.target.as_deref()) {
            Ok(profile) => profile,
            // The same for a profile that cannot be rendered here (an `env_var()` this machine
            // does not set): parse and ls never use its connection.
            Err(error) if offline && nothing_asked => {
                let location = error
                    .location
                    .as_ref()
                    .map_or_else(String::new, |at| format!(" ({at})"));
                managed(&format!(
                    "profile `{profile_name}` cannot be used{location}: {}",
                    error.message
                ))
            }
            Err(error) => return Err(Diagnostics::from(error).into()),
        },
    };
    let context = kiln_project::env::YamlContext {
        cli_vars: cli_vars.clone(),
        target: Some(profile.target_json()),
        lenient: false,
        package_vars: None,
    };
    let mut project = kiln_project::project::load_with(dir, &context)?;
    if let Some(target_path) = &args.target_path {
        project.packages[0].file.target_path = target_path.clone();
    }
    printer.diagnostics(&project.warnings);
    Ok(Session {
        project,
        profile,
        options: Options {
            cli_vars,
            which: which.to_owned(),
            cli,
        },
        warn_error: args.warnings_are_errors(),
    })
}

/// From now on, prints what templates `log(..., info=True)` (and `exceptions.warn`) as it
/// happens; lines logged so far (by a render whose output is not what runs) are dropped.
pub fn show_logs(env: &kiln_jinja::JinjaEnv, printer: &Printer) {
    env.take_logs();
    let printer = printer.clone();
    env.on_log(std::sync::Arc::new(
        move |line: &kiln_jinja::builtins::LogLine| {
            if line.info {
                printer.info(&line.message);
            }
        },
    ));
}

/// Prints what the parse render logged with `info=True`, for commands that render nothing
/// after the parse (`parse`, `ls`), as dbt's parse shows it.
pub fn show_parse_logs(env: &kiln_jinja::JinjaEnv, printer: &Printer) {
    for line in env.take_logs().into_iter().filter(|l| l.info) {
        printer.info(&line.message);
    }
}

/// Renders a query given on the command line (`--inline`) as a model of the root project
/// would render: `ref`, `source`, macros and vars work.
pub fn render_inline(
    project: &kiln_project::Project,
    parsed: &kiln_compile::Parsed,
    sql: &str,
    options: &kiln_compile::RenderOptions,
) -> Result<String> {
    // The parse fills in `graph` only when a model or macro mentions it.
    if sql.contains("graph") {
        parsed
            .env
            .set_graph(kiln_compile::manifest::graph_json(project, parsed));
    }
    let root = parsed.env.registry().root();
    let template = parsed
        .nodes
        .values()
        .filter(|n| n.resource_type == kiln_core::ResourceType::Model)
        .find(|n| n.package == root)
        .or_else(|| {
            parsed
                .nodes
                .values()
                .find(|n| n.resource_type == kiln_core::ResourceType::Model)
        })
        .cloned();
    let Some(mut node) = template else {
        return Err(Diagnostics::from(Diagnostic::error(
            "the project has no model to render the query with",
        ))
        .into());
    };
    node.raw_code = sql.to_owned();
    node.display_path = "--inline".into();
    node.unique_id = "sql_operation.inline".to_owned();
    let resolver = kiln_compile::resolver(parsed);
    let rendered = kiln_compile::render(parsed, &node, &resolver, options)?;
    Ok(rendered.trim().to_owned())
}

/// Only the project file of `dir`, for commands that need no models (deps, clean).
pub fn project_file(dir: &Path) -> Result<kiln_project::project_file::ProjectFile> {
    project_file_with(
        dir,
        &kiln_project::env::YamlContext {
            lenient: true,
            ..Default::default()
        },
    )
}

/// The project file of `dir`, its Jinja rendered with `context`.
fn project_file_with(
    dir: &Path,
    context: &kiln_project::env::YamlContext,
) -> Result<kiln_project::project_file::ProjectFile> {
    let Some(path) = kiln_project::project_file::find(dir) else {
        return Err(Diagnostics::from(
            Diagnostic::error(format!("no project file in {}", dir.display()))
                .help("run kiln in a project directory, or pass --project-dir"),
        )
        .into());
    };
    let display = kiln_core::diagnostic::relative_to(&path, dir);
    Ok(
        kiln_project::project_file::load(&path, &display, context, &mut Vec::new())
            .map_err(Diagnostics)?,
    )
}

/// The nodes that `--select` / `--exclude` pick, reading `--state` for the selectors that
/// compare with another run. Returns the state too, for `--defer`.
pub fn select(
    project: &Project,
    parsed: &kiln_compile::Parsed,
    args: &crate::cli::SelectArgs,
) -> Result<(
    std::collections::BTreeSet<String>,
    Option<kiln_compile::state::State>,
)> {
    let state = args
        .state
        .as_deref()
        .map(kiln_compile::state::State::load)
        .transpose()
        .map_err(Diagnostics::from)?;
    let facts = state.as_ref().map(|state| state.facts(project, parsed));
    let indirect = match args.indirect_selection {
        crate::cli::IndirectSelection::Eager => kiln_graph::IndirectSelection::Eager,
        crate::cli::IndirectSelection::Cautious => kiln_graph::IndirectSelection::Cautious,
        crate::cli::IndirectSelection::Buildable => kiln_graph::IndirectSelection::Buildable,
        crate::cli::IndirectSelection::Empty => kiln_graph::IndirectSelection::Empty,
    };
    let selected = kiln_graph::select_with_state(
        &parsed.graph,
        &args.select,
        &args.exclude,
        facts.as_ref(),
        indirect,
    )?;
    Ok((selected, state))
}
