//! Materializations that are not Kiln's own Rust: dbt-postgres' `materialized_view`, and a
//! project's `{% materialization %}` block, run as dbt-core runs them.

use crate::pg::Database;
use crate::support::Fixture;

/// The fixture with its local package installed.
fn installed(fixture: Fixture) -> Fixture {
    let deps = fixture.kiln(&["deps"]);
    assert_eq!(deps.code, 0, "{}", deps.transcript());
    fixture
}

#[test]
fn materialized_views_and_project_materializations_leave_what_dbt_core_leaves() {
    // tests/fixtures/custom_materialization: each step's expected state is what dbt-core
    // 1.11.16 left after the same step (README).
    let db = Database::new("custom_materialization");
    let fixture = installed(db.configure(Fixture::new("custom_materialization")));
    let state = || {
        [
            db.rows(
                "select c.relname || ' ' || c.relkind::text || ' ' || \
                 coalesce(obj_description(c.oid), '-') from pg_class c \
                 join pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = 'cmat' and c.relkind in ('r', 'v', 'm') order by 1",
            )
            .join("; "),
            db.rows(
                "select t.relname || ' ' || ix.indisunique::text from pg_index ix \
                 join pg_class t on t.oid = ix.indrelid \
                 join pg_namespace n on n.oid = t.relnamespace where n.nspname = 'cmat'",
            )
            .join("; "),
            db.rows("select string_agg(event, ', ' order by event) from cmat.audit_log")
                .join(""),
            db.rows("select string_agg(grp || ':' || n2, ' ' order by grp) from cmat.v_on_mv")
                .join(""),
            db.rows("select col_description('cmat.audited'::regclass, 1)")
                .join(""),
        ]
    };
    let relations = "audit_log r -; audited r A table built by the project's own \
                     materialization; base r -; mv_counts m -; v_on_mv v -";
    let step = |args: &[&str], code: i32| {
        let run = fixture.kiln(args);
        assert_eq!(run.code, code, "{}", run.transcript());
        run
    };

    let first = step(&["run", "-s", "base", "mv_counts", "v_on_mv", "audited"], 0);
    assert!(
        first
            .stdout
            .contains("sql table_with_audit model cmat.audited"),
        "{}",
        first.stdout
    );
    assert_eq!(
        state(),
        [
            relations,
            "mv_counts true",
            "post 4, pre audited",
            "0:6 1:8 2:6",
            "the id"
        ]
    );

    let second = step(
        &[
            "run",
            "-s",
            "base",
            "mv_counts",
            "v_on_mv",
            "audited",
            "--vars",
            "{rows: 13}",
        ],
        0,
    );
    // The base table was swapped under the materialized view; it is refreshed or rebuilt,
    // never left stale.
    assert!(second.stdout.contains("[SELECT 5 "), "{}", second.stdout);
    let after_second = [
        relations,
        "mv_counts true",
        "post 4, post 5, pre audited, pre audited",
        "0:8 1:10 2:8",
        "the id",
    ];
    assert_eq!(state(), after_second);

    let refresh = step(&["run", "-s", "mv_counts", "--vars", "{rows: 13}"], 0);
    assert!(
        refresh.stdout.contains("[REFRESH MATERIALIZED VIEW"),
        "{}",
        refresh.stdout
    );

    let fail = step(
        &[
            "run",
            "-s",
            "mv_counts",
            "--vars",
            "{rows: 13, unique_index: false, on_change: fail}",
        ],
        1,
    );
    assert!(
        fail.stdout.contains("`on_configuration_change` is `fail`"),
        "{}",
        fail.transcript()
    );
    assert_eq!(state(), after_second);

    step(
        &[
            "run",
            "-s",
            "mv_counts",
            "--vars",
            "{rows: 13, unique_index: false}",
        ],
        0,
    );
    let unique_off = [
        relations,
        "mv_counts false",
        "post 4, post 5, pre audited, pre audited",
        "0:8 1:10 2:8",
        "the id",
    ];
    assert_eq!(state(), unique_off);

    // A materialization that fails at `main` rolls back its transaction, pre-hook included.
    let broken = step(&["run", "-s", "audited_broken", "--vars", "{rows: 13}"], 1);
    assert!(
        broken.transcript().contains("division by zero"),
        "{}",
        broken.transcript()
    );
    assert_eq!(state(), unique_off);

    step(
        &[
            "run",
            "-s",
            "base",
            "mv_counts",
            "v_on_mv",
            "audited",
            "--full-refresh",
            "--vars",
            "{rows: 16, unique_index: false}",
        ],
        0,
    );
    assert_eq!(
        state(),
        [
            relations,
            "mv_counts false",
            "post 4, post 5, post 6, pre audited, pre audited, pre audited",
            "0:10 1:12 2:10",
            "the id",
        ]
    );
}

