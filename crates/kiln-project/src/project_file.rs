//! `project.yml` / `dbt_project.yml`: the project's name, paths, vars and folder-level configs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::env::{YamlContext, render_yaml};
use crate::yaml::{self, Node};
use kiln_core::config::{CONFIG_KEYS, RawConfig};
use kiln_core::diagnostic::{Diagnostic, Location};

/// The project file names Kiln looks for, in order.
pub const PROJECT_FILE_NAMES: &[&str] = &["project.yml", "dbt_project.yml"];

const KNOWN_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "macro-paths",
    "seed-paths",
    "test-paths",
    "analysis-paths",
    "snapshot-paths",
    "docs-paths",
    "asset-paths",
    "target-path",
    "log-path",
    "packages-install-path",
    "clean-targets",
    "vars",
    "models",
    "seeds",
    "tests",
    "data_tests",
    "sources",
    "snapshots",
    "analyses",
    "on-run-start",
    "on-run-end",
    "dispatch",
    "require-dbt-version",
    "quoting",
    "query-comment",
    "flags",
    "restrict-access",
    "exposures",
    "metrics",
    "semantic-models",
    "saved-queries",
    "unit_tests",
];

/// The project file as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawProjectFile {
    name: String,
    version: Option<Json>,
    #[allow(dead_code)]
    config_version: Option<Json>,
    profile: Option<String>,
    model_paths: Option<Vec<String>>,
    macro_paths: Option<Vec<String>>,
    seed_paths: Option<Vec<String>>,
    test_paths: Option<Vec<String>>,
    analysis_paths: Option<Vec<String>>,
    snapshot_paths: Option<Vec<String>>,
    docs_paths: Option<Vec<String>>,
    #[allow(dead_code)]
    asset_paths: Option<Vec<String>>,
    target_path: Option<String>,
    #[allow(dead_code)]
    log_path: Option<String>,
    packages_install_path: Option<String>,
    clean_targets: Option<Vec<String>>,
    #[serde(default)]
    vars: BTreeMap<String, Json>,
    // Config trees are read from the YAML nodes directly, to keep their lines.
    #[allow(dead_code)]
    models: Option<Json>,
    #[allow(dead_code)]
    seeds: Option<Json>,
    #[allow(dead_code)]
    tests: Option<Json>,
    #[serde(rename = "data_tests")]
    #[allow(dead_code)]
    data_tests: Option<Json>,
    #[allow(dead_code)]
    sources: Option<Json>,
    #[allow(dead_code)]
    snapshots: Option<Json>,
    #[allow(dead_code)]
    analyses: Option<Json>,
    on_run_start: Option<OneOrMany>,
    on_run_end: Option<OneOrMany>,
    #[serde(default)]
    dispatch: Vec<DispatchConfig>,
    #[allow(dead_code)]
    require_dbt_version: Option<Json>,
    quoting: Option<Json>,
    #[allow(dead_code)]
    query_comment: Option<Json>,
    #[allow(dead_code)]
    flags: Option<Json>,
    #[allow(dead_code)]
    restrict_access: Option<Json>,
    #[allow(dead_code)]
    exposures: Option<Json>,
    #[allow(dead_code)]
    metrics: Option<Json>,
    #[allow(dead_code)]
    semantic_models: Option<Json>,
    #[allow(dead_code)]
    saved_queries: Option<Json>,
    #[serde(rename = "unit_tests")]
    #[allow(dead_code)]
    unit_tests: Option<Json>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `dispatch:` in the project file: where `adapter.dispatch(name, macro_namespace)` looks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DispatchConfig {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
}

/// A config set on a folder (or a single node) in the project file's `models:` tree.
#[derive(Debug, Clone)]
pub struct FolderConfig {
    /// The fqn prefix it applies to: package name, then folders, possibly a node name.
    pub path: Vec<String>,
    pub config: RawConfig,
    pub location: Location,
}

/// The project file, resolved: defaults filled in, config trees flattened.
#[derive(Debug, Clone)]
pub struct ProjectFile {
    /// Which file it was read from, relative to the project root.
    pub file: PathBuf,
    pub name: String,
    /// The project's `version:` as written (`1.0.0`), for `builtins.ref.config.dependencies`.
    pub version: Option<String>,
    pub profile: Option<String>,
    pub model_paths: Vec<String>,
    pub macro_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    pub test_paths: Vec<String>,
    pub analysis_paths: Vec<String>,
    pub snapshot_paths: Vec<String>,
    pub docs_paths: Option<Vec<String>>,
    pub target_path: String,
    pub packages_install_path: String,
    pub clean_targets: Vec<String>,
    pub vars: BTreeMap<String, Json>,
    /// `quoting:` (`{database, schema, identifier}`): which parts of relation names are quoted.
    pub quoting: Option<Json>,
    pub models: Vec<FolderConfig>,
    pub seeds: Vec<FolderConfig>,
    pub snapshots: Vec<FolderConfig>,
    /// The `analyses:` tree.
    pub analyses: Vec<FolderConfig>,
    pub tests: Vec<FolderConfig>,
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
    pub dispatch: Vec<DispatchConfig>,
}

