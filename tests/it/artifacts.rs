//! Kiln's artifacts are dbt's: `manifest.json` and `run_results.json` validate against dbt's
//! published schemas (manifest v12, run_results v6), and node unique ids equal dbt-core's.
//!
//! The schemas are checked with `dbt-artifacts-parser` (PyPI), whose pydantic models are
//! generated from dbt's JSON schemas and refuse unknown keys, as tools that read dbt's artifacts
//! do. `.ci/run` installs it; a missing package fails these tests.

use std::path::Path;
use std::process::Command;

use crate::pg::Database;
use crate::support::{Fixture, copy_dir, fixtures_dir};

/// Validates the artifact at `path` (`manifest`, `run_results` or `catalog`); prints each
/// error's place.
const VALIDATE: &str = r#"
import json, sys
from pydantic import ValidationError
from dbt_artifacts_parser.parser import parse_catalog_v1, parse_manifest_v12, parse_run_results_v6
kind, path = sys.argv[1], sys.argv[2]
parse = {"manifest": parse_manifest_v12, "run_results": parse_run_results_v6, "catalog": parse_catalog_v1}[kind]
try:
    parse(json.load(open(path)))
except ValidationError as error:
    for e in error.errors()[:20]:
        print(".".join(str(x) for x in e["loc"]), e["type"], str(e.get("input"))[:100])
    print(error.error_count(), "errors")
    sys.exit(1)
"#;