#[test]
fn a_projects_incremental_materialization_uses_dbts_schema_change_macros() {
    // tests/fixtures/custom_materialization, `appended`: the columns and rows dbt-core 1.11.16
    // left after each of the same runs (README).
    let db = Database::new("custom_materialization_appended");
    let fixture = installed(db.configure(Fixture::new("custom_materialization")));
    let state = || {
        [
            db.rows(
                "select string_agg(column_name || ' ' || data_type, ', ' \
                 order by ordinal_position) from information_schema.columns \
                 where table_schema = 'cmat' and table_name = 'appended'",
            )
            .join(""),
            // Each row's values in column order, nulls left out.
            db.rows(
                "select (select string_agg(value, '|') from json_each_text(row_to_json(a))) \
                 from cmat.appended a order by batch",
            )
            .join(", "),
        ]
    };
    let step = |vars: &str, code: i32| {
        let run = fixture.kiln(&["run", "-s", "appended", "--vars", vars]);
        assert_eq!(run.code, code, "{}", run.transcript());
        run
    };
    step("{}", 0);
    assert_eq!(state(), ["batch integer, tag text", "10|b10"]);
    // append_new_columns: the new column is added, the old rows get null.
    step("{rows: 13, extra: true}", 0);
    let with_extra = "batch integer, tag text, extra integer";
    assert_eq!(state(), [with_extra, "10|b10, 13|b13|1300"]);
    // A column the model no longer selects stays, null in the new row.
    step("{rows: 14}", 0);
    assert_eq!(state(), [with_extra, "10|b10, 13|b13|1300, 14|b14"]);
    let fail = step("{rows: 15, schema_change: fail}", 1);
    assert!(
        fail.transcript().contains("out of sync"),
        "{}",
        fail.transcript()
    );
    assert_eq!(state(), [with_extra, "10|b10, 13|b13|1300, 14|b14"]);
    // sync_all_columns: the column the model dropped goes.
    step("{rows: 16, schema_change: sync_all_columns}", 0);
    assert_eq!(
        state(),
        ["batch integer, tag text", "10|b10, 13|b13, 14|b14, 16|b16"]
    );
}

#[test]
fn a_packages_materialization_resolves_macros_as_dbt_core_does() {
    // tests/fixtures/custom_materialization, `batched`: batch_pkg's `insert_by_batch` inserts
    // a day at a time with the package's `dateadd`, whose default calls `dateadd` unqualified
    // (AutomateDV's pattern): dbt resolves that to dbt's own macro, not back to the package's
    // (Kiln recursed until its limit). Rows and messages as dbt-core 1.11.16's (README).
    let db = Database::new("custom_materialization_batched");
    let fixture = installed(db.configure(Fixture::new("custom_materialization")));
    let rows = || {
        db.rows("select string_agg(id || '@' || day, ' ' order by day, id) from cmat.batched")
            .join("")
    };
    let first = fixture.kiln(&["run", "-s", "batched"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    // The noop_statement's message reports the model.
    assert!(first.stdout.contains("[INSERT 6 "), "{}", first.stdout);
    assert_eq!(
        rows(),
        "4@2024-01-01 8@2024-01-01 1@2024-01-02 5@2024-01-02 2@2024-01-03 6@2024-01-03"
    );
    let second = fixture.kiln(&["run", "-s", "batched", "--vars", "{days: 1}"]);
    assert_eq!(second.code, 0, "{}", second.transcript());
    assert!(second.stdout.contains("[INSERT 2 "), "{}", second.stdout);
    assert_eq!(
        rows(),
        "4@2024-01-01 4@2024-01-01 8@2024-01-01 8@2024-01-01 1@2024-01-02 5@2024-01-02 \
         2@2024-01-03 6@2024-01-03"
    );
}