/// Finds the project file in `dir`.
pub fn find(dir: &Path) -> Option<PathBuf> {
    PROJECT_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Reads a project file. `display` is the name used in messages.
pub fn load(
    path: &Path,
    display: &Path,
    context: &YamlContext,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ProjectFile, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        vec![Diagnostic::error(format!(
            "cannot read {}: {error}",
            display.display()
        ))]
    })?;
    let mut root = yaml::parse(display, &text).map_err(|d| vec![d])?;
    let mut errors = Vec::new();
    // dbt renders Jinja in the project file (`env_var()`, `var()` of --vars, `target`), except
    // in hooks and the query comment, which are rendered when they run, and in `vars:`, whose
    // values are rendered where `var()` reads them (`{{ run_started_at.astimezone(...) }}`).
    render_yaml(
        &mut root,
        display,
        &[
            "vars",
            "on-run-start",
            "on-run-end",
            "query-comment",
            "pre-hook",
            "post-hook",
            "+pre-hook",
            "+post-hook",
            "pre_hook",
            "post_hook",
            "+pre_hook",
            "+post_hook",
        ],
        context,
        &mut errors,
    );
    if root.as_map().is_none() {
        errors.push(
            Diagnostic::error("the project file must be a YAML mapping")
                .at(Location::new(display, root.line))
                .help("start it with `name: my_project`"),
        );
        return Err(errors);
    }
    let raw: RawProjectFile = match root.deserialize(display, KNOWN_KEYS, warnings) {
        Ok(raw) => raw,
        Err(error) => {
            errors.push(error);
            return Err(errors);
        }
    };
    if !is_identifier(&raw.name) {
        errors.push(
            Diagnostic::error(format!(
                "project name `{}` is not a valid identifier",
                raw.name
            ))
            .at(Location::new(
                display,
                root.get("name").map_or(0, |n| n.line),
            ))
            .help("use letters, digits and underscores, starting with a letter"),
        );
    }
    let mut tree = |key: &str| -> Vec<FolderConfig> {
        let mut out = Vec::new();
        if let Some(node) = root.get(key) {
            let line = root.key_node(key).map_or(node.line, |k| k.line);
            read_config_tree(node, line, display, &mut Vec::new(), &mut out, &mut errors);
        }
        out
    };
    let models = tree("models");
    let seeds = tree("seeds");
    let snapshots = tree("snapshots");
    let analyses = tree("analyses");
    let mut tests = tree("tests");
    tests.extend(tree("data_tests"));
    if !errors.is_empty() {
        return Err(errors);
    }
    let strings =
        |v: Option<Vec<String>>, default: &str| v.unwrap_or_else(|| vec![default.to_owned()]);
    Ok(ProjectFile {
        file: display.to_path_buf(),
        name: raw.name,
        version: raw.version.map(|v| match v {
            Json::String(text) => text,
            other => other.to_string(),
        }),
        profile: raw.profile,
        model_paths: strings(raw.model_paths, "models"),
        macro_paths: strings(raw.macro_paths, "macros"),
        seed_paths: strings(raw.seed_paths, "seeds"),
        test_paths: strings(raw.test_paths, "tests"),
        analysis_paths: strings(raw.analysis_paths, "analyses"),
        snapshot_paths: strings(raw.snapshot_paths, "snapshots"),
        docs_paths: raw.docs_paths,
        target_path: raw.target_path.unwrap_or_else(|| "target".to_owned()),
        packages_install_path: raw
            .packages_install_path
            .unwrap_or_else(|| "dbt_packages".to_owned()),
        clean_targets: raw.clean_targets.unwrap_or_default(),
        vars: raw.vars,
        quoting: raw.quoting,
        models,
        seeds,
        snapshots,
        analyses,
        tests,
        on_run_start: raw
            .on_run_start
            .map(OneOrMany::into_vec)
            .unwrap_or_default(),
        on_run_end: raw.on_run_end.map(OneOrMany::into_vec).unwrap_or_default(),
        dispatch: raw.dispatch,
    })
}

