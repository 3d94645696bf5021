//! The entries of `packages.yml` / `dependencies.yml` and of `package-lock.yml`, read as dbt
//! reads them (`dbt.contracts.project.PackageSpec`), and the hash dbt writes into the lock file
//! to tell whether the packages file changed since.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::yaml::{Node, Value};
use kiln_core::diagnostic::{Diagnostic, Location, closest};

/// Where a package comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory, relative to the root project.
    Local { path: String },
    /// A git repository at a revision (a tag, a branch, a commit; none means the default
    /// branch), optionally a subdirectory of it.
    Git {
        url: String,
        revision: Option<String>,
        subdirectory: Option<String>,
        warn_unpinned: bool,
    },
    /// A package of the dbt package hub, `namespace/name`, with version conditions that must
    /// all hold.
    Hub {
        package: String,
        versions: Vec<String>,
        install_prerelease: bool,
    },
    /// A `.tar.gz` at a URL.
    Tarball { url: String },
}

/// One entry of a packages or lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    pub source: Source,
    /// The `name:` written in the entry (required for tarballs; lock files write it always).
    pub name: Option<String>,
    pub location: Location,
    /// The `git:` or `tarball:` URL as written, before `env_var()` is rendered: what the lock
    /// file records, so that a token read from the environment is not written into it.
    pub raw_url: Option<String>,
    /// The entry as dbt's `PackageSpec.to_dict()` serializes it, for the lock file's hash.
    dbt_json: String,
}

impl PackageSpec {
    /// What the entry asks for, for messages: `dbt-labs/dbt_utils [">=1.0.0", "<2.0.0"]`.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Local { path } => format!("local package {path}"),
            Source::Git {
                url,
                revision,
                subdirectory,
                ..
            } => {
                let mut text = format!("git package {url}");
                if let Some(sub) = subdirectory {
                    let _ = write!(text, " (subdirectory {sub})");
                }
                if let Some(revision) = revision {
                    let _ = write!(text, " at {revision}");
                }
                text
            }
            Source::Hub {
                package, versions, ..
            } => format!("{package} {}", versions.join(", ")),
            Source::Tarball { url } => format!("tarball {url}"),
        }
    }
}

const LOCAL_KEYS: &[&str] = &["local", "name"];
const GIT_KEYS: &[&str] = &["git", "revision", "warn-unpinned", "subdirectory", "name"];
const HUB_KEYS: &[&str] = &["package", "version", "install_prerelease", "name"];
const TARBALL_KEYS: &[&str] = &["tarball", "name"];

