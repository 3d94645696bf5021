//! Concurrent runs of one project on one database never fail because of each other: 4
//! processes × 20 rounds on tables, views on them, views on views and an incremental model.

use crate::pg::Database;
use crate::support::Fixture;

const PROCESSES: usize = 4;
const ROUNDS: usize = 20;

#[test]
fn four_concurrent_runs_for_twenty_rounds_never_fail() {
    let db = Database::new("concurrency");
    let fixture = db.configure(Fixture::new("concurrency"));
    let first = fixture.kiln(&["run"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let children: Vec<_> = (0..PROCESSES)
            .map(|i| {
                // Half the runs rebuild everything, half only the table under the views (whose
                // swap recreates the views of the others).
                let args: &[&str] = if (round + i) % 2 == 0 {
                    &["run", "--threads", "4"]
                } else {
                    &["run", "-s", "base_numbers+", "--threads", "2"]
                };
                fixture
                    .command(args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            if !output.status.success() {
                failures.push(format!(
                    "round {round}:\n{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed runs:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        db.rows("select sum(n), sum(total), sum(incremental_rows) from conc.report"),
        ["500|250500|500"]
    );
    assert!(
        db.rows("select relname from pg_class where relname like '%__kiln_%'")
            .is_empty()
    );
}
