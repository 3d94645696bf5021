//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kiln",
    version,
    about = "A fast, single-binary, dbt-style SQL compiler and runner"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile models to SQL under target/compiled/ and write target/manifest.json.
    Compile(CompileArgs),
    /// List the project's nodes (alias: list).
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Load and validate the whole project; report counts and timing.
    Parse(CommonArgs),
    /// Install the packages of packages.yml (hub, git, local, tarball) and theirs, pinned in
    /// package-lock.yml.
    Deps(DepsArgs),
    /// Remove build output (the target directory, except the managed warehouse, and installed packages).
    Clean(ProjectArgs),
    /// Build the selected models on the warehouse, in dependency order.
    Run(RunArgs),
    /// Load the selected seed CSV files into the warehouse.
    Seed(RunArgs),
    /// Record the history of the selected snapshots' sources (type-2 slowly changing dimensions).
    Snapshot(RunArgs),
    /// Run the selected data tests.
    Test(RunArgs),
    /// Seeds, snapshots, models and their tests in dependency order; a failing test stops what
    /// depends on it.
    Build(RunArgs),
    /// Commands on sources: `kiln source freshness`.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Documentation artifacts: `kiln docs generate` writes target/catalog.json.
    #[command(subcommand)]
    Docs(DocsCommand),
    /// Run the last run, build, test, seed or snapshot again, for its failed and skipped nodes
    /// only, with the same arguments (read from target/run_results.json).
    Retry(CommonArgs),
    /// Call a macro on the warehouse, in a transaction: `kiln run-operation purge --args '{days: 30}'`.
    RunOperation(RunOperationArgs),
    /// Check the project, the profile and the connection, and say which part failed.
    Debug(CommonArgs),
    /// Manage the local PostgreSQL instance of `managed: true` targets.
    Local(LocalArgs),
    /// Print the first rows a model (or an inline query) returns, as a table.
    Show(ShowArgs),
    /// Create a new project that `kiln build` builds right away.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The model to preview.
    #[arg(long, short = 's', conflicts_with = "inline")]
    pub select: Option<String>,
    /// A query to run instead of a model; it may use ref() and source().
    #[arg(long)]
    pub inline: Option<String>,
    /// How many rows to show.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// How long ago each source was loaded, against its warn_after / error_after; writes
    /// target/sources.json. Exits 1 when a source is past its error_after.
    Freshness(FreshnessArgs),
}

#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Compile every node, then write target/catalog.json: each built relation's columns,
    /// types, comments and owner, as dbt's catalog (v1) has them.
    Generate(DocsGenerateArgs),
}

#[derive(Debug, Args)]
pub struct DocsGenerateArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write the catalog from the parsed project without compiling it.
    #[arg(long)]
    pub no_compile: bool,
}

