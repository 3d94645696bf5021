//! `kiln test` and the tests of `kiln build` on a real PostgreSQL server: bad rows injected into
//! the fixture's raw data make exactly the right tests fail, warn or pass.

use serde_json::Value;

use crate::pg::Database;
use crate::support::Fixture;

fn jaffle(test: &str) -> (Fixture, Database) {
    let db = Database::new(test);
    (db.configure(Fixture::new("jaffle")), db)
}

fn append(fixture: &Fixture, seed: &str, rows: &str) {
    let path = format!("seeds/{seed}.csv");
    let mut text = fixture.read(&path);
    text.push_str(rows);
    fixture.write(&path, &text);
}

/// `(test name, status, failures)` of every test in run_results.json, sorted.
fn test_results(fixture: &Fixture) -> Vec<(String, String, u64)> {
    let results: Value = serde_json::from_str(&fixture.read("target/run_results.json")).unwrap();
    let mut out: Vec<(String, String, u64)> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["unique_id"].as_str().unwrap().starts_with("test."))
        .map(|r| {
            let id = r["unique_id"].as_str().unwrap();
            let name = id.split('.').nth(2).unwrap().to_owned();
            (
                name,
                r["status"].as_str().unwrap().to_owned(),
                r["failures"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

fn failing(fixture: &Fixture) -> Vec<(String, String, u64)> {
    test_results(fixture)
        .into_iter()
        .filter(|(_, status, _)| status != "pass")
        .collect()
}

#[test]
fn every_kind_of_test_passes_on_good_data() {
    let (fixture, _db) = jaffle("tests_pass");
    let output = fixture.kiln(&["build"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let results = test_results(&fixture);
    assert_eq!(results.len(), 10, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(_, status, failures)| status == "pass" && *failures == 0),
        "{results:?}"
    );
    let names: Vec<&str> = results.iter().map(|(n, _, _)| n.as_str()).collect();
    for expected in [
        "assert_lifetime_value_matches_payments",
        "positive_stg_payments_amount",
        "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_",
        "status_is_not_legacy",
        "unique_stg_orders_order_id",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
}

#[test]
fn injected_bad_rows_fail_exactly_the_right_tests() {
    let (fixture, _db) = jaffle("tests_fail");
    assert_eq!(fixture.kiln(&["build"]).code, 0);
    // A duplicate key, a status outside accepted_values, an orphan customer id, a null amount.
    append(
        &fixture,
        "raw_orders",
        "3,2,2024-01-03,completed,2024-01-03 09:30:00\n6,99,2024-01-07,lost,2024-01-07 10:00:00\n",
    );
    append(&fixture, "raw_payments", "7,2,credit_card,\n");
    assert_eq!(fixture.kiln(&["seed"]).code, 0);
    let output = fixture.kiln(&["test"]);
    assert_eq!(
        output.code,
        1,
        "a failing test fails the run: {}",
        output.transcript()
    );
    assert_eq!(
        failing(&fixture),
        [
            (
                "accepted_values_stg_orders_status__placed__shipped__completed__returned"
                    .to_owned(),
                "fail".to_owned(),
                1
            ),
            (
                "not_null_stg_payments_amount".to_owned(),
                "warn".to_owned(),
                1
            ),
            (
                "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_".to_owned(),
                "fail".to_owned(),
                1
            ),
            ("status_is_not_legacy".to_owned(), "warn".to_owned(), 1),
            (
                "unique_stg_orders_order_id".to_owned(),
                "fail".to_owned(),
                1
            ),
        ]
    );
    // The output explains itself: the count, the failing rows, the compiled file.
    let stdout = &output.stdout;
    assert!(
        stdout.contains("FAIL 1 unique_stg_orders_order_id"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Failure in test unique_stg_orders_order_id (models/schema.yml)"),
        "{stdout}"
    );
    assert!(stdout.contains("| unique_field | n_records |"), "{stdout}");
    assert!(stdout.contains("| 3            | 2         |"), "{stdout}");
    assert!(stdout.contains("compiled code at target/compiled/jaffle/models/schema.yml/unique_stg_orders_order_id.sql"), "{stdout}");
    assert!(
        stdout.contains("| 99         |"),
        "the orphan key is shown: {stdout}"
    );
    assert!(
        stdout.contains("Done. PASS=5 WARN=2 ERROR=3 SKIP=0 TOTAL=10"),
        "{stdout}"
    );
}

#[test]
fn warnings_alone_do_not_fail_the_run() {
    let (fixture, _db) = jaffle("tests_warn");
    append(&fixture, "raw_payments", "7,2,credit_card,\n");
    assert_eq!(fixture.kiln(&["build"]).code, 0);
    let output = fixture.kiln(&["test"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("WARN 1 not_null_stg_payments_amount"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("Completed with 1 warning(s)"),
        "{}",
        output.stdout
    );
}

#[test]
fn error_if_applies_at_its_threshold() {
    let (fixture, _db) = jaffle("tests_threshold");
    assert_eq!(fixture.kiln(&["build"]).code, 0);
    // not_null_stg_payments_amount: warn_if ">0", error_if ">5".
    let rows: String = (10..15)
        .map(|id| format!("{id},1,credit_card,\n"))
        .collect();
    append(&fixture, "raw_payments", &rows);
    assert_eq!(fixture.kiln(&["seed"]).code, 0);
    let five = fixture.kiln(&["test", "-s", "stg_payments"]);
    assert_eq!(five.code, 0, "5 nulls warn: {}", five.transcript());
    assert!(
        five.stdout.contains("WARN 5 not_null_stg_payments_amount"),
        "{}",
        five.stdout
    );
    append(&fixture, "raw_payments", "15,1,credit_card,\n");
    assert_eq!(fixture.kiln(&["seed"]).code, 0);
    let six = fixture.kiln(&["test", "-s", "stg_payments"]);
    assert_eq!(six.code, 1, "6 nulls fail: {}", six.transcript());
    assert!(
        six.stdout.contains("FAIL 6 not_null_stg_payments_amount"),
        "{}",
        six.stdout
    );
}

#[test]
fn where_narrows_a_test() {
    let (fixture, _db) = jaffle("tests_where");
    // positive_stg_payments_amount only looks at rows where payment_method != 'coupon'.
    append(&fixture, "raw_payments", "20,1,coupon,-100\n");
    assert_eq!(
        fixture.kiln(&["build"]).code,
        0,
        "a negative coupon is outside the test's where"
    );
    append(&fixture, "raw_payments", "21,1,credit_card,-100\n");
    assert_eq!(fixture.kiln(&["seed"]).code, 0);
    let output = fixture.kiln(&["test", "-s", "test_name:positive"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("FAIL 1 positive_stg_payments_amount"),
        "{}",
        output.stdout
    );
}

#[test]
fn store_failures_keeps_the_failing_rows() {
    let (fixture, db) = jaffle("tests_store");
    append(
        &fixture,
        "raw_orders",
        "3,2,2024-01-03,completed,2024-01-03 09:30:00\n",
    );
    assert_eq!(fixture.kiln(&["seed"]).code, 0);
    assert_eq!(fixture.kiln(&["run", "-s", "stg_orders"]).code, 0);
    let output = fixture.kiln(&[
        "test",
        "-s",
        "unique_stg_orders_order_id",
        "--store-failures",
    ]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains(r#"failing rows are stored in "it_tests_store"#),
        "the message names the table: {}",
        output.stdout
    );
    assert_eq!(
        db.rows("select unique_field, n_records from analytics_dbt_test__audit.unique_stg_orders_order_id"),
        ["3|2"]
    );
}

#[test]
fn a_failing_test_in_build_skips_what_depends_on_the_model() {
    let (fixture, _db) = jaffle("tests_build");
    append(
        &fixture,
        "raw_orders",
        "3,2,2024-01-03,completed,2024-01-03 09:30:00\n",
    );
    let output = fixture.kiln(&["build"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    let status = |id: &str| fixture.status(id);
    assert_eq!(status("model.jaffle.stg_orders"), "success");
    assert_eq!(
        status("model.jaffle.orders"),
        "skipped",
        "it depends on stg_orders, whose unique test failed"
    );
    assert_eq!(status("model.jaffle.customers"), "skipped");
    assert_eq!(
        status("model.jaffle.stg_payments"),
        "success",
        "unrelated branches go on"
    );
}
