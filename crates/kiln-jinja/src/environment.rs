//! The Jinja environment of a project: its macros, its packages' macros, Kiln's built-ins, and
//! dbt's global functions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_core::{Diagnostic, Diagnostics, Location, diagnostic::DiagnosticSink};
use kiln_project::Project;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde_json::Value as Json;

use crate::builtins::{self, AdapterObject, Api, Exceptions, LogFn, LogLine, LogSink, VarFn, Vars};
use crate::context::NodeContext;
use crate::error::to_diagnostic;
use crate::macro_file::{self, BlockKind};
use crate::macros::{
    self, BUILTIN_PACKAGE, MacroDef, MacroFn, MacroRegistry, Namespace, TEMPLATE_SEPARATOR,
};

const BUILTIN_MACROS: &str = include_str!("builtin_macros.sql");

/// What the environment needs besides the project.
#[derive(Debug, Clone)]
pub struct EnvOptions {
    /// `target` in Jinja (the profile's target, without its password).
    pub target: Json,
    /// `--vars`.
    pub cli_vars: BTreeMap<String, Json>,
    /// `flags` in Jinja (`FULL_REFRESH`, `WHICH`...).
    pub flags: Json,
    pub invocation_id: String,
    pub run_started_at: String,
}

/// A project's Jinja environment, shared by every render (it is `Sync`).
pub struct JinjaEnv {
    env: Environment<'static>,
    /// The same environment for the parse render, where dbt is lenient: an attribute of an
    /// undefined value is undefined (and a call of an unknown function is
    /// [`builtins::Unresolved`]); the error comes when the node is compiled, for that node only.
    parse_env: Environment<'static>,
    registry: Arc<MacroRegistry>,
    logs: LogSink,
    /// dbt's `graph`, filled in after the parse ([`JinjaEnv::set_graph`]).
    graph: Arc<crate::graph::GraphGlobal>,
    /// Whether a macro mentions `graph` (then the parse fills it in).
    macros_mention_graph: bool,
    /// Whether a macro reads `model`'s documented properties (see [`reads_model_properties`]).
    macros_read_model_properties: bool,
}

/// Whether `text` reads more of `model` than its name and relation (`model.columns`,
/// `model.description`...): only then do renders pay for building them.
pub fn reads_model_properties(text: &str) -> bool {
    const READS: &[&str] = &[
        "model.columns",
        "model.description",
        "model.tags",
        "model.meta",
        "model.path",
        "model.patch_path",
        "model.version",
        "model.latest_version",
        "model.language",
        "model[",
        "model.get(",
        "model.items(",
        "model.keys(",
        "model |",
        "model|",
    ];
    READS.iter().any(|needle| text.contains(needle))
}

impl JinjaEnv {
    /// Registers every macro of the project and its packages. Returns the environment and the
    /// warnings found, or every error found.
    pub fn new(
        project: &Project,
        options: EnvOptions,
    ) -> Result<(JinjaEnv, Vec<Diagnostic>), Diagnostics> {
        let adapter_type = options
            .target
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or("postgres")
            .to_owned();
        let mut env = Environment::new();
        // Jinja2's default `Undefined`, which dbt renders with: an undefined name prints as
        // nothing and iterates as an empty loop; an attribute, item or call on it is an error.
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        // Kiln renders SQL: never escape output, whatever the template's file extension (by
        // default MiniJinja JSON-escapes templates named `*.yml`, like generic tests).
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_debug(true);
        env.set_recursion_limit(500);
        env.set_unknown_method_callback(builtins::unknown_method);
        env.set_unknown_function_callback(builtins::unknown_function);
        crate::python_filters::register(&mut env);
        let mut sink = DiagnosticSink::default();
        let mut registry = MacroRegistry::new(
            project.name(),
            project.file().dispatch.clone(),
            &adapter_type,
        );

        let builtin_file = PathBuf::from("<kiln builtins>");
        let mut sources = vec![(
            BUILTIN_PACKAGE.to_owned(),
            builtin_file,
            BUILTIN_MACROS.to_owned(),
        )];
        for package in &project.packages {
            for file in &package.macros {
                sources.push((
                    package.name.clone(),
                    file.display.clone(),
                    file.text.clone(),
                ));
            }
        }
        let mut macros_mention_graph = false;
        let mut macros_read_model_properties = false;
        for (package, file, text) in sources {
            macros_mention_graph |= text.contains("graph");
            macros_read_model_properties |= reads_model_properties(&text);
            register_file(&mut env, &mut registry, &package, &file, &text, &mut sink);
        }
        let graph = Arc::new(crate::graph::GraphGlobal::default());
        env.add_global("graph", Value::from_dyn_object(graph.clone()));

        let registry = Arc::new(registry);
        let logs: LogSink = Arc::default();
        let vars = Vars {
            cli: options.cli_vars.clone(),
            root_package: project.name().to_owned(),
            project: project
                .packages
                .iter()
                .map(|p| (p.name.clone(), p.file.vars.clone()))
                .collect(),
        };
        add_globals(
            &mut env,
            &registry,
            &logs,
            vars,
            &adapter_type,
            project,
            &options,
        );
        let warnings = sink.finish()?;
        let mut parse_env = env.clone();
        parse_env.set_undefined_behavior(UndefinedBehavior::Chainable);
        Ok((
            JinjaEnv {
                env,
                parse_env,
                registry,
                logs,
                graph,
                macros_mention_graph,
                macros_read_model_properties,
            },
            warnings,
        ))
    }

