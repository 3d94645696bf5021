//! `kiln init` makes a project that builds at once; `kiln show` prints a model's first rows.

use crate::pg::Database;
use crate::support::Fixture;

#[test]
fn init_creates_a_project_that_builds_and_shows() {
    let db = Database::new("init");
    let fixture = db.configure(Fixture::new("err_no_project_file"));
    let output = fixture.kiln(&["init", "shop_project", "--name", "shop_project"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let project = fixture.dir.join("shop_project");
    for file in [
        "project.yml",
        "profiles.yml",
        "seeds/raw_orders.csv",
        "models/staging/stg_orders.sql",
        "models/marts/customer_orders.sql",
        "models/schema.yml",
        "macros/cents_to_dollars.sql",
    ] {
        assert!(project.join(file).is_file(), "{file} is created");
    }
    // Point the managed target at the test server's instance and database.
    let profiles = std::fs::read_to_string(project.join("profiles.yml")).unwrap();
    let profiles = profiles.replacen(
        "managed: true",
        "managed: true\n      data_dir: \"{{ env_var('KILN_TEST_PG_DIR') }}\"\n      dbname: \"{{ env_var('KILN_TEST_DB') }}\"",
        1,
    );
    std::fs::write(project.join("profiles.yml"), profiles).unwrap();
    let dir = project.display().to_string();
    let build = fixture.kiln(&["build", "--project-dir", &dir]);
    assert_eq!(build.code, 0, "{}", build.transcript());
    assert!(
        build
            .stdout
            .contains("Done. PASS=11 WARN=0 ERROR=0 SKIP=0 TOTAL=11"),
        "{}",
        build.stdout
    );
    let show = fixture.kiln(&["show", "--project-dir", &dir, "-s", "customer_orders"]);
    assert_eq!(show.code, 0, "{}", show.transcript());
    assert_eq!(
        show.stdout.lines().collect::<Vec<_>>(),
        [
            "| customer_id | first_name | last_name | completed_orders | lifetime_value |",
            "|-------------|------------|-----------|------------------|----------------|",
            "| 1           | Ada        | Lovelace  | 2                | 46.50          |",
            "| 2           | Alan       | Turing    | 0                | 0              |",
            "| 3           | Grace      | Hopper    | 0                | 0              |",
        ]
    );
    let again = fixture.kiln(&["init", "shop_project"]);
    assert_eq!(
        again.code,
        2,
        "init never overwrites a project: {}",
        again.transcript()
    );
}

#[test]
fn show_runs_inline_queries_with_refs_and_limits() {
    let db = Database::new("show");
    let fixture = db.configure(Fixture::new("jaffle"));
    assert_eq!(fixture.kiln(&["seed"]).code, 0);
    assert_eq!(fixture.kiln(&["run", "-s", "stg_orders"]).code, 0);
    let output = fixture.kiln(&[
        "show",
        "--inline",
        "select status, count(*) as n from {{ ref('stg_orders') }} group by 1 order by 1",
        "--limit",
        "2",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert_eq!(
        output.stdout.lines().collect::<Vec<_>>(),
        [
            "| status    | n |",
            "|-----------|---|",
            "| completed | 2 |",
            "| placed    | 1 |"
        ]
    );
    assert!(
        output.stderr.contains("2 rows shown (--limit 2)"),
        "{}",
        output.stderr
    );
}
