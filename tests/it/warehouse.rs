//! `kiln run`, `seed` and `build` on a real PostgreSQL server: results, and the safety
//! properties of DESIGN.md (atomic swaps, kill safety, incremental correctness, concurrency).

use std::time::{Duration, Instant};

use crate::pg::Database;
use crate::support::Fixture;

fn jaffle(test: &str) -> (Fixture, Database) {
    let db = Database::new(test);
    (db.configure(Fixture::new("jaffle")), db)
}

fn assert_ok(output: &crate::support::Output) {
    assert_eq!(output.code, 0, "{}", output.transcript());
}

#[test]
fn build_creates_every_relation_with_the_right_rows() {
    let (fixture, db) = jaffle("build");
    let output = fixture.kiln(&["build"]);
    assert_ok(&output);
    assert!(
        output
            .stdout
            .contains("Done. PASS=24 WARN=0 ERROR=0 SKIP=0 TOTAL=24"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("OK loaded seed file analytics_raw.raw_orders"),
        "{}",
        output.stdout
    );
    assert_eq!(
        db.rows("select customer_id, order_count, lifetime_value::text from analytics.customers"),
        ["1|1|10.00", "2|2|26.00", "3|1|26.00", "4|1|17.00"]
    );
    let kinds = db.rows(
        "select c.relname || ':' || c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname in ('analytics', 'analytics_raw') and c.relkind in ('r', 'v')",
    );
    assert_eq!(
        kinds,
        [
            "column_report:r",
            "cross_db:v",
            "customers:r",
            "order_log:r",
            "order_status_merge:r",
            "order_updates:r",
            "orders:r",
            "raw_customers:r",
            "raw_orders:r",
            "raw_payments:r",
            "status_summary:r",
            "stg_customers:v",
            "stg_orders:v",
            "stg_payments:v",
        ]
    );
    // Ephemeral models are never created; no temporary relation is left behind.
    assert!(db.rows("select relname from pg_class where relname like '%int_order_payments%' or relname like '%__kiln_%'").is_empty());
    let results: serde_json::Value =
        serde_json::from_str(&fixture.read("target/run_results.json")).unwrap();
    let statuses: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 24);
    assert!(
        statuses.iter().all(|s| *s == "success" || *s == "pass"),
        "{statuses:?}"
    );
}

