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
    // dbt's --indirect-selection: the relationships test also reads `orders`, which is not
    // selected but is upstream of `customers` (customers reads it).
    let tests_of = |selection: &[&str], mode: &str| {
        let mut args = vec!["-s"];
        args.extend_from_slice(selection);
        args.extend(["--resource-type", "test", "--indirect-selection", mode]);
        ls(&fixture, &args)
    };
    let own = [
        "not_null_customers_customer_id",
        "unique_customers_customer_id",
    ];
    assert_eq!(tests_of(&["customers"], "cautious"), own);
    assert_eq!(
        tests_of(&["customers"], "buildable"),
        [
            "not_null_customers_customer_id",
            "relationships_orders_customer_id__customer_id__ref_customers_",
            "unique_customers_customer_id"
        ]
    );
    assert!(tests_of(&["customers"], "empty").is_empty());
    assert!(
        tests_of(&["customers", "orders"], "cautious")
            .contains(&"relationships_orders_customer_id__customer_id__ref_customers_".to_owned())
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

#[test]
fn exposures_are_listed_selected_and_in_the_manifest() {
    let fixture = Fixture::new("exposures");
    // What the dashboard reads, and the dashboard: `+exposure:` as a CI job asks for it.
    assert_eq!(
        ls(
            &fixture,
            &[
                "-s",
                "+exposure:weekly_revenue",
                "--resource-type",
                "model",
                "source",
                "exposure"
            ]
        ),
        ["weekly_revenue", "orders", "stg_orders", "raw_orders"]
    );
    let output = fixture.kiln(&["ls", "--resource-type", "exposure", "--output", "selector"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    // The disabled exposure is left out, as in dbt.
    assert_eq!(output.stdout.trim(), "exposure:exposures.weekly_revenue");
    // `exposure:package.name` selects it too; a bare name as well.
    for selector in ["exposure:exposures.weekly_revenue", "weekly_revenue"] {
        assert_eq!(
            ls(&fixture, &["-s", selector, "--resource-type", "exposure"]),
            ["weekly_revenue"]
        );
    }
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let exposure = &manifest["exposures"]["exposure.exposures.weekly_revenue"];
    assert_eq!(exposure["type"], "dashboard");
    assert_eq!(exposure["label"], "Weekly revenue");
    assert_eq!(exposure["owner"]["email"], "finance@example.com");
    assert_eq!(
        exposure["fqn"],
        serde_json::json!(["exposures", "marts", "weekly_revenue"])
    );
    assert_eq!(
        exposure["depends_on"]["nodes"],
        serde_json::json!(["source.exposures.app.raw_orders", "model.exposures.orders"])
    );
    assert_eq!(
        exposure["sources"],
        serde_json::json!([["app", "raw_orders"]])
    );
    assert_eq!(
        manifest["child_map"]["model.exposures.orders"],
        serde_json::json!(["exposure.exposures.weekly_revenue"])
    );
    assert!(
        manifest["nodes"]
            .get("exposure.exposures.weekly_revenue")
            .is_none()
    );
    assert!(
        manifest["exposures"]
            .get("exposure.exposures.retired_report")
            .is_none()
    );
    // The whole entry against dbt-core 1.11.16's for the same project (recorded in
    // dbt_expected.json), depends_on.nodes in dbt's order (sources, then refs).
    let recorded: serde_json::Value =
        serde_json::from_str(&fixture.read("dbt_expected.json")).unwrap();
    let without_time = |entry: &serde_json::Value| {
        let mut entry = entry.clone();
        entry.as_object_mut().unwrap().remove("created_at");
        entry
    };
    assert_eq!(without_time(exposure), without_time(&recorded["exposure"]));
}

#[test]
fn groups_select_their_models_and_are_in_the_manifest() {
    let fixture = Fixture::new("groups");
    assert_eq!(
        ls(&fixture, &["-s", "group:finance"]),
        ["invoices", "revenue"]
    );
    assert_eq!(ls(&fixture, &["-s", "group:market*"]), ["campaigns"]);
    let parse = fixture.kiln(&["parse"]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("target/manifest.json")).unwrap();
    let finance = &manifest["groups"]["group.groups.finance"];
    assert_eq!(finance["owner"]["email"], "finance-data@example.com");
    assert_eq!(finance["config"]["meta"]["slack"], "#finance-data");
    assert_eq!(
        manifest["groups"]["group.groups.marketing"]["owner"],
        serde_json::json!({"email": "marketing-data@example.com", "name": null})
    );
    assert_eq!(
        manifest["group_map"],
        serde_json::json!({
            "finance": ["model.groups.invoices", "model.groups.revenue"],
            "marketing": ["model.groups.campaigns"],
        })
    );
    let revenue = &manifest["nodes"]["model.groups.revenue"];
    assert_eq!(revenue["group"], "finance");
    assert_eq!(revenue["access"], "private");
    assert_eq!(revenue["config"]["group"], "finance");
    assert_eq!(
        manifest["nodes"]["model.groups.invoices"]["access"],
        "public"
    );
    assert_eq!(
        manifest["nodes"]["model.groups.campaigns"]["access"],
        "protected"
    );
    // All of it against dbt-core 1.11.16's manifest of the same project (dbt_expected.json).
    let recorded: serde_json::Value =
        serde_json::from_str(&fixture.read("dbt_expected.json")).unwrap();
    assert_eq!(manifest["groups"], recorded["groups"]);
    assert_eq!(manifest["group_map"], recorded["group_map"]);
    for (id, expected) in recorded["models"].as_object().unwrap() {
        let node = &manifest["nodes"][id];
        let actual = serde_json::json!({
            "group": node["group"],
            "access": node["access"],
            "config_group": node["config"]["group"],
            "config_access": node["config"]["access"],
        });
        assert_eq!(&actual, expected, "{id}");
    }
}