/// Flattens a `models:` tree. `+key` is always a config; a bare key is a config when it is a
/// config name Kiln knows, and otherwise a folder (or node) name.
fn read_config_tree(
    node: &Node,
    line: usize,
    file: &Path,
    path: &mut Vec<String>,
    out: &mut Vec<FolderConfig>,
    errors: &mut Vec<Diagnostic>,
) {
    let Some(entries) = node.as_map() else {
        if !matches!(node.value, yaml::Value::Null) {
            errors.push(
                Diagnostic::error(format!(
                    "expected a mapping of folders and `+config` keys under `{}`",
                    path.join(".")
                ))
                .at(Location::new(file, node.line)),
            );
        }
        return;
    };
    let mut config = serde_json::Map::new();
    for (key, value) in entries {
        let name = key.key_string();
        if let Some(config_key) = name.strip_prefix('+') {
            config.insert(config_key.to_owned(), value.to_json());
        } else if CONFIG_KEYS.contains(&name.as_str()) && value.as_map().is_none()
            || name == "meta" && value.as_map().is_some()
        {
            config.insert(name, value.to_json());
        } else {
            path.push(name);
            read_config_tree(value, key.line, file, path, out, errors);
            path.pop();
        }
    }
    if !config.is_empty() {
        match RawConfig::from_json(Json::Object(config)) {
            Ok(config) => out.push(FolderConfig {
                path: path.clone(),
                config,
                location: Location::new(file, line),
            }),
            Err(message) => {
                errors.push(Diagnostic::error(message.to_string()).at(Location::new(file, line)));
            }
        }
    }
}

/// Letters, digits and underscores, not starting with a digit.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<(ProjectFile, Vec<Diagnostic>), Vec<Diagnostic>> {
        load_text_with(text, &YamlContext::default())
    }

    fn load_text_with(
        text: &str,
        context: &YamlContext,
    ) -> Result<(ProjectFile, Vec<Diagnostic>), Vec<Diagnostic>> {
        let dir = std::env::temp_dir().join(format!("kiln-pf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.yml", text.len()));
        std::fs::write(&path, text).unwrap();
        let mut warnings = Vec::new();
        let result = load(&path, Path::new("project.yml"), context, &mut warnings);
        result.map(|p| (p, warnings))
    }

    #[test]
    fn configs_render_var_and_target_and_keep_their_type() {
        // dbt-labs/jaffle-shop: `+enabled: "{{ var('load_source_data', false) }}"`.
        let text = "name: shop\nprofile: shop\nseeds:\n  shop:\n    +enabled: \"{{ var('load', false) }}\"\n    +schema: \"raw_{{ target.name }}\"\nmodels:\n  shop:\n    +pre-hook: \"{{ var('never_rendered_here') }}\"\n";
        let context = YamlContext {
            target: Some(serde_json::json!({"name": "ci"})),
            ..YamlContext::default()
        };
        let (project, _) = load_text_with(text, &context).unwrap();
        assert_eq!(project.seeds[0].config.enabled, Some(false));
        assert_eq!(project.seeds[0].config.schema.as_deref(), Some("raw_ci"));
        let context = YamlContext {
            cli_vars: [("load".to_owned(), serde_json::json!(true))].into(),
            ..context
        };
        let (project, _) = load_text_with(text, &context).unwrap();
        assert_eq!(project.seeds[0].config.enabled, Some(true));
        // A var() without default and not given on the command line is an error at its line.
        let errors = load_text_with(
            "name: shop\nmodels:\n  shop:\n    +schema: \"{{ var('missing') }}\"\n",
            &YamlContext::default(),
        )
        .unwrap_err();
        assert!(
            errors[0].message.contains("required var `missing`"),
            "{errors:?}"
        );
        assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(4));
    }

    #[test]
    fn folder_configs_keep_their_path() {
        let (project, warnings) = load_text(
            "name: shop\nprofile: shop\nmodels:\n  shop:\n    +materialized: view\n    marts:\n      +materialized: table\n      +schema: analytics\n",
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let paths: Vec<_> = project.models.iter().map(|f| f.path.join(".")).collect();
        assert_eq!(paths, ["shop.marts", "shop"]);
        assert_eq!(
            project.models[0].config.schema.as_deref(),
            Some("analytics")
        );
        assert_eq!(project.models[0].location.line, 6);
    }

    #[test]
    fn defaults_are_dbts() {
        let (project, _) = load_text("name: shop\n").unwrap();
        assert_eq!(project.model_paths, ["models"]);
        assert_eq!(project.target_path, "target");
        assert_eq!(project.packages_install_path, "dbt_packages");
    }

    #[test]
    fn unknown_top_level_keys_warn() {
        let (_, warnings) = load_text("name: shop\nmodel-path: [models]\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].to_string().contains("model-paths"),
            "{}",
            warnings[0]
        );
    }
}
