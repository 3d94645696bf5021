//! Snapshots on a real PostgreSQL server, compared row by row with what dbt-core 1.11 recorded
//! for the same steps (tests/fixtures/snapshots/README.md).

use std::collections::BTreeMap;

use crate::pg::Database;
use crate::support::{Fixture, fixtures_dir};

/// The snapshot tables and whether their scd ids hash the run's time (check strategy).
const TABLES: &[(&str, bool)] = &[
    ("snapshots.customers_ts", false),
    ("snapshots.customers_invalidate", false),
    ("snapshots.accounts_check_all", true),
    ("analytics_history.accounts_plan", true),
];

fn steps() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixtures_dir().join("snapshots/steps.sql")).unwrap();
    text.split("-- step ")
        .skip(1)
        .map(|step| {
            let (number, sql) = step.split_once('\n').unwrap();
            (number.trim().to_owned(), sql.to_owned())
        })
        .collect()
}

fn is_run_time(cell: &str) -> bool {
    // `2026-12-01 11:38:43.123456`: a time stamped by the run, not by the source data (2024).
    cell.len() >= 19
        && cell[..4]
            .parse::<u32>()
            .is_ok_and(|year| (2025..9000).contains(&year))
        && cell.as_bytes()[4] == b'-'
        && cell.as_bytes()[10] == b' '
}