fn assert_valid(kind: &str, path: &Path) {
    let output = Command::new("python3")
        .args(["-c", VALIDATE, kind, path.to_str().unwrap()])
        .output()
        .expect("python3 runs (the artifact check needs it)");
    assert!(
        output.status.success(),
        "{} does not validate against dbt's {kind} schema (dbt-artifacts-parser; `.ci/run` \
         installs it):\n{}{}",
        path.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn manifests_validate_against_dbt_manifest_v12() {
    // Every node kind Kiln writes: models (ephemeral ones too), seeds, sources with freshness,
    // generic and singular tests, snapshots, unit tests.
    let mut fixtures: Vec<Fixture> = [
        "jaffle",
        "shop",
        "snapshots",
        "unit_tests",
        "freshness",
        "exposures",
        "groups",
        "semantic_layer",
    ]
    .into_iter()
    .map(Fixture::new)
    .collect();
    fixtures.push(Fixture::analytics_project());
    for fixture in &fixtures {
        let parse = fixture.kiln(&["parse"]);
        assert_eq!(parse.code, 0, "{}", parse.transcript());
        let manifest = fixture.dir.join("target/manifest.json");
        assert_valid("manifest", &manifest);
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&fixtures[3].read("target/manifest.json")).unwrap();
    assert!(
        !manifest["unit_tests"].as_object().unwrap().is_empty(),
        "the unit tests fixture has unit tests in its manifest"
    );
}

#[test]
fn run_results_and_the_manifest_after_a_build_validate() {
    let db = Database::new("artifacts");
    let fixture = db.configure(Fixture::new("jaffle"));
    fixture.write(
        "analyses/order_count.sql",
        "select count(*) from {{ ref('stg_orders') }}\n",
    );
    let build = fixture.kiln(&["build"]);
    assert_eq!(build.code, 0, "{}", build.transcript());
    assert_valid("run_results", &fixture.dir.join("target/run_results.json"));
    assert_valid("manifest", &fixture.dir.join("target/manifest.json"));
    let results: serde_json::Value =
        serde_json::from_str(&fixture.read("target/run_results.json")).unwrap();
    assert_eq!(
        results["metadata"]["env"]["KILN_VERSION"],
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn dbt_utils_node_ids_are_dbt_cores() {
    // Generic test names (package prefix, arguments in name order, long names hashed) and the
    // hash that ends each test's unique id, as dbt-core 1.11 made them for dbt_utils' suite.
    let fixture = Fixture::new("err_no_project_file");
    let package = fixture.dir.join("dbt-utils");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dbt-utils"),
        &package,
    );
    let dir = package.join("integration_tests");
    let parse = fixture.kiln(&["parse", "--project-dir", dir.to_str().unwrap()]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    let manifest_path = dir.join("target/manifest.json");
    assert_valid("manifest", &manifest_path);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let kiln: Vec<&str> = manifest["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let recorded =
        std::fs::read_to_string(fixtures_dir().join("dbt_reference/dbt_utils_node_ids.txt"))
            .unwrap();
    // dbt also keeps a test on `test_unpivot_original_api`, a model the project does not have;
    // Kiln warns about it and leaves it out.
    let dbt: Vec<&str> = recorded
        .lines()
        .filter(|id| !id.contains("test_unpivot_original_api_ref"))
        .collect();
    let missing: Vec<&&str> = dbt.iter().filter(|id| !kiln.contains(id)).collect();
    let extra: Vec<&&str> = kiln.iter().filter(|id| !dbt.contains(id)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "dbt's ids Kiln lacks: {missing:#?}\nKiln's ids dbt lacks: {extra:#?}"
    );
    assert_eq!(kiln.len(), 238);

    // `depends_on.macros` as dbt records it: the macros each node's template calls itself, in
    // call order, and for a generic test its test macro (as dbt looks it up) and
    // `get_where_subquery`.
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("dbt_reference/dbt_utils_node_macros.json"))
            .unwrap(),
    )
    .unwrap();
    let mut differ = Vec::new();
    for id in &kiln {
        let ours = &manifest["nodes"][*id]["depends_on"]["macros"];
        if *ours != recorded[*id] {
            differ.push(format!("{id}: dbt {} kiln {ours}", recorded[*id]));
        }
    }
    assert!(differ.is_empty(), "{differ:#?}");
    assert!(
        kiln.iter()
            .filter(|id| manifest["nodes"][**id]["depends_on"]["macros"] != serde_json::json!([]))
            .count()
            > 150
    );
}

#[test]
fn docs_generate_writes_the_catalog_dbt_writes() {
    let db = Database::new("docs_catalog");
    let fixture = db.configure(Fixture::new("persist_docs"));
    let build = fixture.kiln(&["build"]);
    assert_eq!(build.code, 0, "{}", build.transcript());
    let docs = fixture.kiln(&["docs", "generate"]);
    assert_eq!(docs.code, 0, "{}", docs.transcript());
    let path = fixture.dir.join("target/catalog.json");
    assert_valid("catalog", &path);
    let catalog: serde_json::Value =
        serde_json::from_str(&fixture.read("target/catalog.json")).unwrap();
    let orders = &catalog["nodes"]["model.persist_docs.orders"];
    assert_eq!(orders["metadata"]["type"], "BASE TABLE");
    assert_eq!(orders["metadata"]["schema"], "docs");
    assert_eq!(
        orders["metadata"]["comment"],
        "Every order; the customer's too. $$ is fine."
    );
    assert_eq!(
        orders["columns"]["order_id"],
        serde_json::json!({"type": "integer", "index": 1, "name": "order_id", "comment": "The order."})
    );
    assert_eq!(orders["columns"]["customer_id"]["index"], 2);
    assert_eq!(
        catalog["nodes"]["model.persist_docs.orders_view"]["metadata"]["type"],
        "VIEW"
    );
    assert_eq!(
        catalog["nodes"]["seed.persist_docs.customers"]["columns"]["country"]["type"],
        "text"
    );
    // Every entry against dbt-core 1.11.16's catalog of the same project, built by dbt (its
    // persist_docs comments included), recorded in tests/fixtures/persist_docs/dbt_catalog.json
    // with the database and owner left out (they name this test's database and user).
    let recorded: serde_json::Value =
        serde_json::from_str(&fixture.read("dbt_catalog.json")).unwrap();
    let mut nodes = catalog["nodes"].clone();
    for entry in nodes.as_object_mut().unwrap().values_mut() {
        entry["metadata"]["database"] = serde_json::Value::Null;
        entry["metadata"]["owner"] = serde_json::Value::Null;
    }
    assert_eq!(nodes, recorded["nodes"]);
    assert_eq!(catalog["sources"], recorded["sources"]);
    // Compiled as dbt's docs generate compiles: the files and the manifest are there.
    assert!(
        fixture
            .dir
            .join("target/compiled/persist_docs/models/orders.sql")
            .exists()
    );
    assert!(fixture.dir.join("target/manifest.json").exists());
}

#[test]
fn the_semantic_layer_is_in_the_manifest_as_dbt_core_writes_it() {
    // Semantic models, every metric type and a saved query, against dbt-core 1.11.16's manifest
    // of the same project (tests/fixtures/semantic_layer/dbt_expected.json, `created_at` left
    // out), with the parent and child maps' entries for them.
    let fixture = Fixture::new("semantic_layer");
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    assert!(!parse.stderr.contains("warning"), "{}", parse.transcript());
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let recorded: serde_json::Value =
        serde_json::from_str(&fixture.read("dbt_expected.json")).unwrap();
    for section in ["semantic_models", "metrics", "saved_queries"] {
        let mut entries = manifest[section].clone();
        for entry in entries.as_object_mut().unwrap().values_mut() {
            assert!(
                entry["created_at"].as_f64().is_some(),
                "{section}: created_at"
            );
            entry.as_object_mut().unwrap().remove("created_at");
        }
        assert_eq!(entries, recorded[section], "{section}");
    }
    for map in ["parent_map", "child_map"] {
        for (id, expected) in recorded[map].as_object().unwrap() {
            assert_eq!(&manifest[map][id], expected, "{map}[{id}]");
        }
    }
}

#[test]
fn config_blocks_and_column_constraints_reach_the_manifest_as_dbt_writes_them() {
    // tests/fixtures/manifest_properties: the values dbt-core 1.11.16's `dbt parse` wrote
    // (README).
    let fixture = Fixture::new("manifest_properties");
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let source =
        |table: &str| &manifest["sources"][format!("source.manifest_properties.shop.{table}")];
    let unset = serde_json::json!({"count": null, "period": null});
    assert_eq!(
        source("orders")["freshness"],
        serde_json::json!({"warn_after": {"count": 12, "period": "hour"}, "error_after": unset, "filter": null})
    );
    assert_eq!(source("orders")["loaded_at_field"], "_loaded_at");
    assert_eq!(source("payments")["freshness"], serde_json::Value::Null);
    assert_eq!(
        source("refunds")["freshness"],
        serde_json::json!({"warn_after": {"count": 12, "period": "hour"}, "error_after": {"count": 2, "period": "day"}, "filter": null})
    );
    let orders = &manifest["nodes"]["model.manifest_properties.orders"];
    assert_eq!(
        orders["config"]["contract"],
        serde_json::json!({"enforced": true, "alias_types": true})
    );
    assert_eq!(orders["contract"]["enforced"], true);
    let constraint = |kind: &str, expression: Option<&str>| {
        serde_json::json!({"type": kind, "name": null, "expression": expression,
            "warn_unenforced": true, "warn_unsupported": true, "to": null, "to_columns": []})
    };
    assert_eq!(
        orders["columns"]["id"]["constraints"],
        serde_json::json!([
            constraint("not_null", None),
            constraint("check", Some("id > 0"))
        ])
    );
}
