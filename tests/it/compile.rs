//! `kiln compile` on realistic projects: the SQL it writes, what it prints, the manifest.

use serde_json::Value;

use crate::pg::Database;
use crate::support::Fixture;

/// The shop fixture with its local package installed.
fn shop() -> Fixture {
    let fixture = Fixture::new("shop");
    let deps = fixture.kiln(&["deps"]);
    assert_eq!(deps.code, 0, "{}", deps.transcript());
    fixture
}

const SHOP_MODELS: &[&str] = &[
    "staging/stg_shop__orders",
    "staging/stg_shop__customers",
    "staging/stg_shop__payments",
    "intermediate/int_order_payments",
    "marts/orders",
    "marts/customers",
];

#[test]
fn compiles_every_model_of_the_shop_project() {
    let fixture = shop();
    let output = fixture.kiln(&["compile"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output.stderr.contains("Compiled 6 models"),
        "{}",
        output.stderr
    );
    for model in SHOP_MODELS {
        let sql = fixture.read(&format!("target/compiled/shop/models/{model}.sql"));
        insta::assert_snapshot!(format!("shop__{}", model.replace('/', "__")), sql);
    }
}

#[test]
fn a_single_selected_model_is_printed() {
    let fixture = shop();
    let output = fixture.kiln(&["compile", "-s", "customers"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let written = fixture.read("target/compiled/shop/models/marts/customers.sql");
    assert_eq!(output.stdout.trim_end(), written.trim_end());
    assert!(
        output
            .stdout
            .contains(r#"from "warehouse"."analytics_marts"."orders""#),
        "{}",
        output.stdout
    );
}

#[test]
fn incremental_preview_renders_the_incremental_branch() {
    let fixture = shop();
    let full = fixture.kiln(&["compile", "-s", "orders"]);
    assert!(
        !full.stdout.contains("interval '3 days'"),
        "{}",
        full.stdout
    );
    let incremental = fixture.kiln(&["compile", "-s", "orders", "--incremental"]);
    assert_eq!(incremental.code, 0, "{}", incremental.transcript());
    insta::assert_snapshot!("shop__orders_incremental", incremental.stdout);
}

#[test]
fn manifest_describes_nodes_like_dbt() {
    let fixture = shop();
    assert_eq!(fixture.kiln(&["compile"]).code, 0);
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let orders = &manifest["nodes"]["model.shop.orders"];
    assert_eq!(orders["schema"], "analytics_marts");
    assert_eq!(orders["database"], "warehouse");
    assert_eq!(orders["config"]["materialized"], "incremental");
    // As dbt keeps it: the string written (`unique_key='order_id'`).
    assert_eq!(orders["config"]["unique_key"], "order_id");
    assert_eq!(
        orders["config"]["tags"],
        serde_json::json!(["nightly", "finance"])
    );
    assert_eq!(
        orders["description"],
        "One row per order, with its payments in dollars."
    );
    assert_eq!(
        orders["depends_on"]["nodes"],
        serde_json::json!([
            "model.shop.stg_shop__orders",
            "model.shop.int_order_payments"
        ])
    );
    assert_eq!(
        orders["relation_name"],
        r#""warehouse"."analytics_marts"."orders""#
    );
    let staging = &manifest["nodes"]["model.shop.stg_shop__orders"];
    assert_eq!(staging["alias"], "stg_orders");
    assert_eq!(staging["config"]["tags"], serde_json::json!(["staging"]));
    let source = &manifest["sources"]["source.shop.raw_shop.orders"];
    assert_eq!(source["identifier"], "shop_orders");
    assert_eq!(source["schema"], "raw");
    assert_eq!(
        manifest["child_map"]["source.shop.raw_shop.orders"],
        serde_json::json!([
            "model.shop.stg_shop__orders",
            "test.shop.source_not_null_raw_shop_orders_id.03ed1ca28a",
            "test.shop.source_unique_raw_shop_orders_id.110a433196"
        ])
    );
    assert_eq!(
        manifest["parent_map"]["model.shop.customers"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(manifest["macros"]["macro.shop_utils.cents_to_dollars"].is_object());
    let ephemeral = &manifest["nodes"]["model.shop.int_order_payments"];
    assert_eq!(ephemeral["relation_name"], Value::Null);
}

#[test]
fn artifacts_are_deterministic() {
    let fixture = shop();
    assert_eq!(fixture.kiln(&["compile"]).code, 0);
    let first: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    assert_eq!(fixture.kiln(&["compile"]).code, 0);
    let second: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    // What says when and which invocation wrote it differs, as in dbt's; nothing else.
    fn strip(mut v: Value) -> Value {
        if let Some(map) = v.as_object_mut() {
            for key in [
                "generated_at",
                "invocation_id",
                "invocation_started_at",
                "run_started_at",
                "created_at",
            ] {
                map.remove(key);
            }
            for value in map.values_mut() {
                *value = strip(value.take());
            }
        }
        v
    }
    assert_eq!(strip(first), strip(second));
}

#[test]
fn jinja_features_compile_like_dbt() {
    let fixture = Fixture::new("jinja_features");
    let output = fixture.kiln(&["compile", "--vars", "{region: emea, limit_rows: 10}"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let mut models: Vec<String> = std::fs::read_dir(fixture.dir.join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    models.sort();
    assert!(models.len() >= 8, "{models:?}");
    for model in models {
        let sql = fixture.read(&format!("target/compiled/jinja_features/models/{model}"));
        insta::assert_snapshot!(format!("jinja__{}", model.trim_end_matches(".sql")), sql);
    }
    let _filters = crate::support::snapshot_settings().bind_to_scope();
    insta::assert_snapshot!("jinja__log_output", output.stderr);
    // Commands that only parse show what the parse render logged, once; the debug-level line
    // stays out of the terminal.
    for command in ["parse", "ls"] {
        let output = fixture.kiln(&[command, "--vars", "{region: emea, limit_rows: 10}"]);
        assert_eq!(output.code, 0, "{}", output.transcript());
        assert_eq!(
            output.stderr.matches("rendering logging").count(),
            1,
            "{command}: {}",
            output.stderr
        );
        assert_eq!(
            output
                .stderr
                .matches("warning: a warning from a model")
                .count(),
            1,
            "{command}: {}",
            output.stderr
        );
        assert!(
            !output.stderr.contains("only in the debug log"),
            "{}",
            output.stderr
        );
    }
}

#[test]
fn parse_reports_counts() {
    let fixture = shop();
    let output = fixture.kiln(&["parse"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output
            .stderr
            .contains("Found 6 models, 9 tests, 1 seeds, 3 sources, 6 macros, 1 packages"),
        "{}",
        output.stderr
    );
    assert!(fixture.dir.join("target/manifest.json").is_file());
}

#[test]
fn tests_compile_to_the_sql_that_runs() {
    let fixture = Fixture::new("jaffle");
    let output = fixture.kiln(&["compile", "-s", "resource_type:test"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output.stderr.contains("Compiled 0 models and 10 tests"),
        "{}",
        output.stderr
    );
    let tests = [
        ("unique", "models/schema.yml/unique_stg_orders_order_id.sql"),
        (
            "not_null_with_thresholds",
            "models/schema.yml/not_null_stg_payments_amount.sql",
        ),
        (
            "accepted_values",
            "models/schema.yml/accepted_values_stg_orders_7c9e0be389dac14a09b2140966f0792f.sql",
        ),
        (
            "relationships",
            "models/schema.yml/relationships_stg_orders_96411fe0c89b49c3f4da955dfd358ba0.sql",
        ),
        (
            "custom_generic_with_where",
            "models/schema.yml/positive_stg_payments_amount.sql",
        ),
        (
            "singular",
            "tests/assert_lifetime_value_matches_payments.sql",
        ),
    ];
    for (kind, path) in tests {
        let sql = fixture.read(&format!("target/compiled/jaffle/{path}"));
        insta::assert_snapshot!(format!("test_sql__{kind}"), sql);
    }
}

#[test]
fn a_package_namespace_dispatches_to_the_root_project_first() {
    // Without a `dispatch:` config, dbt searches the root project before the package named in
    // `adapter.dispatch(name, 'shop_utils')`, so the project's `postgres__cents_to_dollars`
    // overrides the package's default.
    let fixture = shop();
    let project = fixture.read("dbt_project.yml");
    let dispatch = "dispatch:\n  - macro_namespace: shop_utils\n    search_order: [\"shop\", \"shop_utils\"]\n";
    assert!(project.contains(dispatch), "{project}");
    let without_dispatch = project.replace(dispatch, "");
    std::fs::write(fixture.dir.join("dbt_project.yml"), without_dispatch).unwrap();
    let output = fixture.kiln(&["compile", "-s", "stg_shop__payments"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("(amount::numeric / 100)::numeric(16, 2)"),
        "{}",
        output.stdout
    );
}

#[test]
fn compile_inline_prints_the_sql_of_a_query() {
    let fixture = shop();
    let output = fixture.kiln(&[
        "compile",
        "--inline",
        "select * from {{ ref('orders') }} where status = '{{ var('status', 'placed') }}'",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    // Nothing is compiled to files for an inline query.
    assert!(!fixture.dir.join("target/compiled").exists());
    // `ref('orders')` is the relation the project builds for `orders`.
    assert_eq!(fixture.kiln(&["compile", "-s", "orders"]).code, 0);
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let relation = manifest["nodes"]["model.shop.orders"]["relation_name"]
        .as_str()
        .unwrap();
    assert_eq!(
        output.stdout.trim(),
        format!("select * from {relation} where status = 'placed'")
    );
}

/// dbt's built-in macros compile to the SQL dbt-core 1.11 wrote for the same model (recorded
/// once in tests/fixtures/dbt_reference/expected/), token for token: dbt's macros break lines
/// inside parentheses, so whitespace around `(`, `)` and `,` is ignored as well.
#[test]
fn builtin_macros_compile_as_dbt_core_compiles_them() {
    // Equal once runs of whitespace are one space: where dbt's macros leave a space (`cast(
    // date_trunc(...`) Kiln's do too.
    fn tokens(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }
    let fixture = Fixture::new("dbt_reference");
    let output = fixture.kiln(&["compile", "-s", "builtins", "sql_macros"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    // builtins: cross-database and relation macros; sql_macros: the incremental strategies'
    // SQL, grants, comments, drops and partition dates, as custom strategies call them.
    for model in ["builtins", "sql_macros"] {
        let kiln = fixture.read(&format!("target/compiled/dbt_reference/models/{model}.sql"));
        let dbt = fixture.read(&format!("expected/{model}.sql"));
        assert_eq!(
            tokens(&kiln),
            tokens(&dbt),
            "{model}: kiln:\n{kiln}\ndbt:\n{dbt}"
        );
    }
}

#[test]
fn a_model_that_fails_to_compile_fails_alone() {
    // As in dbt: calling a macro that does not exist (or an attribute of an undefined name) is
    // no parse error; the model fails when it is compiled, and the others are still written.
    let fixture = Fixture::new("jaffle");
    fixture.write(
        "models/broken.sql",
        "select {{ no_such_macro() }} as x, {{ nothing.here }} as y\nfrom {{ ref('stg_orders') }}\n",
    );
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    assert_eq!(
        manifest["nodes"]["model.jaffle.broken"]["depends_on"]["nodes"],
        serde_json::json!(["model.jaffle.stg_orders"]),
        "the ref after the unknown call is still seen"
    );

    let excluded = fixture.kiln(&["compile", "--exclude", "broken"]);
    assert_eq!(excluded.code, 0, "{}", excluded.transcript());

    let all = fixture.kiln(&["compile"]);
    assert_eq!(all.code, 2, "{}", all.transcript());
    assert!(
        all.stderr
            .contains("unknown function or macro `no_such_macro`")
            && all.stderr.contains("models/broken.sql:1"),
        "{}",
        all.stderr
    );
    assert!(
        fixture
            .dir
            .join("target/compiled/jaffle/models/staging/stg_orders.sql")
            .is_file(),
        "the other models are written"
    );
    assert!(
        !fixture
            .dir
            .join("target/compiled/jaffle/models/broken.sql")
            .exists()
    );
}

#[test]
fn analyses_compile_and_never_run() {
    // dbt's analyses: SQL under `analysis-paths` (default `analyses/`), compiled with refs and
    // configs like a model, written to target/compiled, in the manifest, never built.
    let fixture = Fixture::new("jaffle");
    fixture.write(
        "analyses/orders_by_status.sql",
        "{{ config(tags=['report']) }}\nselect status, count(*) from {{ ref('stg_orders') }} group by 1\n",
    );
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    assert!(parse.stderr.contains(", 1 analysis,"), "{}", parse.stderr);

    let one = fixture.kiln(&["compile", "-s", "orders_by_status"]);
    assert_eq!(one.code, 0, "{}", one.transcript());
    assert!(
        one.stdout
            .contains(r#"from "jaffle"."analytics"."stg_orders" group by 1"#),
        "the analysis' SQL is printed:\n{}",
        one.transcript()
    );
    assert!(one.stderr.contains("1 analysis"), "{}", one.stderr);
    let compiled = fixture.read("target/compiled/jaffle/analyses/orders_by_status.sql");
    assert!(compiled.contains("\"stg_orders\""), "{compiled}");

    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let node = &manifest["nodes"]["analysis.jaffle.orders_by_status"];
    assert_eq!(node["resource_type"], "analysis");
    assert_eq!(node["tags"], serde_json::json!(["report"]));
    assert_eq!(
        node["depends_on"]["nodes"],
        serde_json::json!(["model.jaffle.stg_orders"])
    );
    // `kiln ls` of what a run builds leaves it out.
    let ls = fixture.kiln(&["ls", "--resource-type", "model"]);
    assert!(!ls.stdout.contains("orders_by_status"), "{}", ls.stdout);
}

#[test]
fn compile_asks_the_warehouse_as_dbt_compile_does() {
    // `execute` is true: run_query answers, and a timestamp it returns prints as dbt's agate
    // datetime prints (`2017-01-01 00:00:00`), a double precision as a float (`240.0`), so the
    // SQL built from it is dbt's. A model reading
    // a relation not built yet is compiled with `execute` false and a warning (dbt fails).
    let db = Database::new("compile_execute");
    let fixture = db.configure(Fixture::new("jaffle"));
    fixture.write(
        "models/stamp.sql",
        "{% set t = run_query(\"select timestamp '2017-01-01 00:00:00' as t, 'aT' as s, 240::float8 as f\") %}\n\
         {% if execute %}select '{{ t.columns[0].values()[0] }}' as t, '{{ t.columns[1].values()[0] }}' as s, {{ t.columns[2].values()[0] }} as f\n\
         {% else %}select 'offline' as t{% endif %}\n",
    );
    let stamp = fixture.kiln(&["compile", "-s", "stamp"]);
    assert_eq!(stamp.code, 0, "{}", stamp.transcript());
    assert!(
        stamp
            .stdout
            .contains("select '2017-01-01 00:00:00' as t, 'aT' as s, 240.0 as f"),
        "{}",
        stamp.transcript()
    );

    let offline = fixture.kiln(&["compile", "-s", "stamp", "--no-connect"]);
    assert_eq!(offline.code, 0, "{}", offline.transcript());
    assert!(
        offline.stdout.contains("select 'offline' as t"),
        "{}",
        offline.stdout
    );

    // column_report reads `orders`, which is not built in this database.
    let report = fixture.kiln(&["compile", "-s", "column_report"]);
    assert_eq!(report.code, 0, "{}", report.transcript());
    assert!(
        report
            .stderr
            .contains("`column_report` asks the warehouse while compiling")
            && report.stderr.contains("does not exist"),
        "{}",
        report.stderr
    );
}

#[test]
fn schema_yaml_renders_configs_as_dbt_does() {
    // `enabled`, a source's schema and a test's config are rendered at parse with var() (the
    // project's vars and --vars), a one-expression value keeping its type.
    let fixture = Fixture::new("jaffle");
    fixture.write("models/extra.sql", "select 1 as id\n");
    fixture.write(
        "models/extra.yml",
        r#"version: 2
sources:
  - name: rendered
    schema: "raw_{{ var('env', 'dev') }}"
    tables:
      - name: events
models:
  - name: extra
    config:
      meta:
        owner: "{{ var('owner', 'data') }}"
      enabled: "{{ var('extra_on', true) }}"
    columns:
      - name: id
        data_tests:
          - unique:
              config:
                severity: "{{ var('severity', 'warn') }}"
"#,
    );
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    assert_eq!(
        manifest["sources"]["source.jaffle.rendered.events"]["schema"],
        "raw_dev"
    );
    let extra = &manifest["nodes"]["model.jaffle.extra"];
    assert_eq!(extra["config"]["meta"]["owner"], "data");
    let test = manifest["nodes"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["name"] == "unique_extra_id")
        .expect("the test on extra.id");
    assert_eq!(test["config"]["severity"], "WARN");

    let off = fixture.kiln(&["parse", "--vars", "{extra_on: false, env: prod}"]);
    assert_eq!(off.code, 0, "{}", off.transcript());
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    assert!(
        manifest["nodes"]["model.jaffle.extra"].is_null(),
        "disabled"
    );
    assert_eq!(
        manifest["sources"]["source.jaffle.rendered.events"]["schema"],
        "raw_prod"
    );
}

#[test]
fn the_project_quoting_decides_how_relations_are_written() {
    // dbt's `quoting:` in the project file (dbt-expectations' integration project turns it off),
    // a source's own `quoting:` over it, and `relation.quote(...)`.
    let fixture = Fixture::new("jaffle");
    let project = fixture.read("dbt_project.yml");
    fixture.write(
        "dbt_project.yml",
        &format!("{project}\nquoting:\n  database: false\n  schema: false\n  identifier: false\n"),
    );
    fixture.write(
        "models/quoted.yml",
        "version: 2\nsources:\n  - name: app\n    quoting:\n      identifier: true\n    tables:\n      - name: Events\n",
    );
    fixture.write(
        "models/quoted.sql",
        "select * from {{ ref('stg_orders') }}, {{ source('app', 'Events') }}, {{ ref('stg_orders').quote(schema=true) }}\n",
    );
    let output = fixture.kiln(&["compile", "-s", "quoted"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output.stdout.contains(
            r#"select * from jaffle.analytics.stg_orders, jaffle.app."Events", jaffle."analytics".stg_orders"#
        ),
        "{}",
        output.stdout
    );
}

#[test]
fn model_versions_are_nodes_of_their_own_as_in_dbt() {
    // dbt's model versions: `<model>_v<v>.sql` files declared under `versions:`, each a node
    // `model.<package>.<model>.v<v>` built as `<model>_v<v>`; `ref('m')` is the latest version,
    // `ref('m', v=2)` another; tests run on each version.
    let fixture = Fixture::new("jaffle");
    fixture.write("models/summary_v1.sql", "select 1 as id\n");
    fixture.write("models/summary_v2.sql", "select 1 as id, 2 as extra\n");
    fixture.write(
        "models/summary.yml",
        "version: 2\nmodels:\n  - name: summary\n    latest_version: 1\n    columns:\n      - name: id\n        data_tests: [unique]\n    versions:\n      - v: 1\n      - v: 2\n",
    );
    fixture.write(
        "models/reads_summary.sql",
        "select * from {{ ref('summary') }} join {{ ref('summary', v=2) }} using (id)\n",
    );
    let output = fixture.kiln(&["compile", "-s", "reads_summary"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output.stdout.contains(
            r#"from "jaffle"."analytics"."summary_v1" join "jaffle"."analytics"."summary_v2""#
        ),
        "{}",
        output.stdout
    );
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let v2 = &manifest["nodes"]["model.jaffle.summary.v2"];
    assert_eq!(v2["alias"], "summary_v2");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["latest_version"], 1);
    assert_eq!(
        manifest["nodes"]["model.jaffle.reads_summary"]["depends_on"]["nodes"],
        serde_json::json!(["model.jaffle.summary.v1", "model.jaffle.summary.v2"])
    );
    let tests: Vec<&str> = manifest["nodes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|n| n["resource_type"] == "test")
        .filter_map(|n| n["name"].as_str())
        .filter(|name| name.contains("summary"))
        .collect();
    assert_eq!(tests, ["unique_summary_v1_id", "unique_summary_v2_id"]);
}

#[test]
fn sql_fixture_files_of_unit_tests_are_not_singular_tests() {
    // dbt reads `<test-path>/fixtures/` as unit test fixtures (dbt-audit-helper keeps SQL ones
    // there); they are not data tests.
    let fixture = Fixture::new("jaffle");
    let before = fixture.kiln(&["parse"]);
    fixture.write("tests/fixtures/some_rows.sql", "select 1 as id\n");
    let after = fixture.kiln(&["parse"]);
    assert_eq!(after.code, 0, "{}", after.transcript());
    let found = |output: &crate::support::Output| {
        output
            .stderr
            .lines()
            .find(|l| l.starts_with("Found"))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(found(&before), found(&after));
    assert!(!fixture.read("target/manifest.json").contains("some_rows"));
}

#[test]
fn a_duckdb_project_compiles_with_duckdb_names() {
    // dbt-labs/jaffle_shop_duckdb's profile: relations are "<file stem>"."main"."<model>", as
    // dbt-duckdb names them, so the compiled SQL is the same.
    let fixture = Fixture::new("jaffle");
    fixture.write(
        "profiles.yml",
        "jaffle:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: 'jaffle_shop.duckdb'\n      threads: 4\n",
    );
    let output = fixture.kiln(&["compile", "-s", "stg_orders", "--no-connect"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains(r#"from "jaffle_shop"."main_raw"."raw_orders""#),
        "{}",
        output.stdout
    );
}

#[test]
fn parse_gives_its_verdict_where_the_target_cannot_be_written() {
    // A read-only checkout (here: a target path under a regular file, which even root cannot
    // create) still parses; compile, whose output is the files, still fails.
    let fixture = Fixture::new("jaffle");
    fixture.write("blocked", "a file, not a directory\n");
    let parse = fixture.kiln(&["parse", "--target-path", "blocked/target"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    assert!(
        parse.stderr.contains("cannot write")
            && parse
                .stderr
                .contains("target/manifest.json was not written")
            && parse.stderr.contains("--target-path"),
        "{}",
        parse.stderr
    );
    let compile = fixture.kiln(&["compile", "--target-path", "blocked/target", "--no-connect"]);
    assert_eq!(compile.code, 2, "{}", compile.transcript());
}

#[test]
fn a_project_compiles_as_dbt_core_compiled_it() {
    // tests/fixtures/dbt_reference_project: every compiled file equal to dbt-core 1.11's
    // (whitespace collapsed), and the same files: quoting, versions, var() in the project and
    // schema YAML, Jinja in test arguments, an ephemeral model in a comment.
    fn files(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let collapse = |sql: &str| sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let fixture = Fixture::new("dbt_reference_project");
    let output = fixture.kiln(&["compile"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let expected_root = fixture.dir.join("expected");
    let kiln_root = fixture.dir.join("target/compiled/dbt_reference_project");
    let (mut expected, mut written) = (Vec::new(), Vec::new());
    files(&expected_root, &expected_root, &mut expected);
    files(&kiln_root, &kiln_root, &mut written);
    expected.sort();
    written.sort();
    assert_eq!(written, expected, "the same compiled files as dbt");
    for path in expected {
        let dbt = std::fs::read_to_string(expected_root.join(&path)).unwrap();
        let kiln = std::fs::read_to_string(kiln_root.join(&path)).unwrap();
        assert_eq!(
            collapse(&kiln),
            collapse(&dbt),
            "{path}\nkiln:\n{kiln}\ndbt:\n{dbt}"
        );
    }
}

#[test]
fn config_set_and_meta_get_work_as_in_dbt() {
    let fixture = Fixture::new("jaffle");
    fixture.write(
        "models/configured.sql",
        "{{ config(meta={'owner': 'ana'}) }}{% do config.set('alias', 'configured_v2') %}\n\
         select '{{ config.meta_get('owner') }}' as owner, '{{ config.meta_get('team', 'data') }}' as team\n",
    );
    let output = fixture.kiln(&["compile", "--no-connect", "-s", "configured"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("select 'ana' as owner, 'data' as team"),
        "{}",
        output.stdout
    );
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    assert_eq!(
        manifest["nodes"]["model.jaffle.configured"]["alias"], "configured_v2",
        "config.set() at parse is a config"
    );
}

#[test]
fn graph_is_one_dict_that_packages_can_use_as_a_cache() {
    // elementary keeps its state in `graph.setdefault('elementary', {})` for the whole command.
    let fixture = Fixture::new("jaffle");
    let output = fixture.kiln(&[
        "compile",
        "--no-connect",
        "--inline",
        "{% do graph.setdefault('cache', {}).update({'hits': 1}) %}\
         {% do graph.setdefault('cache', {}).update({'misses': 2}) %}\
         {{ graph.cache.hits }} {{ graph.cache.misses }} {{ graph.nodes | length > 0 }}",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert_eq!(output.stdout.trim(), "1 2 True", "{}", output.transcript());
}

#[test]
fn model_shows_the_nodes_documented_properties() {
    // dbt's `model` is the whole node: macros (persist-docs-like post-hooks, masking, audits)
    // read its description, columns, tags and meta. The expected line is what dbt-core 1.11.16
    // compiled for the same model, macro and YAML (the macro guarded by `execute` there, as
    // dbt renders it at parse before the YAML is applied).
    let fixture = Fixture::new("jaffle");
    fixture.write(
        "macros/describe.sql",
        "{% macro describe() %}{{ model.description }} | {{ model.columns.keys() | list }} | \
         {{ model.columns['amount'].meta.pii }} | {{ model.tags }} | {{ model.path }}{% endmacro %}\n",
    );
    fixture.write(
        "models/described.sql",
        "{{ config(tags=['finance']) }}\nselect 1 as id, 2 as amount -- {{ describe() }}\n",
    );
    fixture.write(
        "models/described.yml",
        "version: 2\nmodels:\n  - name: described\n    description: One row per thing.\n    columns:\n      \
         - name: id\n      - name: amount\n        meta: {pii: false}\n",
    );
    let output = fixture.kiln(&["compile", "--no-connect", "-s", "described"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output.stdout.contains(
            "-- One row per thing. | ['id', 'amount'] | False | ['finance'] | described.sql"
        ),
        "{}",
        output.stdout
    );
}

#[test]
fn parsing_follows_dbt_where_real_projects_rely_on_it() {
    // tests/fixtures/parse_semantics: dbt-core 1.11.16 compiles the same project to one model
    // and this SQL (README). Each case failed the parse before.
    let fixture = Fixture::new("parse_semantics");
    let output = fixture.kiln(&["compile"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert_eq!(
        fixture
            .read("target/compiled/parse_semantics/models/reads_rendered_var.sql")
            .trim(),
        "select 4 as year_digits, least(1, 2) as smaller"
    );
    let manifest: Value = serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let nodes: Vec<&String> = manifest["nodes"].as_object().unwrap().keys().collect();
    assert_eq!(
        nodes,
        [
            "model.parse_semantics.reads_rendered_var",
            "seed.parse_semantics.tiny"
        ]
    );
    assert_eq!(manifest["unit_tests"], serde_json::json!({}));
    // The macros a seed's hooks call are its `depends_on.macros`, as dbt records them.
    assert_eq!(
        manifest["nodes"]["seed.parse_semantics.tiny"]["depends_on"]["macros"],
        serde_json::json!(["macro.parse_semantics.hook_sql"])
    );
}
