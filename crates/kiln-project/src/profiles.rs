//! `profiles.yml`: where the warehouse is. Looked up in `--profiles-dir`, `$KILN_PROFILES_DIR`,
//! `$DBT_PROFILES_DIR`, the project directory, `~/.kiln/`, then `~/.dbt/`; values are rendered
//! with `env_var()`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;

use crate::env::render_env_vars;
use crate::yaml;
use kiln_core::diagnostic::{Diagnostic, Location, closest, relative_to};

/// A password or other secret: never printed, never serialized.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"****\"")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Secret(string_or_number(deserializer)?))
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Json::deserialize(deserializer)? {
        Json::String(s) => Ok(s),
        Json::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string, found {other}"
        ))),
    }
}

fn number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    match Option::<Json>::deserialize(deserializer)? {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, found {n}"))),
        Some(Json::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!("expected a whole number, found `{s}`"))
            })
        }
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a whole number, found {other}"
        ))),
    }
}

const TARGET_KEYS: &[&str] = &[
    "type",
    "host",
    "port",
    "user",
    "username",
    "pass",
    "password",
    "dbname",
    "database",
    "schema",
    "threads",
    "sslmode",
    "connect_timeout",
    "keepalives_idle",
    "search_path",
    "statement_timeout",
    "role",
    "managed",
    "data_dir",
    "retries",
    "application_name",
    "sslcert",
    "sslkey",
    "sslrootcert",
];

/// One output (target) of a profile.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub host: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub port: Option<u32>,
    #[serde(alias = "username")]
    pub user: Option<String>,
    #[serde(alias = "pass")]
    pub password: Option<Secret>,
    #[serde(alias = "database")]
    pub dbname: Option<String>,
    pub schema: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub threads: Option<u32>,
    /// Kiln runs its own PostgreSQL instance under the target path.
    #[serde(default)]
    pub managed: bool,
    /// Where the managed instance keeps its data (default `<target-path>/postgres`).
    pub data_dir: Option<String>,
    /// Everything else (sslmode, connect_timeout, keepalives_idle, search_path, role...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

/// The profile and target a command runs against.
#[derive(Debug, Clone)]
pub struct Profile {
    pub profile_name: String,
    pub target_name: String,
    pub target: Target,
    /// The profiles.yml it came from.
    pub file: PathBuf,
}

impl Profile {
    pub fn schema(&self) -> &str {
        self.target.schema.as_deref().unwrap_or("public")
    }

    /// The database models are built in: `dbname`, or `kiln` on the managed local instance.
    pub fn database(&self) -> &str {
        self.target
            .dbname
            .as_deref()
            .unwrap_or(if self.target.managed {
                "kiln"
            } else {
                "postgres"
            })
    }

    pub fn threads(&self) -> u32 {
        self.target.threads.unwrap_or(4).max(1)
    }

    /// The `target` variable of Jinja: everything but the password.
    pub fn target_json(&self) -> Json {
        let t = &self.target;
        let mut map = serde_json::Map::new();
        for (key, value) in &t.extra {
            map.insert(key.clone(), value.clone());
        }
        let mut set = |key: &str, value: Json| {
            map.insert(key.to_owned(), value);
        };
        set("name", Json::from(self.target_name.clone()));
        set("target_name", Json::from(self.target_name.clone()));
        set("profile_name", Json::from(self.profile_name.clone()));
        set("type", Json::from(t.kind.clone()));
        set("schema", Json::from(self.schema()));
        set("database", Json::from(self.database()));
        set("dbname", Json::from(self.database()));
        set("threads", Json::from(self.threads()));
        set("host", t.host.clone().map_or(Json::Null, Json::from));
        set("port", t.port.map_or(Json::Null, Json::from));
        set("user", t.user.clone().map_or(Json::Null, Json::from));
        set("managed", Json::from(t.managed));
        map.remove("password");
        map.remove("pass");
        Json::Object(map)
    }
}

#[derive(Debug, Deserialize)]
struct RawProfile {
    target: Option<String>,
    #[serde(default)]
    outputs: BTreeMap<String, Json>,
}

/// Where profiles.yml is searched for, in order.
pub fn search_dirs(profiles_dir: Option<&Path>, project_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = profiles_dir {
        dirs.push(dir.to_path_buf());
        return dirs;
    }
    for var in ["KILN_PROFILES_DIR", "DBT_PROFILES_DIR"] {
        if let Some(dir) = std::env::var_os(var) {
            dirs.push(PathBuf::from(dir));
        }
    }
    dirs.push(project_dir.to_path_buf());
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        dirs.push(home.join(".kiln"));
        dirs.push(home.join(".dbt"));
    }
    dirs
}

/// The first profiles.yml in `dirs`, if any.
pub fn find_file(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join("profiles.yml"))
        .find(|p| p.is_file())
}

/// Whether the profiles.yml at `path` has a profile `profile_name`. A file that cannot be read
/// or parsed counts as having it: loading it then says what is wrong.
pub fn defines_profile(path: &Path, profile_name: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return true;
    };
    yaml::parse(path, &text).map_or(true, |root| root.get(profile_name).is_some())
}