fn is_md5(cell: &str) -> bool {
    cell.len() == 32 && cell.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The table as the recorder wrote it: a header, then rows sorted, with run times ranked
/// (`now#1`, `now#2`...) and, for check snapshots, their hashes as `<md5>`.
fn normalized(db: &Database, table: &str, hashes_vary: bool) -> Vec<Vec<String>> {
    let result = db.query(&format!("select * from {table}"));
    // Cells as the server writes them (as psql --csv does), NULL as an empty cell.
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .zip(&result.texts)
        .map(|(values, texts)| {
            values
                .iter()
                .zip(texts)
                .map(|(value, text)| match value {
                    serde_json::Value::Null => String::new(),
                    // Timestamps as psql writes them: a space between date and time.
                    _ if text.len() >= 19 && text.as_bytes()[10] == b'T' => {
                        text.replacen('T', " ", 1)
                    }
                    _ => text.clone(),
                })
                .collect()
        })
        .collect();
    let mut times: Vec<&String> = cells.iter().flatten().filter(|c| is_run_time(c)).collect();
    times.sort();
    times.dedup();
    let rank: BTreeMap<&String, String> = times
        .iter()
        .enumerate()
        .map(|(i, t)| (*t, format!("now#{}", i + 1)))
        .collect();
    let mut rows: Vec<Vec<String>> = cells
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| match rank.get(cell) {
                    Some(ranked) => ranked.clone(),
                    None if hashes_vary && is_md5(cell) => "<md5>".to_owned(),
                    None => cell.clone(),
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows.insert(0, result.columns.clone());
    rows
}

fn expected(file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(fixtures_dir().join("snapshots/expected").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    text.lines()
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

fn assert_tables_equal_dbt(db: &Database, step: &str) {
    for (table, hashes_vary) in TABLES {
        let name = table.split_once('.').unwrap().1;
        assert_eq!(
            normalized(db, table, *hashes_vary),
            expected(&format!("{name}.step{step}.csv")),
            "{table} after step {step}"
        );
    }
}

#[test]
fn snapshots_equal_dbt_core_step_by_step() {
    let db = Database::new("snapshot_steps");
    let fixture = db.configure(Fixture::new("snapshots"));
    let steps = steps();
    assert_eq!(steps.len(), 4, "steps 0 to 3");
    for (number, sql) in &steps {
        db.execute(sql);
        // `kiln snapshot` for the history, `kiln build` (snapshots, then the model on one) last.
        let command = if number == "3" { "build" } else { "snapshot" };
        let output = fixture.kiln(&[command]);
        assert_eq!(output.code, 0, "step {number}: {}", output.transcript());
        assert_tables_equal_dbt(&db, number);
    }
    // Same columns and types as dbt's tables, including the source's new column.
    for (table, _) in TABLES {
        let name = table.split_once('.').unwrap().1;
        let columns = db.query(&format!(
            "select attname as column, format_type(atttypid, atttypmod) as type from pg_attribute \
             where attrelid = '{table}'::regclass and attnum > 0 and not attisdropped order by attnum"
        ));
        let mut actual = vec![vec!["column".to_owned(), "type".to_owned()]];
        actual.extend(
            columns
                .rows
                .iter()
                .map(|row| row.iter().map(kiln_adapter::Table::cell_text).collect()),
        );
        assert_eq!(actual, expected(&format!("{name}.columns.csv")), "{table}");
    }
    // A model selects from a snapshot with ref().
    assert_eq!(
        db.rows("select id::text, name from analytics.current_customers"),
        ["1|Ada L.", "2|Brian", "3|Chen", "4|Dora", "5|Eve"]
    );
}

#[test]
fn a_failed_snapshot_leaves_the_previous_history_intact() {
    let db = Database::new("snapshot_atomic");
    let fixture = db.configure(Fixture::new("snapshots"));
    let steps = steps();
    db.execute(&steps[0].1);
    assert_eq!(fixture.kiln(&["snapshot"]).code, 0);
    db.execute(&steps[1].1);
    // The post-hook fails after the snapshot closed old versions and inserted new ones, in the
    // same transaction: nothing of it may remain.
    let failed = fixture.kiln(&[
        "snapshot",
        "-s",
        "customers_ts",
        "--vars",
        "{customers_post_hook: 'select 1/0'}",
    ]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    assert!(
        failed.stdout.contains("division by zero"),
        "{}",
        failed.transcript()
    );
    assert_eq!(
        normalized(&db, "snapshots.customers_ts", false),
        expected("customers_ts.step0.csv")
    );
    let output = fixture.kiln(&["snapshot"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert_tables_equal_dbt(&db, "1");
}

#[test]
fn a_snapshot_over_a_view_is_refused_without_touching_it() {
    let db = Database::new("snapshot_view");
    let fixture = db.configure(Fixture::new("snapshots"));
    db.execute(&steps()[0].1);
    db.execute("create schema snapshots; create view snapshots.customers_ts as select 1 as id");
    let output = fixture.kiln(&["snapshot", "-s", "customers_ts"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(
        output
            .stdout
            .contains("is a view, not the table of a snapshot"),
        "{}",
        output.transcript()
    );
    assert_eq!(
        db.rows("select id::text from snapshots.customers_ts"),
        ["1"]
    );
}

#[test]
fn run_operation_calls_a_macro_with_arguments_in_one_transaction() {
    let db = Database::new("run_operation");
    let fixture = db.configure(Fixture::new("snapshots"));
    db.execute(&steps()[0].1);
    assert_eq!(fixture.kiln(&["snapshot", "-s", "customers_ts"]).code, 0);
    let output = fixture.kiln(&[
        "run-operation",
        "purge",
        "--args",
        "{schema: snapshots, keep_ids: [1, 3]}",
    ]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    // log(..., info=True) inside the macro is printed; the arguments arrived with their types.
    assert!(
        output
            .stderr
            .contains("purging: delete from snapshots.customers_ts where id not in (1, 3)"),
        "{}",
        output.transcript()
    );
    assert_eq!(
        db.rows("select id::text from snapshots.customers_ts"),
        ["1", "3"]
    );
    // `boom` deletes every row, then fails: exit 1, and the delete is rolled back.
    let failed = fixture.kiln(&["run-operation", "boom"]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    assert!(
        failed.stderr.contains("division by zero")
            && failed.stderr.contains("macros/ops.sql:8")
            && failed.stderr.contains("rolled back"),
        "{}",
        failed.transcript()
    );
    assert_eq!(
        db.rows("select id::text from snapshots.customers_ts"),
        ["1", "3"]
    );
}
