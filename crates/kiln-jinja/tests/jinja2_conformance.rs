//! Differential tests of template semantics: every case of `tests/jinja2_cases/*.jinja` is
//! rendered by Jinja2 3.1 configured as dbt-core 1.11 configures it (`tests/jinja2_reference.py`,
//! one Python process for all cases) and by Kiln's environment; the outputs must be equal, byte
//! for byte, and where Jinja2 fails Kiln must fail too. A new case is a new `## name` block in a
//! case file; nothing here changes.
//!
//! The reference needs `python3` with Jinja2 3.1, PyYAML and pytz (`.ci/run` installs them);
//! `KILN_TEST_PYTHON` names another interpreter. A missing reference is a failure, not a skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kiln_core::{RawConfig, RefCall, Relation, SourceCall, UnknownName};
use kiln_jinja::{EnvOptions, JinjaEnv, NodeContext, NodeInfo, Phase, Resolver};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// The cases of every file, as `file::name` -> template (the same split as the reference's).
fn cases() -> BTreeMap<String, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(tests_dir().join("jinja2_cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jinja"))
        .collect();
    files.sort();
    let mut cases = BTreeMap::new();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut current: Option<(String, Vec<&str>)> = None;
        for line in text.split('\n') {
            if let Some(name) = line.strip_prefix("## ") {
                if let Some((name, lines)) = current.take() {
                    let key = format!("{stem}::{name}");
                    let body = lines.join("\n").trim_end_matches('\n').to_owned();
                    assert!(cases.insert(key.clone(), body).is_none(), "{key} twice");
                }
                current = Some((name.trim().to_owned(), Vec::new()));
            } else if let Some((_, lines)) = current.as_mut() {
                lines.push(line);
            }
        }
        if let Some((name, lines)) = current {
            let key = format!("{stem}::{name}");
            let body = lines.join("\n").trim_end_matches('\n').to_owned();
            assert!(cases.insert(key.clone(), body).is_none(), "{key} twice");
        }
    }
    cases
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Ok(String),
    Error(#[allow(dead_code)] String),
}

fn reference() -> BTreeMap<String, Expected> {
    let python = std::env::var("KILN_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .arg(tests_dir().join("jinja2_reference.py"))
        .arg(tests_dir().join("jinja2_cases"))
        .arg(tests_dir().join("jinja2_project/macros"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} for the Jinja2 reference: {e}"));
    assert!(
        output.status.success(),
        "the Jinja2 reference failed (python3 needs jinja2==3.1.6, pyyaml, pytz):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `ref` and `source` resolve to a fixed relation: the cases test templates, not projects.
struct FixedResolver;

impl Resolver for FixedResolver {
    fn resolve_ref(&self, _from: &NodeInfo, call: &RefCall) -> Result<Relation, UnknownName> {
        Ok(Relation::new("db", "analytics", &call.name))
    }

    fn resolve_source(&self, call: &SourceCall) -> Result<Relation, UnknownName> {
        Ok(Relation::new("db", &call.source, &call.table))
    }
}

fn kiln_env() -> JinjaEnv {
    let project = kiln_project::project::load(&tests_dir().join("jinja2_project")).unwrap();
    let options = EnvOptions {
        target: serde_json::json!({"name": "dev", "type": "postgres", "schema": "analytics"}),
        cli_vars: BTreeMap::new(),
        flags: serde_json::json!({}),
        invocation_id: "00000000-0000-0000-0000-000000000000".to_owned(),
        run_started_at: "2024-01-01T00:00:00Z".to_owned(),
    };
    JinjaEnv::new(&project, options).unwrap().0
}

fn render(env: &JinjaEnv, name: &str, source: &str) -> Result<String, String> {
    let info = NodeInfo {
        unique_id: "model.conformance.case".to_owned(),
        name: "case".to_owned(),
        package: "conformance".to_owned(),
        resource_type: "model".to_owned(),
        original_file_path: "models/case.sql".to_owned(),
        fqn: vec!["conformance".to_owned(), "case".to_owned()],
    };
    let context = NodeContext::new(
        Phase::Compile,
        info,
        Relation::new("db", "analytics", "case"),
        RawConfig::default(),
        serde_json::json!({}),
        Arc::new(FixedResolver),
    );
    env.render(name, source, Arc::new(context))
        .map_err(|d| d.to_string())
}

#[test]
fn kiln_renders_every_case_as_jinja2_does() {
    let cases = cases();
    let expected = reference();
    let env = kiln_env();
    let mut mismatches = Vec::new();
    for (key, source) in &cases {
        let Some(want) = expected.get(key) else {
            mismatches.push(format!("{key}: the reference did not render it"));
            continue;
        };
        match (want, render(&env, key, source)) {
            (Expected::Ok(want), Ok(got)) if *want == got => {}
            (Expected::Error(_), Err(_)) => {}
            (want, got) => mismatches.push(format!(
                "--- {key}\n{source}\n  Jinja2: {want:?}\n  Kiln:   {got:?}"
            )),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Jinja2:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    assert!(cases.len() >= 300, "only {} cases", cases.len());
}