    /// Whether any macro reads `model`'s documented properties.
    pub fn macros_read_model_properties(&self) -> bool {
        self.macros_read_model_properties
    }

    /// Whether any macro mentions `graph`: building it costs a serialization of every node,
    /// done only when a template may read it.
    pub fn macros_mention_graph(&self) -> bool {
        self.macros_mention_graph
    }

    /// Fills in dbt's `graph` (`nodes`, `sources`, `macros`...) for the renders after the parse.
    pub fn set_graph(&self, graph: serde_json::Value) {
        self.graph.set(crate::to_value(graph));
    }

    pub fn registry(&self) -> &MacroRegistry {
        &self.registry
    }

    /// The text of a macro (its template's source), for the manifest's `macro_sql`.
    pub fn macro_source(&self, def: &crate::macros::MacroDef) -> Option<String> {
        self.env
            .get_template(&def.template)
            .ok()
            .map(|t| t.source().to_owned())
    }

    /// Whether the root project (or a package) overrides a built-in macro such as
    /// `generate_schema_name`.
    pub fn is_overridden(&self, name: &str) -> bool {
        self.registry
            .packages()
            .any(|p| p != BUILTIN_PACKAGE && self.registry.get(p, name).is_some())
    }

    /// The macro of a materialization that is not Kiln's own, as dbt finds it: the root
    /// project's, then the packages' (by name), then the built-ins; in each, the adapter's
    /// (`materialization_<name>_postgres`) before `materialization_<name>_default`.
    pub fn materialization_macro(&self, name: &str) -> Option<&Arc<MacroDef>> {
        let root = self.registry.root();
        let packages = std::iter::once(root).chain(
            self.registry
                .packages()
                .filter(|p| *p != root && *p != BUILTIN_PACKAGE),
        );
        let adapter = self.registry.adapter_type();
        packages.chain([BUILTIN_PACKAGE]).find_map(|package| {
            [adapter, "default"].into_iter().find_map(|suffix| {
                self.registry
                    .get(package, &format!("materialization_{name}_{suffix}"))
            })
        })
    }

    /// The names of the materializations that macros define (`{% materialization name %}`).
    pub fn materialization_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .registry
            .names()
            .filter_map(|name| name.strip_prefix("materialization_")?.rsplit_once('_'))
            .map(|(name, _adapter)| name)
            .collect();
        names.dedup();
        names
    }

    /// Whether a macro of this name exists anywhere: a built-in, the project or a package.
    pub fn has_macro(&self, name: &str) -> bool {
        self.registry
            .packages()
            .any(|p| self.registry.get(p, name).is_some())
    }

    /// Renders a node's SQL. `name` is the file's project-relative path, used in errors.
    pub fn render(
        &self,
        name: &str,
        source: &str,
        context: Arc<NodeContext>,
    ) -> Result<String, Diagnostic> {
        let env = match context.phase {
            crate::Phase::Parse => &self.parse_env,
            _ => &self.env,
        };
        env.render_named_str(name, source, Value::from_dyn_object(context))
            .map_err(|error| self.diagnostic(&error))
    }

    /// A template error as a diagnostic, with the closest macro name for an unknown one.
    fn diagnostic(&self, error: &minijinja::Error) -> Diagnostic {
        let diagnostic = to_diagnostic(error);
        let inner = crate::error::innermost(error);
        if inner.kind() != minijinja::ErrorKind::UnknownFunction {
            return diagnostic;
        }
        let Some(name) = crate::error::unknown_name(inner) else {
            return diagnostic;
        };
        match kiln_core::diagnostic::closest(name, self.registry.names()) {
            Some(known) => diagnostic.help(format!("did you mean `{known}`?")),
            None => diagnostic.help("define it in a .sql file under the macro paths"),
        }
    }

    /// Calls a macro by name with plain arguments, as `{{ name(args...) }}` would, in the
    /// context of `context` if given. Used for `generate_schema_name` and friends.
    pub fn call_macro(
        &self,
        name: &str,
        args: Vec<Value>,
        context: Option<Arc<NodeContext>>,
    ) -> Result<String, Diagnostic> {
        let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
        let mut call_args = Vec::new();
        for (i, arg) in args.into_iter().enumerate() {
            let key = format!("__arg{i}");
            call_args.push(key.clone());
            ctx.insert(key, arg);
        }
        if let Some(context) = context {
            ctx.insert("__kiln".to_owned(), Value::from_dyn_object(context));
        }
        let source = format!("{{{{ {name}({}) }}}}", call_args.join(", "));
        self.env
            .render_named_str("<kiln>", &source, Value::from(ctx))
            .map(|s| s.trim().to_owned())
            .map_err(|error| self.diagnostic(&error))
    }

    /// Takes the lines `log()` and `exceptions.warn()` produced so far.
    pub fn take_logs(&self) -> Vec<LogLine> {
        self.logs.take()
    }

    /// From now on, hands every log line to `listener` as it happens (lines kept so far stay
    /// for [`JinjaEnv::take_logs`]).
    pub fn on_log(&self, listener: builtins::LogListener) {
        self.logs.set_listener(listener);
    }
}

