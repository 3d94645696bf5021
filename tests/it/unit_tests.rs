//! Unit tests (dbt 1.8 `unit_tests:`) on tests/fixtures/unit_tests: inputs in every format,
//! overrides, `this`; a failing unit test shows the differing rows and skips its model.

use crate::pg::Database;
use crate::support::Fixture;

const FAILING: &str = "
  - name: test_wrong_expectation
    model: dim_customers
    given:
      - input: ref('stg_customers')
        rows: [{id: 1, email: ana@example.com, country: PT}, {id: 2, email: bad}]
      - input: ref('country_names')
        rows: []
      - input: ref('stg_orders')
        rows: []
    expect:
      rows:
        - {id: 1, is_valid_email: false}
        - {id: 2, is_valid_email: false}
";

#[test]
fn unit_tests_run_before_their_model_and_a_failure_shows_the_rows_and_skips_it() {
    let db = Database::new("unit_tests");
    let fixture = db.configure(Fixture::new("unit_tests"));

    // Before anything is built, the inputs have no columns to type the rows with: each unit
    // test says which relation is missing and how to build it.
    let early = fixture.kiln(&["test", "-s", "test_type:unit"]);
    assert_eq!(early.code, 1, "{}", early.transcript());
    assert!(
        early.stdout.contains("does not exist in the warehouse")
            && early.stdout.contains("--empty"),
        "{}",
        early.transcript()
    );

    // A build runs each unit test after the model's inputs and before the model (the table
    // behind `this` is not built yet: its columns come from the model's own query).
    let build = fixture.kiln(&["build"]);
    assert_eq!(build.code, 0, "{}", build.transcript());
    for test in [
        "dim_customers.test_email_validation_and_vip",
        "dim_customers.test_overrides",
        "fct_orders.test_incremental_reads_only_new_orders",
    ] {
        assert_eq!(
            fixture.status(&format!("unit_test.unit_tests.{test}")),
            "pass"
        );
    }
    let order: Vec<&str> = build
        .stdout
        .lines()
        .filter(|l| l.contains(" START "))
        .collect();
    let position = |text: &str| order.iter().position(|l| l.contains(text)).unwrap();
    assert!(position("stg_customers") < position("test_email_validation_and_vip"));
    assert!(position("test_email_validation_and_vip") < position("ut.dim_customers"));
    assert_eq!(
        db.rows("select id, is_valid_email, country_name from ut.dim_customers"),
        ["1|true|Portugal", "2|false|United States", "3|true|France"]
    );

    // A wrong expectation: the test fails with the rows that differ, the model is skipped and
    // keeps its rows.
    let yaml = fixture.read("models/marts/unit_tests.yml");
    fixture.write("models/marts/unit_tests.yml", &format!("{yaml}{FAILING}"));
    let failing = fixture.kiln(&["build", "-s", "+dim_customers"]);
    assert_eq!(failing.code, 1, "{}", failing.transcript());
    assert_eq!(
        fixture.status("unit_test.unit_tests.dim_customers.test_wrong_expectation"),
        "fail"
    );
    assert_eq!(fixture.status("model.unit_tests.dim_customers"), "skipped");
    assert!(
        failing.stdout.contains(
            "actual differs from expected: 1 expected row not produced, 1 row produced but not expected"
        ) && failing.stdout.contains("| -   | 1  | false          |")
            && failing.stdout.contains("| +   | 1  | true           |"),
        "{}",
        failing.transcript()
    );
    assert_eq!(db.rows("select count(*) from ut.dim_customers"), ["3"]);

    // `kiln test -s model` runs the model's unit tests with its data tests; `test_type:data`
    // leaves them out.
    let by_model = fixture.kiln(&["test", "-s", "dim_customers"]);
    assert!(
        by_model.stdout.contains("TOTAL=3"),
        "{}",
        by_model.transcript()
    );
    let data_only = fixture.kiln(&["ls", "-s", "test_type:data"]);
    assert!(
        !data_only.stdout.contains("test_overrides"),
        "{}",
        data_only.transcript()
    );

    // The manifest lists unit tests apart from nodes, as dbt's does.
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    assert_eq!(
        manifest["unit_tests"]["unit_test.unit_tests.dim_customers.test_overrides"]["resource_type"],
        "unit_test"
    );
    assert!(
        manifest["nodes"]
            .get("unit_test.unit_tests.dim_customers.test_overrides")
            .is_none()
    );
}