#[derive(Debug, Args)]
pub struct FreshnessArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where to write the results (default: target/sources.json).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunOperationArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The macro to call: `name`, or `package.name`.
    pub macro_name: String,
    /// The macro's keyword arguments, as YAML or JSON: --args '{table: orders, days: 30}'.
    #[arg(long)]
    pub args: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the project (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: std::path::PathBuf,
    /// The project's name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Rebuild incremental models and seeds from scratch.
    #[arg(long)]
    pub full_refresh: bool,
    /// Stop at the first failure: cancel the queries in flight and skip the rest.
    #[arg(long, short = 'x')]
    pub fail_fast: bool,
    /// Build every model from refs and sources that read no rows (dbt's limit 0): checks
    /// that the SQL runs and the relations can be created, in seconds.
    #[arg(long)]
    pub empty: bool,
    /// Keep the failing rows of every test in a table of the audit schema.
    #[arg(long)]
    pub store_failures: bool,
    /// Microbatch models: build the window from this time (UTC; a date or a datetime) instead
    /// of their lookback, as dbt's flag of the same name.
    #[arg(long, requires = "event_time_end", value_name = "DATETIME")]
    pub event_time_start: Option<String>,
    /// Microbatch models: build the window up to this time (UTC).
    #[arg(long, requires = "event_time_start", value_name = "DATETIME")]
    pub event_time_end: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LocalAction {
    /// Whether the instance exists and runs, and where.
    Status,
    /// Start it (it also starts by itself when a command needs it).
    Start,
    /// Stop the server; the data stays.
    Stop,
    /// Stop the server and delete the instance with all its data.
    Destroy,
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    #[arg(value_enum)]
    pub action: LocalAction,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// The directory of project.yml or dbt_project.yml.
    #[arg(long, global = true, default_value = ".")]
    pub project_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct DepsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Resolve the packages again (newest versions allowed) even if package-lock.yml matches
    /// packages.yml.
    #[arg(long)]
    pub upgrade: bool,
    /// Only resolve the packages and write package-lock.yml; install nothing.
    #[arg(long)]
    pub lock: bool,
    /// Add a package to packages.yml first (replacing an entry for the same package), then
    /// install: `dbt-labs/dbt_utils@1.3.0`, `...@">=1.0.0,<2.0.0"`, a git URL@revision, a path.
    #[arg(long, value_name = "NAME@VERSION")]
    pub add_package: Option<String>,
    /// Where `--add-package` takes the package from.
    #[arg(long, value_enum, default_value = "hub", requires = "add_package")]
    pub source: PackageSource,
    /// Accepted for dbt's command lines; `kiln deps` reads no profile.
    #[arg(long, hide = true)]
    pub profiles_dir: Option<PathBuf>,
    /// Accepted for dbt's command lines; `kiln deps` reads no profile.
    #[arg(long, short = 't', hide = true)]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PackageSource {
    Hub,
    Git,
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Where profiles.yml is (default: $KILN_PROFILES_DIR, the project directory, ~/.kiln, ~/.dbt).
    #[arg(long)]
    pub profiles_dir: Option<PathBuf>,
    /// The profile's target to use (default: the profile's `target:`).
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// Variables for var(), as YAML or JSON: --vars '{start_date: 2024-01-01}'.
    #[arg(long)]
    pub vars: Option<String>,
    /// Worker threads, 1 to 256 (default: the profile's `threads`, for parsing: all cores).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Output format for messages.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Treat warnings as errors: a test that warns fails the command.
    #[arg(long)]
    pub warn_error: bool,
    /// dbt's finer --warn-error: `{include: all}` (or `"*"`) is --warn-error; other lists are
    /// accepted and leave warnings as warnings.
    #[arg(long)]
    pub warn_error_options: Option<String>,
    /// Write artifacts and compiled SQL here instead of the project's target-path.
    #[arg(long)]
    pub target_path: Option<String>,
    /// Accepted for dbt compatibility: Kiln never checks for a newer version.
    #[arg(long)]
    pub no_version_check: bool,
}

impl CommonArgs {
    /// Whether warnings fail the command (--warn-error, or --warn-error-options including all).
    pub fn warnings_are_errors(&self) -> bool {
        self.warn_error
            || self.warn_error_options.as_deref().is_some_and(|options| {
                let compact: String = options.chars().filter(|c| !c.is_whitespace()).collect();
                [
                    "include:all",
                    "include:\"all\"",
                    "include:'all'",
                    "\"include\":\"all\"",
                    "include:\"*\"",
                    "\"include\":\"*\"",
                ]
                .iter()
                .any(|form| compact.contains(form))
            })
    }
}

#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Nodes to include: names, +x, x+, 2+x, x+1, @x, tag:, path:, config.materialized:,
    /// source:, resource_type:; space-separated for a union, comma-joined for an intersection.
    #[arg(long, short = 's', alias = "models", short_alias = 'm', num_args = 1..)]
    pub select: Vec<String>,
    /// Nodes to leave out, with the same syntax.
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// The target directory of another run (its manifest.json, run_results.json and
    /// sources.json), for state:modified, state:new, result:<status>, source_status:fresher
    /// and --defer.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Read the parents that this run does not build, and that do not exist in the target,
    /// from where the --state run built them.
    #[arg(long, requires = "state")]
    pub defer: bool,
    /// Which tests come along with the selected nodes: eager (a test of any selected node),
    /// cautious (only tests whose every parent is selected), buildable (every parent selected
    /// or upstream of the selection), empty (none).
    #[arg(long, value_enum, default_value = "eager")]
    pub indirect_selection: IndirectSelection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndirectSelection {
    Eager,
    Cautious,
    Buildable,
    Empty,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Render is_incremental() as true for incremental models, to preview their incremental SQL.
    #[arg(long)]
    pub incremental: bool,
    /// Sets flags.FULL_REFRESH in templates.
    #[arg(long)]
    pub full_refresh: bool,
    /// Render ref() and source() as subqueries that read no rows, as `kiln run --empty` runs them.
    #[arg(long)]
    pub empty: bool,
    /// Connect to the warehouse before rendering (by default Kiln connects only when a
    /// template first asks the warehouse something: run_query, statement, introspection).
    #[arg(long, conflicts_with = "no_connect")]
    pub connect: bool,
    /// Render without the warehouse: `execute` is false, as in dbt's parse, so nothing
    /// connects and introspective macros render their offline branch.
    #[arg(long)]
    pub no_connect: bool,
    /// Compile a query instead of the project's models and print its SQL (it may use ref,
    /// source, macros and vars): `kiln compile --inline "select * from {{ ref('orders') }}"`.
    #[arg(long)]
    pub inline: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LsOutput {
    /// dbt's selector form: the fqn joined with dots (sources as source:...).
    Selector,
    Name,
    Path,
    Json,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only nodes of these types (model, seed, source, test, snapshot, analysis, unit_test,
    /// exposure).
    #[arg(long = "resource-type", alias = "resource-types", num_args = 1..)]
    pub resource_types: Vec<String>,
    #[arg(long, short = 'o', value_enum, default_value = "selector")]
    pub output: LsOutput,
}

/// The most worker threads a run starts: each holds a warehouse connection, and PostgreSQL's
/// default `max_connections` is 100.
pub const MAX_THREADS: usize = 256;

fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}` is not a number of threads from 1 to {MAX_THREADS}"
        )),
    }
}