fn register_file(
    env: &mut Environment<'static>,
    registry: &mut MacroRegistry,
    package: &str,
    file: &Path,
    text: &str,
    sink: &mut DiagnosticSink,
) {
    let macros = match macro_file::split(file, text) {
        Ok(macros) => macros,
        Err(error) => {
            sink.push(error);
            return;
        }
    };
    for source in macros {
        let name = match source.kind {
            BlockKind::Macro => source.name.clone(),
            BlockKind::Test => format!("test_{}", source.name),
            BlockKind::Materialization => {
                // `materialization_<name>_<adapter>`; adapter names have no `_`.
                let materialized = source
                    .name
                    .strip_prefix("materialization_")
                    .and_then(|rest| rest.rsplit_once('_'))
                    .map_or("", |(name, _adapter)| name);
                let own = kiln_core::Materialization::NAMES
                    .iter()
                    .find(|own| **own == materialized);
                match own {
                    Some(own) if package != BUILTIN_PACKAGE => {
                        sink.push(
                            Diagnostic::warning(format!(
                                "materialization `{own}` is ignored: Kiln builds `{own}` \
                                 models itself"
                            ))
                            .at(Location::new(file, source.line)),
                        );
                        continue;
                    }
                    _ => source.name.clone(),
                }
            }
        };
        let template = format!("{}{TEMPLATE_SEPARATOR}{name}", file.display());
        if let Err(error) = env.add_template_owned(template.clone(), source.template) {
            sink.push(to_diagnostic(&error));
            continue;
        }
        let def = MacroDef {
            package: package.to_owned(),
            name: name.clone(),
            template,
            file: file.to_path_buf(),
            line: source.line,
        };
        if let Some(previous) = registry.insert(def) {
            sink.push(
                Diagnostic::error(format!(
                    "macro `{name}` is defined twice in package `{package}`"
                ))
                .at(Location::new(file, source.line))
                .note(format!(
                    "first defined at {}:{}",
                    previous.file.display(),
                    previous.line
                ))
                .help("rename or remove one of them"),
            );
        }
    }
}

