//! `kiln ls` and the selection syntax, end to end. `ls` prints in unique-id order.

use crate::support::Fixture;

/// `kiln ls --output name <args>`; models only unless `args` names resource types.
fn ls(fixture: &Fixture, args: &[&str]) -> Vec<String> {
    let mut full = vec!["ls", "--output", "name"];
    if !args.contains(&"--resource-type") {
        full.extend(["--resource-type", "model", "seed", "source"]);
    }
    full.extend_from_slice(args);
    let output = fixture.kiln(&full);
    assert_eq!(output.code, 0, "{}", output.transcript());
    output.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn selection_syntax() {
    let fixture = Fixture::new("shop");
    assert_eq!(fixture.kiln(&["deps"]).code, 0);
    assert_eq!(
        ls(&fixture, &["-s", "+orders", "--resource-type", "model"]),
        [
            "int_order_payments",
            "orders",
            "stg_shop__orders",
            "stg_shop__payments"
        ]
    );
    assert_eq!(
        ls(&fixture, &["-s", "stg_shop__payments+1"]),
        ["customers", "int_order_payments", "stg_shop__payments"]
    );
    assert_eq!(
        ls(&fixture, &["-s", "tag:nightly", "--exclude", "customers"]),
        ["orders"]
    );
    assert_eq!(
        ls(&fixture, &["-s", "config.materialized:ephemeral"]),
        ["int_order_payments"]
    );
    assert_eq!(
        ls(
            &fixture,
            &[
                "-s",
                "path:models/staging,tag:staging",
                "--exclude",
                "stg_shop__customers"
            ]
        ),
        ["stg_shop__orders", "stg_shop__payments"]
    );
    assert_eq!(
        ls(
            &fixture,
            &["-s", "source:raw_shop.orders+", "--resource-type", "model"]
        ),
        ["customers", "orders", "stg_shop__orders"]
    );
    assert_eq!(
        ls(
            &fixture,
            &[
                "-s",
                "@stg_shop__orders",
                "--resource-type",
                "seed",
                "model",
                "--exclude",
                "marts"
            ]
        ),
        [
            "int_order_payments",
            "stg_shop__customers",
            "stg_shop__orders",
            "stg_shop__payments"
        ]
    );
}

#[test]
fn tests_come_along_with_what_they_test() {
    let fixture = Fixture::new("shop");
    assert_eq!(fixture.kiln(&["deps"]).code, 0);
    assert_eq!(
        ls(&fixture, &["-s", "customers", "--resource-type", "test"]),
        [
            "not_null_customers_customer_id",
            "relationships_orders_customer_id__customer_id__ref_customers_",
            "unique_customers_customer_id"
        ]
    );
    assert_eq!(
        ls(
            &fixture,
            &[
                "-s",
                "customers",
                "--exclude",
                "test_name:unique",
                "--resource-type",
                "test"
            ]
        ),
        [
            "not_null_customers_customer_id",
            "relationships_orders_customer_id__customer_id__ref_customers_"
        ]
    );
    assert_eq!(
        ls(
            &fixture,
            &["-s", "source:raw_shop", "--resource-type", "test"]
        ),
        [
            "source_not_null_raw_shop_orders_id",
            "source_unique_raw_shop_customers_id",
            "source_unique_raw_shop_orders_id"
        ]
    );
}

#[test]
fn ls_outputs() {
    let fixture = Fixture::new("shop");
    assert_eq!(fixture.kiln(&["deps"]).code, 0);
    let selector = fixture.kiln(&[
        "ls",
        "-s",
        "orders",
        "source:raw_shop.customers",
        "--resource-type",
        "model",
        "source",
    ]);
    assert_eq!(
        selector.stdout,
        "shop.marts.orders\nsource:shop.raw_shop.customers\n"
    );
    let path = fixture.kiln(&[
        "ls",
        "-s",
        "orders",
        "--output",
        "path",
        "--resource-type",
        "model",
    ]);
    assert_eq!(path.stdout, "models/marts/orders.sql\n");
    let json = fixture.kiln(&[
        "list",
        "-s",
        "orders",
        "--output",
        "json",
        "--resource-type",
        "model",
    ]);
    let node: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(node["unique_id"], "model.shop.orders");
    assert_eq!(node["config"]["materialized"], "incremental");
}
