//! `kiln source freshness` on a real PostgreSQL server.

use crate::pg::Database;
use crate::support::Fixture;

const LOADS: &str = "
create schema app;
create table app.events (id int, loaded_at timestamptz);
insert into app.events values (1, now() - interval '2 hours'), (2, now() - interval '3 hours');
create table app.orders (id int, loaded_at timestamptz);
insert into app.orders values (1, now() - interval '10 minutes');
create table app.payments (id int, loaded_at timestamptz);
insert into app.payments values (1, now() - interval '3 days');
create table app.refunds (id int, kind text, loaded_at timestamptz);
insert into app.refunds values (1, 'refund', now() - interval '13 hours'), (2, 'chargeback', now());
create table app.customers (id int, synced_at timestamp);
insert into app.customers values (1, (now() at time zone 'UTC') - interval '5 minutes');
create table app.empty_table (id int, loaded_at timestamptz);
create table app.lookup (id int, loaded_at timestamptz);
insert into app.lookup values (1, now() - interval '1 year');
create table app.archive (id int, loaded_at timestamptz);
insert into app.archive values (1, now() - interval '1 year');
";

fn statuses(fixture: &Fixture, file: &str) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&fixture.read(file)).unwrap();
    assert_eq!(
        json["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/sources/v3.json"
    );
    let mut out: Vec<String> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["unique_id"].as_str().unwrap(),
                r["status"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn source_freshness_judges_each_source_and_writes_sources_json() {
    let db = Database::new("freshness");
    let fixture = db.configure(Fixture::new("freshness"));
    db.execute(LOADS);
    let output = fixture.kiln(&["source", "freshness"]);
    // A source past its error_after (and one never loaded) fails the command.
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert_eq!(
        statuses(&fixture, "target/sources.json"),
        [
            "source.freshness.app.customers pass",
            "source.freshness.app.empty_table runtime error",
            "source.freshness.app.events warn",
            "source.freshness.app.orders pass",
            "source.freshness.app.payments error",
            "source.freshness.app.refunds error",
        ],
        "{}",
        output.transcript()
    );
    assert!(
        output.stdout.contains("WARN freshness of app.events")
            && output
                .stdout
                .contains("ERROR STALE freshness of app.payments")
            && output.stdout.contains("never been loaded")
            && output
                .stdout
                .contains("Done. PASS=2 WARN=1 ERROR=3 TOTAL=6"),
        "{}",
        output.transcript()
    );
    let json: serde_json::Value =
        serde_json::from_str(&fixture.read("target/sources.json")).unwrap();
    let events = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"] == "source.freshness.app.events")
        .unwrap();
    let age = events["max_loaded_at_time_ago_in_s"].as_f64().unwrap();
    assert!((7200.0..7300.0).contains(&age), "two hours ago: {age}");
    assert_eq!(events["criteria"]["warn_after"]["period"], "hour");
    // A selection of healthy sources passes, and -o writes elsewhere.
    let selected = fixture.kiln(&[
        "source",
        "freshness",
        "-s",
        "source:app.orders",
        "source:app.customers",
        "-o",
        "target/fresh.json",
    ]);
    assert_eq!(selected.code, 0, "{}", selected.transcript());
    assert_eq!(
        statuses(&fixture, "target/fresh.json"),
        [
            "source.freshness.app.customers pass",
            "source.freshness.app.orders pass"
        ]
    );
    // source_status:fresher: sources loaded since the state run's sources.json.
    crate::support::copy_dir(&fixture.dir.join("target"), &fixture.dir.join("state"));
    db.execute("insert into app.orders values (2, now())");
    assert_eq!(
        fixture
            .kiln(&["source", "freshness", "-s", "source:app.orders"])
            .code,
        0
    );
    let fresher = fixture.kiln(&["ls", "-s", "source_status:fresher", "--state", "state"]);
    assert_eq!(
        fresher.stdout.trim(),
        "source:freshness.app.orders",
        "{}",
        fresher.transcript()
    );
}