fn add_globals(
    env: &mut Environment<'static>,
    registry: &Arc<MacroRegistry>,
    logs: &LogSink,
    vars: Vars,
    adapter_type: &str,
    project: &Project,
    options: &EnvOptions,
) {
    env.add_function("ref", builtins::ref_);
    env.add_function("source", builtins::source);
    env.add_function("is_incremental", builtins::is_incremental);
    kiln_project::env::add_env_functions(env);
    env.add_function("env_var", builtins::env_var);
    env.add_function("return", macros::return_);
    env.add_function("run_query", builtins::run_query);
    env.add_global("statement", Value::from_object(builtins::StatementFn));
    env.add_function("load_result", builtins::load_result);
    env.add_function("render", builtins::render);
    env.add_function("store_raw_result", builtins::store_raw_result);
    env.add_function("fromjson", builtins::fromjson);
    env.add_function("tojson", builtins::tojson);
    env.add_function("fromyaml", builtins::fromyaml);
    env.add_function("zip", builtins::zip);
    env.add_function("set", builtins::set);
    env.add_function("set_strict", builtins::set_strict);
    env.add_function("zip_strict", builtins::zip_strict);
    env.add_global("var", Value::from_object(VarFn(Arc::new(vars))));
    env.add_global("log", Value::from_object(LogFn(logs.clone())));
    env.add_global("exceptions", Value::from_object(Exceptions(logs.clone())));
    env.add_global(
        "adapter",
        Value::from_object(AdapterObject {
            registry: registry.clone(),
            adapter_type: adapter_type.to_owned(),
        }),
    );
    env.add_global("api", Value::from_object(Api));
    env.add_global("target", crate::to_value(&options.target));
    env.add_global("flags", crate::to_value(&options.flags));
    // dbt's `invocation_args_dict` (the command's arguments, as packages that record runs read
    // them) and `dbt_metadata_envs` (`DBT_ENV_CUSTOM_ENV_*` variables, prefix removed).
    let command: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, arg)| match i {
            0 => "kiln".to_owned(),
            _ => arg,
        })
        .collect();
    let flag = |key: &str| options.flags.get(key).cloned().unwrap_or_default();
    env.add_global(
        "invocation_args_dict",
        crate::to_value(serde_json::json!({
            "which": flag("WHICH"),
            "invocation_command": command.join(" "),
            "full_refresh": flag("FULL_REFRESH"),
            "store_failures": flag("STORE_FAILURES"),
            "vars": options.cli_vars,
        })),
    );
    let metadata_envs: BTreeMap<String, String> = std::env::vars()
        .filter_map(|(key, value)| {
            key.strip_prefix("DBT_ENV_CUSTOM_ENV_")
                .map(|name| (name.to_owned(), value))
        })
        .collect();
    env.add_global("dbt_metadata_envs", crate::to_value(&metadata_envs));
    env.add_global("project_name", Value::from(project.name().to_owned()));
    env.add_global("dbt_version", Value::from(kiln_core::DBT_VERSION));
    env.add_global("kiln_version", Value::from(env!("CARGO_PKG_VERSION")));
    env.add_global("invocation_id", Value::from(options.invocation_id.clone()));
    env.add_global(
        "run_started_at",
        crate::modules::run_started_at(&options.run_started_at),
    );
    env.add_global("modules", Value::from_object(crate::modules::Modules));
    env.add_global("context", Value::from_object(crate::graph::ContextObject));
    env.add_function("local_md5", builtins::local_md5);
    env.add_function("toyaml", builtins::toyaml);
    env.add_function("print", builtins::print);
    env.add_global("selected_resources", Value::from(Vec::<Value>::new()));
    let mut builtin_functions = BTreeMap::new();
    // `builtins.ref.config`: dbt's RuntimeConfig, which packages read the project's name,
    // its packages' versions and the command's vars from.
    let runtime_config = serde_json::json!({
        "project_name": project.name(),
        "version": project.root_package().file.version,
        "profile_name": project.root_package().file.profile,
        "target_name": options.target.get("name"),
        "vars": project.root_package().file.vars,
        "cli_vars": options.cli_vars,
        "args": {"which": options.flags.get("WHICH"), "vars": options.cli_vars},
        "dependencies": project
            .packages
            .iter()
            .filter(|p| !p.is_root)
            .map(|p| (p.name.clone(), serde_json::json!({
                "project_name": p.name,
                "version": p.file.version,
            })))
            .collect::<serde_json::Map<String, Json>>(),
    });
    builtin_functions.insert(
        "ref",
        Value::from_object(builtins::RefBuiltin {
            config: crate::to_value(runtime_config),
        }),
    );
    builtin_functions.insert("source", Value::from_function(builtins::source));
    builtin_functions.insert("config", Value::from_function(builtins::config_via_context));
    env.add_global("builtins", Value::from(builtin_functions));
    // Macros last, so that a project macro can shadow a function (dbt allows overriding `ref`).
    for name in registry.names() {
        env.add_global(
            name.to_owned(),
            Value::from_object(MacroFn {
                name: name.to_owned(),
                registry: registry.clone(),
            }),
        );
    }
    // dbt's macros that are Kiln functions, reachable as `dbt.<name>`.
    let functions: BTreeMap<&'static str, Value> = [
        ("run_query", Value::from_function(builtins::run_query)),
        ("statement", Value::from_object(builtins::StatementFn)),
        (
            "is_incremental",
            Value::from_function(builtins::is_incremental),
        ),
        ("load_result", Value::from_function(builtins::load_result)),
    ]
    .into_iter()
    .collect();
    for package in registry.packages() {
        let functions = match package == BUILTIN_PACKAGE {
            true => functions.clone(),
            false => BTreeMap::new(),
        };
        env.add_global(
            package.to_owned(),
            Value::from_object(Namespace {
                package: package.to_owned(),
                registry: registry.clone(),
                functions,
            }),
        );
    }
}