/// The profile a project gets when no profiles.yml exists anywhere: Kiln's own managed
/// PostgreSQL, target `dev`, schema `analytics` (what `kiln init` writes), so that a project
/// cloned without its profile parses, compiles and builds with nothing to set up.
pub fn managed_default(profile_name: &str) -> Profile {
    Profile {
        profile_name: profile_name.to_owned(),
        target_name: "dev".to_owned(),
        target: Target {
            kind: "postgres".to_owned(),
            host: None,
            port: None,
            user: None,
            password: None,
            dbname: None,
            schema: Some("analytics".to_owned()),
            threads: Some(4),
            managed: true,
            data_dir: None,
            extra: BTreeMap::new(),
        },
        file: PathBuf::new(),
    }
}

/// Loads `profile_name` from the first profiles.yml found, choosing `target` (or the profile's
/// default target). Paths in messages are relative to `project_root` when inside it.
pub fn load(
    dirs: &[PathBuf],
    project_root: &Path,
    profile_name: &str,
    target: Option<&str>,
) -> Result<Profile, Diagnostic> {
    let Some(path) = find_file(dirs) else {
        let looked: Vec<_> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(Diagnostic::error("no profiles.yml found")
            .note(format!("looked in: {}", looked.join(", ")))
            .help(format!(
                "create profiles.yml next to the project file with a `{profile_name}:` profile, or pass --profiles-dir"
            )));
    };
    let file = relative_to(&path, project_root);
    let text = std::fs::read_to_string(&path)
        .map_err(|error| Diagnostic::error(format!("cannot read {}: {error}", file.display())))?;
    let root = yaml::parse(&file, &text)?;
    let Some(profile_node) = root.get(profile_name) else {
        let names: Vec<String> = root
            .as_map()
            .unwrap_or_default()
            .iter()
            .map(|(k, _)| k.key_string())
            .filter(|k| k != "config")
            .collect();
        let mut error = Diagnostic::error(format!(
            "profile `{profile_name}` not found in {}",
            file.display()
        ))
        .at(Location::new(&file, 1));
        error = match closest(profile_name, names.iter().map(String::as_str)) {
            Some(name) => error.help(format!(
                "did you mean `{name}`? The project file's `profile:` names the profile"
            )),
            None => error.help(format!("profiles in this file: {}", names.join(", "))),
        };
        return Err(error);
    };
    let raw: RawProfile =
        profile_node.deserialize(&file, &["target", "outputs"], &mut Vec::new())?;
    // The profile's default target may come from the environment too.
    let mut default_target = profile_node.get("target").cloned();
    if let Some(node) = &mut default_target {
        let mut errors = Vec::new();
        render_env_vars(node, &file, &[], &mut errors);
        if let Some(error) = errors.into_iter().next() {
            return Err(error);
        }
    }
    let default_target = default_target
        .and_then(|n| n.as_str().map(str::to_owned))
        .or(raw.target);
    let target_name = target
        .map(str::to_owned)
        .or(default_target)
        .unwrap_or_else(|| "dev".to_owned());
    let Some(target_node) = profile_node
        .get("outputs")
        .and_then(|o| o.get(&target_name))
    else {
        let names: Vec<&str> = raw.outputs.keys().map(String::as_str).collect();
        let mut error = Diagnostic::error(format!(
            "target `{target_name}` not found in profile `{profile_name}`"
        ))
        .at(Location::new(&file, profile_node.line));
        error = match closest(&target_name, names.iter().copied()) {
            Some(name) => error.help(format!("did you mean `{name}`?")),
            None => error.help(format!("targets in this profile: {}", names.join(", "))),
        };
        return Err(error);
    };
    let mut target_node = target_node.clone();
    let mut errors = Vec::new();
    render_env_vars(&mut target_node, &file, &[], &mut errors);
    if let Some(error) = errors.into_iter().next() {
        return Err(error);
    }
    let mut target: Target = target_node.deserialize(&file, TARGET_KEYS, &mut Vec::new())?;
    duckdb_names(&mut target);
    Ok(Profile {
        profile_name: profile_name.to_owned(),
        target_name,
        target,
        file,
    })
}

/// A DuckDB target names its relations as dbt-duckdb does: the database is the file's stem
/// (`path: jaffle_shop.duckdb` is `jaffle_shop`, an in-memory one `memory`), the schema `main`.
/// Kiln runs on PostgreSQL, but a project written for DuckDB compiles to the same SQL.
fn duckdb_names(target: &mut Target) {
    if target.kind != "duckdb" {
        return;
    }
    if target.dbname.is_none() {
        let path = target
            .extra
            .get("path")
            .and_then(Json::as_str)
            .unwrap_or(":memory:");
        let stem = match path {
            ":memory:" | "" => "memory".to_owned(),
            path => Path::new(path)
                .file_stem()
                .map_or_else(|| "memory".to_owned(), |s| s.to_string_lossy().into_owned()),
        };
        target.dbname = Some(
            target
                .extra
                .get("database")
                .and_then(Json::as_str)
                .map_or(stem, str::to_owned),
        );
    }
    if target.schema.is_none() {
        target.schema = Some("main".to_owned());
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("****")
    }
}