#[test]
fn a_failing_model_keeps_its_previous_table_and_skips_only_its_descendants() {
    let (fixture, db) = jaffle("failing");
    assert_ok(&fixture.kiln(&["build"]));
    let before = db.rows("select * from analytics.orders");
    let output = fixture.kiln(&["run", "--vars", "{break_orders: true}"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("ERROR creating sql table model analytics.orders"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("SKIP relation analytics.customers"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("division by zero"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("compiled code at target/compiled/jaffle/models/marts/orders.sql"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("Done. PASS=8 WARN=0 ERROR=1 SKIP=2 TOTAL=11"),
        "{}",
        output.stdout
    );
    assert_eq!(
        db.rows("select * from analytics.orders"),
        before,
        "the previous table and its rows are intact"
    );
    let status = |id: &str| fixture.status(id);
    assert_eq!(status("model.jaffle.orders"), "error");
    assert_eq!(status("model.jaffle.customers"), "skipped");
    assert_eq!(
        status("model.jaffle.order_log"),
        "success",
        "a sibling still runs"
    );
}

/// Finds the slow `customers` build among the queries the server is running for this test.
const SLOW_BUILD: &str = "select 1 from pg_stat_activity where datname = current_database() \
    and query like '%pg_sleep(30)%' and pid <> pg_backend_pid()";

/// Starts `kiln run -s customers` with a 30-second build and returns once its query runs on
/// the server (this test's database only: the server is shared with other tests).
fn start_slow_customers_build(fixture: &Fixture, db: &Database) -> std::process::Child {
    let child = fixture
        .command(&[
            "run",
            "-s",
            "customers",
            "--vars",
            "{slow_customers_seconds: 30}",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while db.query(SLOW_BUILD).rows.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the slow build never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn a_killed_run_leaves_the_previous_table_intact_and_a_rerun_succeeds() {
    let (fixture, db) = jaffle("killed");
    assert_ok(&fixture.kiln(&["build"]));
    let before = db.rows("select * from analytics.customers");
    let mut child = start_slow_customers_build(&fixture, &db);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        db.rows("select * from analytics.customers"),
        before,
        "the previous table is intact and readable"
    );
    let output = fixture.kiln(&["run", "-s", "customers"]);
    assert_ok(&output);
    assert_eq!(db.rows("select * from analytics.customers"), before);
}

/// The rows of the incremental models after new raw rows arrive, compared with a full refresh.
#[test]
fn incremental_runs_equal_a_full_refresh() {
    let (fixture, db) = jaffle("incremental");
    assert_ok(&fixture.kiln(&["build"]));
    // New orders arrive, and order 5 changes status.
    let mut orders = fixture.read("seeds/raw_orders.csv");
    orders = orders.replace(
        "5,4,2024-01-05,placed,2024-01-05 08:15:00",
        "5,4,2024-01-05,shipped,2024-01-06 09:00:00",
    );
    orders.push_str(
        "6,1,2024-01-06,placed,2024-01-06 10:00:00\n7,3,2024-01-06,placed,2024-01-06 11:00:00\n",
    );
    fixture.write("seeds/raw_orders.csv", &orders);
    assert_ok(&fixture.kiln(&["seed"]));
    let output = fixture.kiln(&[
        "run",
        "-s",
        "order_updates",
        "order_status_merge",
        "order_log",
    ]);
    assert_ok(&output);
    assert!(
        output.stdout.contains("INSERT 0"),
        "the incremental path ran: {}",
        output.stdout
    );
    let incremental = (
        db.rows("select * from analytics.order_updates"),
        db.rows("select * from analytics.order_status_merge"),
        db.rows("select * from analytics.order_log"),
    );
    assert_eq!(incremental.0.len(), 7);
    assert!(
        incremental
            .0
            .contains(&"5|4|shipped|2024-01-06T09:00:00".to_owned()),
        "{:?}",
        incremental.0
    );
    // Running again changes nothing: delete+insert and merge are idempotent.
    assert_ok(&fixture.kiln(&["run", "-s", "order_updates", "order_status_merge"]));
    assert_eq!(
        db.rows("select * from analytics.order_updates"),
        incremental.0
    );
    assert_eq!(
        db.rows("select * from analytics.order_status_merge"),
        incremental.1
    );
    let output = fixture.kiln(&[
        "run",
        "-s",
        "order_updates",
        "order_status_merge",
        "--full-refresh",
    ]);
    assert_ok(&output);
    assert!(
        output.stdout.contains("SELECT 7"),
        "a full refresh rebuilds: {}",
        output.stdout
    );
    assert_eq!(
        db.rows("select * from analytics.order_updates"),
        incremental.0
    );
    assert_eq!(
        db.rows("select * from analytics.order_status_merge"),
        incremental.1
    );
    // The append model keeps history: the old status of order 5 and its new one.
    assert_eq!(incremental.2.len(), 8, "{:?}", incremental.2);
}

#[test]
fn two_concurrent_runs_of_one_project_both_succeed() {
    let (fixture, db) = jaffle("concurrent");
    assert_ok(&fixture.kiln(&["seed"]));
    let spawn = || {
        fixture
            .command(&["run"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    assert_eq!(db.rows("select count(*) from analytics.customers"), ["4"]);
    assert!(
        db.rows("select relname from pg_class where relname like '%__kiln_%'")
            .is_empty()
    );
}

#[test]
fn views_that_depend_on_a_rebuilt_relation_are_kept() {
    let (fixture, db) = jaffle("dependents");
    assert_ok(&fixture.kiln(&["build"]));
    // A view Kiln does not manage, on top of a model's table.
    db.execute("create view analytics.big_customers as select * from analytics.customers where lifetime_value > 20");
    let output = fixture.kiln(&["run", "-s", "customers"]);
    assert_ok(&output);
    assert!(
        output
            .stderr
            .contains("recreated the dependent view(s) analytics.big_customers"),
        "{}",
        output.stderr
    );
    assert_eq!(
        db.rows("select customer_id from analytics.big_customers"),
        ["2", "3"]
    );
    // Reloading seeds alone keeps the staging views that read them.
    assert_ok(&fixture.kiln(&["seed"]));
    assert_eq!(db.rows("select count(*) from analytics.stg_orders"), ["5"]);
}

#[test]
fn seeds_loaded_in_parallel_keep_a_view_that_joins_them() {
    let (fixture, db) = jaffle("shared_dependent");
    assert_ok(&fixture.kiln(&["seed"]));
    // One view on all three seeds: each parallel reload recreates it, and a reload must not
    // recreate it from a definition read before another reload replaced its inputs.
    db.execute(
        "create view analytics_raw.everything as \
         select (select count(*) from analytics_raw.raw_customers) as customers, \
                (select count(*) from analytics_raw.raw_orders) as orders, \
                (select count(*) from analytics_raw.raw_payments) as payments",
    );
    for _ in 0..8 {
        assert_ok(&fixture.kiln(&["seed", "--threads", "3"]));
    }
    assert_eq!(
        db.rows(
            "select customers || '|' || orders || '|' || payments from analytics_raw.everything"
        ),
        ["4|5|6"]
    );
}

#[test]
fn fail_fast_stops_the_run() {
    let (fixture, _db) = jaffle("failfast");
    assert_ok(&fixture.kiln(&["seed"]));
    let output = fixture.kiln(&[
        "run",
        "--vars",
        "{break_orders: true}",
        "--fail-fast",
        "--threads",
        "1",
    ]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stdout.contains("ERROR=1"), "{}", output.stdout);
}

#[test]
fn connection_errors_never_show_the_password() {
    let fixture = Fixture::new("jaffle")
        .env("KILN_TEST_TARGET", "server")
        .env("KILN_TEST_PG_HOST", "127.0.0.1")
        .env("KILN_TEST_PG_PORT", "1")
        .env("KILN_TEST_PG_PASSWORD", "s3cr3t-pa55word");
    for args in [&["debug"][..], &["run"][..]] {
        let output = fixture.kiln(args);
        assert_eq!(output.code, 2, "{}", output.transcript());
        assert!(
            output
                .stderr
                .contains("cannot connect to postgres@127.0.0.1:1/jaffle"),
            "{}",
            output.stderr
        );
        assert!(!output.transcript().contains("s3cr3t-pa55word"));
    }
    for artifact in ["target/manifest.json", "target/run_results.json"] {
        if let Ok(text) = std::fs::read_to_string(fixture.dir.join(artifact)) {
            assert!(
                !text.contains("s3cr3t-pa55word"),
                "{artifact} leaks the password"
            );
        }
    }
}

#[test]
fn templates_see_the_warehouse_when_they_run() {
    let (fixture, db) = jaffle("introspection");
    let output = fixture.kiln(&["build"]);
    assert_ok(&output);
    // log(..., info=True) shows during the run, once, with what the model saw at run time.
    assert_eq!(
        output
            .stderr
            .matches("column_report counts 5 orders")
            .count(),
        1,
        "{}",
        output.transcript()
    );
    // adapter.get_columns_in_relation, statement + load_result and run_query, at run time.
    assert_eq!(
        db.rows("select orders_column_count, orders_columns, order_count, statuses from analytics.column_report"),
        ["5|order_id,customer_id,order_date,status,amount|5|completed,placed,returned,shipped"]
    );
    // The post-hook ran in the model's context, and both run hooks ran.
    assert_eq!(
        db.rows("select obj_description('analytics.column_report'::regclass)"),
        ["orders has column_report report"]
    );
    assert_eq!(db.rows("select command from audit.runs"), ["build"]);
    // The model rendered once, when it ran: target/compiled and the manifest written after
    // the run hold that SQL (with the warehouse's answers), not a render without it.
    let ran = "'completed,placed,returned,shipped' as statuses";
    assert!(
        fixture
            .read("target/compiled/jaffle/models/marts/column_report.sql")
            .contains(ran)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let compiled = manifest["nodes"]["model.jaffle.column_report"]["compiled_code"]
        .as_str()
        .unwrap_or_default();
    assert!(compiled.contains(ran), "{compiled}");
    // Run again with nothing changed: the compiled file is left as it was (not rewritten).
    let path = fixture
        .dir
        .join("target/compiled/jaffle/models/marts/column_report.sql");
    let modified = || std::fs::metadata(&path).unwrap().modified().unwrap();
    let before = modified();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_ok(&fixture.kiln(&["run", "-s", "column_report"]));
    assert_eq!(modified(), before);
    // dbt's cross-database macros compile to PostgreSQL that runs and gives dbt's answers.
    assert_eq!(
        db.rows(
            "select due_date::date::text, days_since_new_year, months_since, month_end::text, label, second_part, escaped, status_end \
             from analytics.cross_db where order_id = 2"
        ),
        ["2024-01-09|1|2|2024-01-31|completed-2|b|it's|ted"]
    );
    assert_eq!(
        db.rows("select status, order_ids, has_late_order from analytics.status_summary"),
        [
            "completed|2,3|false",
            "placed|5|true",
            "returned|1|false",
            "shipped|4|false"
        ]
    );
}

#[test]
fn builds_on_an_explicitly_configured_server() {
    let db = Database::new("explicit");
    let fixture = db.configure_as_server(Fixture::new("jaffle"));
    let output = fixture.kiln(&["build"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        !output.stderr.contains("Starting the local PostgreSQL"),
        "{}",
        output.stderr
    );
    assert!(
        !fixture.dir.join("target/postgres").exists(),
        "no managed instance is created"
    );
    assert_eq!(db.rows("select count(*) from analytics.customers"), ["4"]);
}

#[test]
fn debug_checks_each_part_and_json_logs_are_one_object_per_line() {
    let (fixture, _db) = jaffle("debug_json");
    let debug = fixture.kiln(&["debug"]);
    assert_eq!(debug.code, 0, "{}", debug.transcript());
    for part in [
        "project: jaffle",
        "profile: jaffle target local",
        "connection: ",
        "server: PostgreSQL",
        "All checks passed",
    ] {
        assert!(debug.stderr.contains(part), "{part} in {}", debug.stderr);
    }
    let output = fixture.kiln(&["seed", "--log-format", "json"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let events: Vec<serde_json::Value> = output
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "finish").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"summary"));
    assert_eq!(events.last().unwrap()["pass"], 3);
}

#[test]
fn ctrl_c_cancels_the_query_keeps_the_old_table_and_exits_130() {
    interrupt_slow_build("interrupt", "-INT", 130);
}

/// What `timeout`, a CI cancellation and `docker stop` send: handled as Ctrl-C is.
#[test]
fn sigterm_cancels_the_query_keeps_the_old_table_and_exits_143() {
    interrupt_slow_build("sigterm", "-TERM", 143);
}

#[test]
fn sighup_cancels_the_query_keeps_the_old_table_and_exits_129() {
    interrupt_slow_build("sighup", "-HUP", 129);
}

/// Sends `signal` to a build whose query is running: the query is cancelled on the server, the
/// old table stays, the results are written, and kiln exits with 128 + the signal's number.
fn interrupt_slow_build(test: &str, signal: &str, code: i32) {
    let (fixture, db) = jaffle(test);
    assert_ok(&fixture.kiln(&["build"]));
    let before = db.rows("select * from analytics.customers");
    std::fs::remove_file(fixture.dir.join("target/run_results.json")).unwrap();
    let child = start_slow_customers_build(&fixture, &db);
    let interrupted = Instant::now();
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "the query was cancelled, not waited for"
    );
    // The query is gone from the server, the old table is intact, the results were written.
    assert!(
        db.query(SLOW_BUILD).rows.is_empty(),
        "the query was cancelled on the server"
    );
    assert_eq!(db.rows("select * from analytics.customers"), before);
    assert!(
        db.rows("select relname from pg_class where relname like '%__kiln_%'")
            .is_empty()
    );
    assert!(fixture.dir.join("target/run_results.json").is_file());
}

#[test]
fn a_dropped_connection_fails_its_node_only_and_is_replaced() {
    let (fixture, db) = jaffle("dropped_connection");
    assert_ok(&fixture.kiln(&["seed"]));
    // Runs first on the only worker (a root, first by name) and ends its own session.
    std::fs::write(
        fixture.dir.join("models/a_session_killer.sql"),
        "{{ config(pre_hook=\"select pg_terminate_backend(pg_backend_pid())\") }}\nselect 1 as id\n",
    )
    .unwrap();
    let output = fixture.kiln(&["run", "--threads", "1"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert_eq!(fixture.status("model.jaffle.a_session_killer"), "error");
    assert!(
        output.stdout.contains("terminating connection"),
        "the node shows the server's message:\n{}",
        output.stdout
    );
    // Every other model built, on a new connection.
    assert!(
        output.stdout.contains("ERROR=1 SKIP=0"),
        "{}",
        output.stdout
    );
    assert_eq!(db.rows("select count(*) from analytics.orders"), ["5"]);
}

#[test]
fn a_model_that_renders_to_no_sql_fails_with_its_file_not_a_syntax_error() {
    let (fixture, _db) = jaffle("empty_model");
    std::fs::write(
        fixture.dir.join("models/empty_model.sql"),
        "{# nothing yet #}\n-- a comment\n",
    )
    .unwrap();
    let output = fixture.kiln(&["run", "-s", "empty_model"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("model `empty_model` renders to no SQL"),
        "{}",
        output.stdout
    );
    assert!(!output.stdout.contains("syntax error"), "{}", output.stdout);
}

#[test]
fn retry_after_a_failed_night_builds_only_what_failed_or_was_skipped() {
    let (fixture, db) = jaffle("retry");
    // Night 1: the loader delivered order 1 twice. The unique test on stg_orders fails and
    // everything built on stg_orders is skipped.
    let orders = fixture.read("seeds/raw_orders.csv");
    let duplicate = orders.lines().nth(1).unwrap();
    fixture.write("seeds/raw_orders.csv", &format!("{orders}{duplicate}\n"));
    let night = fixture.kiln(&["build"]);
    assert_eq!(night.code, 1, "{}", night.transcript());
    assert!(
        night.stdout.contains("FAIL 1 unique_stg_orders_order_id"),
        "{}",
        night.stdout
    );
    assert_eq!(fixture.status("model.jaffle.orders"), "skipped");
    // The loader fixes the data in the warehouse; the scheduler retries.
    db.execute(
        "delete from analytics_raw.raw_orders a using analytics_raw.raw_orders b \
         where a.id = b.id and a.ctid > b.ctid",
    );
    let retry = fixture.kiln(&["retry"]);
    assert_eq!(retry.code, 0, "{}", retry.transcript());
    // Only the failed test and the skipped nodes ran: no seed was reloaded (that would bring
    // the duplicate back), no model that succeeded was rebuilt.
    assert!(
        !retry.stdout.contains("seed file") && !retry.stdout.contains("stg_payments "),
        "{}",
        retry.stdout
    );
    assert!(
        retry.stdout.contains("PASS unique_stg_orders_order_id"),
        "{}",
        retry.stdout
    );
    assert!(
        retry
            .stdout
            .contains("OK created sql table model analytics.orders"),
        "{}",
        retry.stdout
    );
    assert_eq!(fixture.status("model.jaffle.orders"), "success");
    assert_eq!(
        db.rows("select count(*) from analytics.orders"),
        [orders.lines().count().saturating_sub(1).to_string()]
    );
    // Nothing left to retry.
    let again = fixture.kiln(&["retry"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(
        again.stderr.contains("Nothing to retry"),
        "{}",
        again.transcript()
    );
}

/// The unique ids a run_results.json lists, sorted.
fn ran(fixture: &Fixture) -> Vec<String> {
    let results: serde_json::Value =
        serde_json::from_str(&fixture.read("target/run_results.json")).unwrap();
    let mut ids: Vec<String> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap().to_owned())
        .filter(|id| !id.starts_with("operation."))
        .collect();
    ids.sort();
    ids
}

#[test]
fn slim_ci_builds_only_the_changed_model_and_its_children_reading_parents_from_production() {
    let db = Database::new("slim_ci");
    let mut fixture = db
        .configure(Fixture::new("jaffle"))
        .env("KILN_TEST_SCHEMA", "prod");
    assert_ok(&fixture.kiln(&["build"]));
    crate::support::copy_dir(
        &fixture.dir.join("target"),
        &fixture.dir.join("prod-target"),
    );
    // Nothing changed yet: nothing is modified, and that is not an error.
    let none = fixture.kiln(&["ls", "-s", "state:modified", "--state", "prod-target"]);
    assert_eq!(none.code, 0, "{}", none.transcript());
    assert_eq!(none.stdout.trim(), "", "{}", none.transcript());
    // A pull request changes stg_orders; CI builds in a schema of its own.
    let model = "models/staging/stg_orders.sql";
    let changed = fixture
        .read(model)
        .replace("status,", "status, -- reviewed\n");
    fixture.write(model, &changed);
    fixture.set_env("KILN_TEST_SCHEMA", "ci");
    let ci = fixture.kiln(&[
        "build",
        "-s",
        "state:modified+",
        "--defer",
        "--state",
        "prod-target",
    ]);
    assert_ok(&ci);
    let built = ran(&fixture);
    assert!(
        built.contains(&"model.jaffle.stg_orders".to_owned())
            && built.contains(&"model.jaffle.orders".to_owned()),
        "{built:?}"
    );
    // Only stg_orders and what depends on it: no seed, no unchanged sibling.
    assert!(
        built.iter().all(|id| !id.starts_with("seed.")
            && id != "model.jaffle.stg_payments"
            && id != "model.jaffle.stg_customers"),
        "{built:?}"
    );
    // The parents it did not build were read from production: the CI schema has no seeds,
    // and the CI tables hold production's rows.
    assert_eq!(
        db.rows("select count(*) from pg_namespace where nspname = 'ci_raw'"),
        ["0"]
    );
    assert_eq!(
        db.rows("select * from ci.orders"),
        db.rows("select * from prod.orders")
    );
    assert!(ci.stderr.contains("Deferred"), "{}", ci.transcript());
    // state:new finds nothing new; --state without a manifest is a clear error.
    let new = fixture.kiln(&["ls", "-s", "state:new", "--state", "prod-target"]);
    assert_eq!(new.stdout.trim(), "", "{}", new.transcript());
    // result: reads the state run's run_results.json.
    let succeeded = fixture.kiln(&[
        "ls",
        "-s",
        "result:success",
        "--state",
        "prod-target",
        "-o",
        "name",
    ]);
    assert!(
        succeeded.stdout.lines().any(|l| l == "stg_orders"),
        "{}",
        succeeded.transcript()
    );
    let failed = fixture.kiln(&["ls", "-s", "result:error", "--state", "prod-target"]);
    assert_eq!(failed.stdout.trim(), "", "{}", failed.transcript());
    // A changed macro modifies the models that call it, and only those.
    let macro_file = "macros/cents_to_dollars.sql";
    fixture.write(
        macro_file,
        &fixture.read(macro_file).replace("100", "100.0"),
    );
    let by_macro = fixture.kiln(&[
        "ls",
        "-s",
        "state:modified.macros",
        "--state",
        "prod-target",
        "--resource-type",
        "model",
        "-o",
        "name",
    ]);
    assert_eq!(
        by_macro.stdout.trim(),
        "stg_payments",
        "{}",
        by_macro.transcript()
    );
    // A changed seed file is a modified seed (its checksum, as dbt keeps it).
    let seed_file = "seeds/raw_customers.csv";
    fixture.write(seed_file, &format!("{}5,Eve,E.\n", fixture.read(seed_file)));
    let by_seed = fixture.kiln(&[
        "ls",
        "-s",
        "state:modified.body",
        "--state",
        "prod-target",
        "--resource-type",
        "seed",
        "-o",
        "name",
    ]);
    assert_eq!(
        by_seed.stdout.trim(),
        "raw_customers",
        "{}",
        by_seed.transcript()
    );
    let missing = fixture.kiln(&["ls", "-s", "state:modified", "--state", "nowhere"]);
    assert_eq!(missing.code, 2, "{}", missing.transcript());
    assert!(
        missing.stderr.contains("no manifest.json"),
        "{}",
        missing.transcript()
    );
}

#[test]
fn empty_builds_every_model_without_rows_and_warn_error_fails_on_a_warning() {
    let (fixture, db) = jaffle("empty_flag");
    assert_ok(&fixture.kiln(&["seed"]));
    let compiled = fixture.kiln(&["compile", "--empty", "-s", "stg_orders"]);
    assert_ok(&compiled);
    assert!(
        compiled
            .stdout
            .contains("where false limit 0) _dbt_limit_subq_raw_orders"),
        "{}",
        compiled.stdout
    );
    let empty = fixture.kiln(&["run", "--empty", "-s", "+orders"]);
    assert_ok(&empty);
    assert_eq!(db.rows("select count(*) from analytics.orders"), ["0"]);
    assert_eq!(db.rows("select count(*) from analytics.stg_orders"), ["0"]);
    // One payment without an amount: not_null on stg_payments.amount warns (warn_if >0,
    // error_if >5). A warning passes, unless warnings are errors.
    assert_ok(&fixture.kiln(&["run", "-s", "stg_payments"]));
    db.execute("insert into analytics_raw.raw_payments (id, order_id, payment_method) values (999, 1, 'cash')");
    let test = ["test", "-s", "stg_payments"];
    let warned = fixture.kiln(&test);
    assert_eq!(warned.code, 0, "{}", warned.transcript());
    assert!(warned.stdout.contains("WARN=1"), "{}", warned.stdout);
    let strict = fixture.kiln(&[&test[..], &["--warn-error"]].concat());
    assert_eq!(strict.code, 1, "{}", strict.transcript());
    let options = fixture.kiln(&[&test[..], &["--warn-error-options", "{include: all}"]].concat());
    assert_eq!(options.code, 1, "{}", options.transcript());
    // Accepted for dbt compatibility, and --target-path moves the artifacts.
    let moved = fixture.kiln(
        &[
            &test[..],
            &["--no-version-check", "--target-path", "ci-target"],
        ]
        .concat(),
    );
    assert_eq!(moved.code, 0, "{}", moved.transcript());
    assert!(fixture.dir.join("ci-target/run_results.json").is_file());
}

#[test]
fn a_runaway_query_is_stopped_by_statement_timeout() {
    let (mut fixture, db) = jaffle("statement_timeout");
    assert_ok(&fixture.kiln(&["seed"]));
    fixture.write(
        "models/slow.sql",
        "{{ config(materialized='table', statement_timeout='300ms') }}\nselect 1 as id from pg_sleep(5)",
    );
    fixture.write(
        "models/slow_by_profile.sql",
        "{{ config(materialized='table') }}\nselect 1 as id from pg_sleep(5)",
    );
    // The model's own config: the build is cancelled by the server, the node fails with its
    // message, and the others go on.
    let started = std::time::Instant::now();
    let output = fixture.kiln(&["run", "-s", "slow", "stg_orders"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("canceling statement due to statement timeout"),
        "{}",
        output.transcript()
    );
    assert_eq!(fixture.status("model.jaffle.stg_orders"), "success");
    // The profile's `statement_timeout` holds for every statement of the run.
    fixture.set_env("KILN_TEST_STATEMENT_TIMEOUT", "400");
    let output = fixture.kiln(&["run", "-s", "slow_by_profile"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("canceling statement due to statement timeout"),
        "{}",
        output.transcript()
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "two 5 s queries were not stopped"
    );
    assert!(
        db.rows("select relname from pg_class where relname like 'slow%'")
            .is_empty()
    );
}

#[test]
fn tls_asked_of_a_server_without_it_says_what_to_change() {
    let db = Database::new("tls_refused");
    // The test server runs without TLS, as a fresh PostgreSQL does.
    let fixture = db
        .configure_as_server(Fixture::new("jaffle"))
        .env("KILN_TEST_SSLMODE", "require");
    let output = fixture.kiln(&["run"]);
    assert_eq!(output.code, 2, "{}", output.transcript());
    assert!(
        output.stderr.contains("server does not support TLS")
            && output.stderr.contains("set `sslmode: disable`")
            && !output.stderr.contains("sqlx"),
        "{}",
        output.transcript()
    );
}

#[test]
fn adapter_methods_act_on_the_warehouse_in_run_operation() {
    let (fixture, db) = jaffle("adapter_methods");
    fixture.write(
        "macros/housekeeping.sql",
        "{% macro housekeeping() %}
  {% set scratch = api.Relation.create(schema=target.schema ~ '_scratch', identifier='old_thing') %}
  {% do adapter.create_schema(scratch) %}
  {% do run_query('create table ' ~ scratch ~ ' (id int, name text)') %}
  {% do run_query('insert into ' ~ scratch ~ ' values (1, \\'a\\')') %}
  {{ log('exists: ' ~ adapter.check_schema_exists(none, target.schema ~ '_scratch'), info=True) }}
  {% set in_table = check_schema_exists(none, target.schema ~ '_scratch').rows[0][0] %}
  {% set listed_schemas = list_schemas(target.database).columns['nspname'] | list %}
  {{ log('schemas: ' ~ (target.schema ~ '_scratch' in adapter.list_schemas(target.database)) ~ ' ' ~ in_table ~ ' ' ~ (target.schema ~ '_scratch' in listed_schemas), info=True) }}
  {% set new_columns = diff_columns(adapter.get_columns_in_relation(scratch), [api.Column.create('id', 'integer')]) %}
  {{ log('new columns: ' ~ new_columns | map(attribute='name') | join(','), info=True) }}
  {{ log('columns: ' ~ adapter.get_columns_in_query('select 1 as a, 2 as b') | join(','), info=True) }}
  {% set listed = adapter.list_relations_without_caching(scratch) %}
  {{ log('listed: ' ~ listed | map(attribute='identifier') | join(','), info=True) }}
  {% do adapter.truncate_relation(scratch) %}
  {{ log('rows after truncate: ' ~ run_query('select count(*) from ' ~ scratch).rows[0][0], info=True) }}
  {% set renamed = api.Relation.create(schema=scratch.schema, identifier='renamed_thing') %}
  {% do adapter.rename_relation(scratch, renamed) %}
  {{ log('renamed: ' ~ (adapter.get_relation(database=none, schema=scratch.schema, identifier='renamed_thing') is not none), info=True) }}
  {% set temp = make_temp_relation(renamed) %}
  {{ log('temp: ' ~ temp ~ ' ' ~ (temp.identifier | length), info=True) }}
  {% set long = api.Relation.create(schema=scratch.schema, identifier='x' * 60) %}
  {{ log('intermediate: ' ~ make_intermediate_relation(long).identifier ~ ' ' ~ (make_intermediate_relation(long).identifier | length), info=True) }}
  {{ log('backup: ' ~ make_backup_relation(renamed, 'view') ~ ' ' ~ make_backup_relation(renamed, 'view').type, info=True) }}
  {% set empty = run_query(get_empty_subquery_sql('select id, name from ' ~ renamed)) %}
  {{ log('empty: ' ~ (empty.rows | length) ~ ' rows, ' ~ empty.column_names | join(','), info=True) }}
  {% set table = run_query('/* a comment first, as packages write */ select 1 as ID, 2 as b union all select 3, 4 order by 1') %}
  {% set renamed_columns = table.rename({'id': 'key'}).column_names | join(',') %}
  {% set items = table.rows[0].items() | list %}
  {% set found = 3 in table.columns['id'] %}
  {{ log('agate: ' ~ (table.rows | length) ~ ' rows; ' ~ renamed_columns ~ '; items ' ~ items ~ '; get ' ~ table.rows[1].get('b') ~ '; column ' ~ found ~ ' ' ~ (table.columns['b'] | list), info=True) }}
  {% do drop_relation_if_exists(none) %}
  {% do drop_relation_if_exists(renamed) %}
  {{ log('dropped: ' ~ (adapter.get_relation(database=none, schema=scratch.schema, identifier='renamed_thing') is none), info=True) }}
  {% do adapter.drop_schema(scratch) %}
{% endmacro %}
",
    );
    let output = fixture.kiln(&["run-operation", "housekeeping"]);
    assert_ok(&output);
    for line in [
        "exists: True",
        "schemas: True 1 True",
        "new columns: name",
        "columns: a,b",
        "listed: old_thing",
        "rows after truncate: 0",
        "renamed: True",
        // dbt-postgres's names: a temporary relation has no schema and a time suffix; an
        // intermediate one is cut to fit 63 bytes with its suffix.
        "temp: \"renamed_thing__dbt_tmp",
        &format!("intermediate: {}__dbt_tmp 63", "x".repeat(54)),
        "backup: \"analytics_scratch\".\"renamed_thing__dbt_backup\" view",
        "empty: 0 rows, id,name",
        // agate's Table, Row and Column as elementary and dbt_artifacts use them.
        "agate: 2 rows; key,b; items [['id', 1], ['b', 2]]; get 4; column True [2, 4]",
        "dropped: True",
    ] {
        assert!(
            output.stdout.contains(line) || output.stderr.contains(line),
            "{line}: {}",
            output.transcript()
        );
    }
    assert_eq!(
        db.rows("select count(*) from pg_namespace where nspname = 'analytics_scratch'"),
        ["0"]
    );
}