/// Reads one entry. `rendered` has had its `env_var()`s rendered; `raw` is the entry as written
/// (dbt hashes both).
pub fn parse_entry(rendered: &Node, raw: &Node, file: &Path) -> Result<PackageSpec, Diagnostic> {
    let location = Location::new(file, rendered.line);
    let fail = |message: String| Diagnostic::error(message).at(location.clone());
    let Some(entries) = rendered.as_map() else {
        return Err(fail(
            "a package entry must be a mapping such as `- package: dbt-labs/dbt_utils`".into(),
        ));
    };
    let string = |key: &str| -> Result<Option<String>, Diagnostic> {
        match rendered.get(key).map(|n| &n.value) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Int(i)) => Ok(Some(i.to_string())),
            Some(Value::Float(f)) => Ok(Some(python_float(*f))),
            Some(_) => Err(fail(format!("`{key}` must be a string"))),
        }
    };
    let required = |key: &str, kind: &str| -> Result<String, Diagnostic> {
        match string(key)? {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(fail(format!(
                "a {kind} package is missing the value of `{key}`, which is required"
            ))),
        }
    };
    let (source, known) = if rendered.get("local").is_some() {
        let path = required("local", "local")?;
        (Source::Local { path }, LOCAL_KEYS)
    } else if rendered.get("git").is_some() {
        let warn_unpinned = match rendered.get("warn-unpinned").map(|n| &n.value) {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(fail("`warn-unpinned` must be true or false".into())),
        };
        let source = Source::Git {
            url: required("git", "git")?,
            revision: string("revision")?,
            subdirectory: string("subdirectory")?,
            warn_unpinned,
        };
        (source, GIT_KEYS)
    } else if rendered.get("package").is_some() {
        let package = required("package", "hub")?;
        if !package.contains('/') {
            return Err(fail(format!(
                "{package} was not found in the package index: packages on the index need a namespace, e.g. dbt-labs/dbt_utils"
            )));
        }
        let versions = match rendered.get("version").map(|n| &n.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .map(|item| match &item.value {
                    Value::String(s) => Ok(s.clone()),
                    Value::Int(i) => Ok(i.to_string()),
                    Value::Float(f) => Ok(python_float(*f)),
                    _ => Err(fail(
                        "each `version` must be a string such as \">=1.0.0\"".into(),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::String(s)) if !s.trim().is_empty() => {
                // Kiln also reads ">=1.0.0, <2.0.0" in one string (dbt refuses it).
                s.split(',').map(|part| part.trim().to_owned()).collect()
            }
            Some(Value::Int(i)) => vec![i.to_string()],
            Some(Value::Float(f)) => vec![python_float(*f)],
            _ => {
                return Err(fail(format!(
                    "{package} is missing the version: when installing from the package hub, `version` is required"
                )));
            }
        };
        let install_prerelease = matches!(
            rendered.get("install_prerelease").map(|n| &n.value),
            Some(Value::Bool(true))
        );
        let source = Source::Hub {
            package,
            versions,
            install_prerelease,
        };
        (source, HUB_KEYS)
    } else if rendered.get("tarball").is_some() {
        let url = required("tarball", "tarball")?;
        if string("name")?.is_none() {
            return Err(fail(
                "a tarball package needs a `name`: the directory it installs into".into(),
            ));
        }
        (Source::Tarball { url }, TARBALL_KEYS)
    } else if rendered.get("private").is_some() {
        return Err(fail(
            "`private:` packages need dbt Cloud's git provider integration; use `git:` with the repository's URL".into(),
        ));
    } else {
        return Err(fail(
            "a package entry needs one of `package:` (package hub), `git:`, `local:` or `tarball:`"
                .into(),
        ));
    };
    for (key, _) in entries {
        let key_text = key.key_string();
        if !known.contains(&key_text.as_str()) {
            let mut error = Diagnostic::error(format!(
                "unknown key `{key_text}` in this package entry (known: {})",
                known.join(", ")
            ))
            .at(Location::new(file, key.line));
            if let Some(close) = closest(&key_text, known.iter().copied()) {
                error = error.help(format!("did you mean `{close}`?"));
            }
            return Err(error);
        }
    }
    let name = string("name")?;
    let dbt_json = dbt_json(&source, rendered, raw);
    let raw_url = ["git", "tarball"]
        .iter()
        .find_map(|key| raw.get(key).and_then(Node::as_str).map(str::to_owned));
    Ok(PackageSpec {
        source,
        name,
        location,
        raw_url,
        dbt_json,
    })
}

/// The entry as dbt's `to_dict()` writes it: the fields of its kind (a git entry's optional
/// fields as null), `name` when given, and the entry as written under `unrendered`.
fn dbt_json(source: &Source, rendered: &Node, raw: &Node) -> String {
    let field = |key: &str| {
        rendered.get(key).cloned().unwrap_or(Node {
            line: 0,
            value: Value::Null,
        })
    };
    let mut fields: Vec<(&str, Node)> = Vec::new();
    match source {
        Source::Local { .. } => fields.push(("local", field("local"))),
        Source::Tarball { .. } => fields.push(("tarball", field("tarball"))),
        Source::Git { .. } => {
            for key in ["git", "revision", "subdirectory", "warn-unpinned"] {
                fields.push((key, field(key)));
            }
        }
        Source::Hub { .. } => {
            fields.push(("package", field("package")));
            fields.push(("version", field("version")));
            let prerelease = rendered.get("install_prerelease").cloned().unwrap_or(Node {
                line: 0,
                value: Value::Bool(false),
            });
            fields.push(("install_prerelease", prerelease));
        }
    }
    if rendered.get("name").is_some_and(|n| n.value != Value::Null) {
        fields.push(("name", field("name")));
    }
    fields.push(("unrendered", raw.clone()));
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        python_json_string(key, &mut out);
        out.push_str(": ");
        python_json(value, &mut out);
    }
    out.push('}');
    out
}

/// dbt's `sha1_hash` of a project's packages: the SHA-1 of the sorted JSON of every entry.
pub fn packages_hash(specs: &[PackageSpec]) -> String {
    let mut lines: Vec<&str> = specs.iter().map(|s| s.dbt_json.as_str()).collect();
    lines.sort_unstable();
    let digest = Sha1::digest(lines.join("\n").as_bytes());
    digest.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// A value as Python's `json.dumps(value, sort_keys=True)` writes it.
fn python_json(node: &Node, out: &mut String) {
    match &node.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&python_float(*f)),
        Value::String(s) => python_json_string(s, out),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_json(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let mut sorted: Vec<(String, &Node)> =
                entries.iter().map(|(k, v)| (k.key_string(), v)).collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (key, value)) in sorted.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_json_string(key, out);
                out.push_str(": ");
                python_json(value, out);
            }
            out.push('}');
        }
    }
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii`: non-ASCII as `\uXXXX`).
fn python_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A float as Python's `repr` writes it: `1.0`, `1.25`.
fn python_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// The path of a `local:` package, resolved as dbt resolves it: against the root project.
pub fn local_dir(root: &Path, path: &str) -> PathBuf {
    root.join(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn specs(text: &str) -> Vec<PackageSpec> {
        let file = Path::new("packages.yml");
        let node = yaml::parse(file, text).unwrap_or_else(|e| panic!("{e:?}"));
        let items = node
            .get("packages")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        items
            .iter()
            .map(|item| parse_entry(item, item, file).unwrap_or_else(|e| panic!("{e:?}")))
            .collect()
    }

    /// The hashes were computed by dbt-core 1.11.16's `dbt.task.deps._create_sha1_hash` over
    /// `package_config_from_data` of the same text (what `dbt deps` writes as `sha1_hash`).
    #[test]
    fn the_hash_is_the_one_dbt_writes_into_the_lock_file() {
        let text = "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  - git: https://github.com/dbt-labs/dbt-codegen.git\n    revision: 0.12.1\n  - local: ../common\n";
        assert_eq!(
            packages_hash(&specs(text)),
            "539c1d52761cfe1298e6b9290b4c7fe513b579fe"
        );
        let text = "packages:\n  - git: https://example.com/x.git\n    subdirectory: pkg\n    warn-unpinned: false\n    name: x\n  - package: calogica/dbt_date\n    version: 0.10.1\n    install_prerelease: true\n  - tarball: https://example.com/é.tgz\n    name: t\n";
        assert_eq!(
            packages_hash(&specs(text)),
            "de5ffb6e52f729b14a178fe4e6a11e7ab5f02d4f"
        );
    }

    #[test]
    fn entries_are_checked_as_dbt_checks_them() {
        let file = Path::new("packages.yml");
        let fails = |entry: &str| {
            let node = yaml::parse(file, entry).unwrap_or_else(|e| panic!("{e:?}"));
            match parse_entry(&node, &node, file) {
                Ok(spec) => panic!("accepted: {spec:?}"),
                Err(error) => error.message,
            }
        };
        assert!(fails("package: dbt_utils\nversion: 1.0.0").contains("namespace"));
        assert!(fails("package: dbt-labs/dbt_utils").contains("missing the version"));
        assert!(fails("git: ''").contains("missing the value"));
        assert!(fails("tarball: https://x/y.tgz").contains("needs a `name`"));
        assert!(fails("local: ../x\nrevision: main").contains("unknown key `revision`"));
        assert!(fails("pakage: dbt-labs/dbt_utils").contains("needs one of"));
    }
}
