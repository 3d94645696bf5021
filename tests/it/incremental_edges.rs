//! Incremental models on their edges, compared with the tables dbt-core 1.11 leaves after the
//! same two runs (tests/fixtures/incremental_edges/README.md).

use crate::pg::Database;
use crate::support::Fixture;

fn column_types(db: &Database, table: &str) -> Vec<String> {
    db.query(&format!(
        "select attname || ' ' || format_type(atttypid, atttypmod) from pg_attribute \
         where attrelid = 'inc.{table}'::regclass and attnum > 0 and not attisdropped order by attnum"
    ))
    .rows
    .iter()
    .map(|row| kiln_adapter::Table::cell_text(&row[0]))
    .collect()
}

fn count(db: &Database, table: &str) -> String {
    db.rows(&format!("select count(*) from inc.{table}"))
        .remove(0)
}

#[test]
fn incremental_edge_cases_end_as_dbt_core_ends_them() {
    let db = Database::new("incremental_edges");
    let fixture = db.configure(Fixture::new("incremental_edges"));
    let first = fixture.kiln(&["run"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    let second = fixture.kiln(&["run", "--vars", "{step: 2}"]);
    // Only the model keyed on a column that does not exist fails, with PostgreSQL's message
    // as dbt shows it.
    assert_eq!(second.code, 1, "{}", second.transcript());
    assert!(
        second.stdout.contains("ERROR=1 ")
            && second.stdout.contains("column \"nope\" does not exist"),
        "{}",
        second.transcript()
    );
    // An empty key is no key: every strategy appends (dbt: 4, 4 and 2 rows).
    assert_eq!(count(&db, "empty_key"), "4");
    assert_eq!(count(&db, "empty_list"), "4");
    assert_eq!(count(&db, "empty_merge"), "2");
    // New columns with dbt-postgres' types: `character(3)` is added as `character varying(3)`.
    assert_eq!(
        column_types(&db, "new_cols"),
        [
            "id integer",
            "short character varying(5)",
            "lit text",
            "txt text",
            "vc character varying",
            "vc10 character varying(10)",
            "ch character varying(3)",
            "num numeric(10,2)",
            "num_any numeric",
            "ts timestamp with time zone",
            "tsn timestamp without time zone",
            "d date",
            "b boolean",
            "f double precision",
            "j jsonb",
            "big bigint",
        ]
    );
    assert_eq!(count(&db, "new_cols"), "2");
    assert_eq!(
        column_types(&db, "sync_cols"),
        ["id integer", "name character varying(20)", "added text"]
    );
    // A string column that grows is widened, as dbt's expand_target_column_types does.
    assert_eq!(column_types(&db, "widen"), ["name character varying(12)"]);
    assert_eq!(
        db.rows("select name from inc.widen"),
        ["ab", "abcdefghijkl"]
    );
    // Where dbt-postgres writes `add column arr ARRAY` and fails, Kiln keeps the array type.
    assert_eq!(
        column_types(&db, "new_array_col"),
        ["id integer", "arr integer[]"]
    );
}

/// The `indexes` of each relation: "table: definition" with the generated name left out.
fn indexes(db: &Database) -> Vec<String> {
    db.rows(
        "select tablename || ': ' || regexp_replace(indexdef, 'INDEX \\S+ ON', 'INDEX ON') \
         from pg_indexes where schemaname like 'idx%' order by 1",
    )
}

#[test]
fn indexes_are_created_with_the_relation_and_kept_by_incremental_runs() {
    let db = Database::new("indexes");
    let fixture = db.configure(Fixture::new("indexes"));
    let expected = [
        "daily: CREATE UNIQUE INDEX ON idx.daily USING btree (day)",
        "events: CREATE INDEX ON idx.events USING brin (day)",
        "users: CREATE INDEX ON idx.users USING btree (first_day, user_id)",
        "users: CREATE UNIQUE INDEX ON idx.users USING btree (user_id)",
    ];
    let build = fixture.kiln(&["build"]);
    assert_eq!(build.code, 0, "{}", build.transcript());
    assert_eq!(indexes(&db), expected);
    // An incremental run keeps its table, and the indexes with it; the rebuilt table and seed
    // get new ones in place of the old.
    db.execute("insert into idx.events values (4, '2024-01-03', 'c')");
    let again = fixture.kiln(&["run"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert_eq!(indexes(&db), expected);
    assert_eq!(db.rows("select count(*) from idx.daily"), ["3"]);
    // The unique index holds the model to its key: a duplicate day fails the rebuild, and the
    // previous table stays.
    fixture.write(
        "models/daily.sql",
        "{{ config(materialized='incremental', indexes=[{'columns': ['day'], 'unique': True}]) }}\n\
         select day from {{ ref('events') }}",
    );
    let refresh = fixture.kiln(&["build", "--full-refresh"]);
    assert_eq!(refresh.code, 1, "{}", refresh.transcript());
    assert!(
        refresh.stdout.contains("could not create unique index"),
        "{}",
        refresh.transcript()
    );
    assert_eq!(indexes(&db), expected);
    assert_eq!(db.rows("select count(*) from idx.daily"), ["3"]);
}

#[test]
fn persist_docs_writes_descriptions_as_comments() {
    let db = Database::new("persist_docs");
    let fixture = db.configure(Fixture::new("persist_docs"));
    let comments = || {
        db.rows(
            "select c.relname || coalesce('.' || a.attname, '') || ': ' || d.description \
             from pg_description d join pg_class c on c.oid = d.objoid \
             join pg_namespace n on n.oid = c.relnamespace \
             left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0 \
             where n.nspname = 'docs' order by 1",
        )
    };
    let expected = [
        "customers.country: ISO code.",
        "customers: Customers from the CRM.",
        "daily: Incremental.",
        "orders.order_id: The order.",
        "orders: Every order; the customer's too. $$ is fine.",
        "orders_view.Order Id: Quoted.",
        "orders_view: Orders, as a view.",
    ];
    let build = fixture.kiln(&["build"]);
    assert_eq!(build.code, 0, "{}", build.transcript());
    assert_eq!(comments(), expected);
    // The incremental run and the rebuilt table and view keep them.
    let again = fixture.kiln(&["run"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert_eq!(comments(), expected);
}

#[test]
fn grants_are_given_on_every_build_and_reconciled_on_incremental_runs() {
    let db = Database::new("grants");
    db.execute(
        "do $$ begin \
           if not exists (select from pg_roles where rolname = 'kiln_test_reporter') then create role kiln_test_reporter; end if; \
           if not exists (select from pg_roles where rolname = 'Kiln Test BI') then create role \"Kiln Test BI\"; end if; \
         end $$",
    );
    let fixture = db.configure(Fixture::new("grants"));
    let grants = || {
        db.rows(
            "select table_name || ': ' || string_agg(grantee, ', ' order by grantee) \
             from information_schema.role_table_grants \
             where table_schema = 'grants' and privilege_type = 'SELECT' and grantee != current_role \
             group by table_name order by 1",
        )
    };
    let run = fixture.kiln(&["run"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let expected = [
        "daily: Kiln Test BI",
        "orders: kiln_test_reporter",
        "orders_view: Kiln Test BI, kiln_test_reporter",
    ];
    assert_eq!(grants(), expected);
    // Rebuilt: the new table and view get them again; the incremental table keeps its own.
    let again = fixture.kiln(&["run"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert_eq!(grants(), expected);
    // Another role for the incremental model: the one it had is revoked.
    let changed = fixture.kiln(&[
        "run",
        "-s",
        "daily",
        "--vars",
        "{daily_role: kiln_test_reporter}",
    ]);
    assert_eq!(changed.code, 0, "{}", changed.transcript());
    assert_eq!(grants()[0], "daily: kiln_test_reporter");
    // A snapshot gets its grants when its table is created, and keeps them.
    for _ in 0..2 {
        let snapshot = fixture.kiln(&["snapshot"]);
        assert_eq!(snapshot.code, 0, "{}", snapshot.transcript());
        assert!(
            grants().contains(&"orders_snapshot: kiln_test_reporter".to_owned()),
            "{:?}",
            grants()
        );
    }
}

#[test]
fn custom_strategies_run_the_projects_macros_as_dbt_core_does() {
    // tests/fixtures/custom_strategy: the tables dbt-core 1.11.16 leaves after the same runs.
    let db = Database::new("custom_strategy");
    let fixture = db.configure(Fixture::new("custom_strategy"));
    let first = fixture.kiln(&["run"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    let second = fixture.kiln(&["run", "--vars", "{step: 2}"]);
    assert_eq!(second.code, 0, "{}", second.transcript());
    let table = |name: &str| {
        db.rows(&format!(
            "select id || ' ' || v from cs.{name} order by id, v"
        ))
    };
    // keep_first: new keys only; the held row 2 keeps `b`.
    assert_eq!(table("keep_first"), ["1 a", "2 b", "3 c"]);
    // replace_keys: dbt's delete+insert SQL, two statements run as one.
    assert_eq!(table("replace_keys"), ["1 a", "2 B", "3 c"]);
    // The project's get_incremental_merge_sql (insert only) replaced the built-in merge.
    assert_eq!(table("merged"), ["1 a", "2 B", "2 b", "3 c"]);
    assert!(
        second.stdout.contains("[INSERT 0 "),
        "a macro strategy's status is its last statement's: {}",
        second.stdout
    );
}

#[test]
fn sql_header_runs_before_the_create_as_in_dbt_core() {
    // tests/fixtures/sql_header: dbt-core 1.11.16 leaves the same rows.
    let db = Database::new("sql_header");
    let fixture = db.configure(Fixture::new("sql_header"));
    for vars in ["{step: 1}", "{step: 2}"] {
        let run = fixture.kiln(&["run", "--vars", vars]);
        assert_eq!(run.code, 0, "{}", run.transcript());
    }
    // set_sql_header: a temporary function the model calls.
    assert_eq!(
        db.rows("select answer::text from hdr.with_function"),
        ["42"]
    );
    // config(sql_header=...): a setting the model reads back, on a table and on both runs of
    // an incremental model.
    assert_eq!(db.rows("select work_mem from hdr.with_setting"), ["7MB"]);
    assert_eq!(
        db.rows("select work_mem || ' ' || step from hdr.incremental_setting order by step"),
        ["9MB 1", "9MB 2"]
    );
}

#[test]
fn on_run_end_sees_the_results_as_dbt_core_gives_them() {
    // tests/fixtures/run_end_results: the rows dbt-core 1.11.16's run of the same project left.
    let db = Database::new("run_end_results");
    let fixture = db.configure(Fixture::new("run_end_results"));
    let deps = fixture.kiln(&["deps"]);
    assert_eq!(deps.code, 0, "{}", deps.transcript());
    let build = fixture.kiln(&["build"]);
    assert_eq!(build.code, 1, "one model fails: {}", build.transcript());
    assert!(
        !build.stdout.contains("on-run-end failed"),
        "{}",
        build.transcript()
    );
    assert_eq!(
        db.rows(
            "select concat_ws('|', node_id, resource_type, status, full_refresh, timings, which, \
             schemas, column_api) from rer.run_log order by node_id"
        ),
        [
            "model.run_end_results.broken|model|error|None|compile,execute|build|rer|t",
            "model.run_end_results.orders|model|success|None|compile,execute|build|rer|t",
            "test.run_end_results.unique_orders_order_id.fed79b3a6e|test|pass|None|compile,execute|build|rer|t",
        ]
    );
    // The root project's hooks, then the package's (dbt 1.11's order), which reads its own
    // version from `builtins.ref.config.dependencies`.
    assert_eq!(
        db.rows("select string_agg(who, ', ' order by n) from rer.hook_order"),
        ["root, audit_pkg 1.2.3"]
    );
}

#[test]
fn microbatch_reads_its_parents_through_the_window_as_dbt_core_does() {
    // tests/fixtures/microbatch: the rows dbt-core 1.11.16 leaves after the same two runs.
    let db = Database::new("microbatch");
    let fixture = db.configure(Fixture::new("microbatch"));
    let rows = || db.rows("select event_id || ' ' || status from mb.event_status order by 1");
    let first = fixture.kiln(&["run"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    // Built from `begin` (30 days ago): the 60-day-old event is left out.
    assert_eq!(rows(), ["2 b", "3 c"]);
    let compiled = fixture.read("target/compiled/microbatch/models/event_status.sql");
    assert!(
        compiled.contains("where occurred_at >= '")
            && compiled.contains("_dbt_et_filter_subq_events"),
        "{compiled}"
    );
    let second = fixture.kiln(&["run", "--vars", "{step: 2}"]);
    assert_eq!(second.code, 0, "{}", second.transcript());
    // Later runs read yesterday and today: today's change and new event are merged on the key;
    // the changes 5 and 10 days back are outside the window, as in dbt.
    assert_eq!(rows(), ["2 b", "3 C", "4 d"]);
    // --event-time-start/--event-time-end: the window asked for (the event 5 days back is
    // picked up now; the one 60 days back is still outside).
    let now = jiff::Timestamp::now();
    let start = (now - jiff::SignedDuration::from_hours(24 * 7)).to_string();
    let end = now.to_string();
    let backfill = fixture.kiln(&[
        "run",
        "-s",
        "event_status",
        "--vars",
        "{step: 2}",
        "--event-time-start",
        &start,
        "--event-time-end",
        &end,
    ]);
    assert_eq!(backfill.code, 0, "{}", backfill.transcript());
    assert_eq!(rows(), ["2 b", "3 C", "4 d", "5 e"]);
    let wrong = fixture.kiln(&[
        "run",
        "--event-time-start",
        "soon",
        "--event-time-end",
        &end,
    ]);
    assert_eq!(wrong.code, 2, "{}", wrong.transcript());
    assert!(
        wrong
            .stderr
            .contains("--event-time-start `soon` is not a date"),
        "{}",
        wrong.stderr
    );
    // `kiln compile` shows the model unfiltered, as `dbt compile` does.
    let compile = fixture.kiln(&["compile", "-s", "event_status"]);
    assert_eq!(compile.code, 0, "{}", compile.transcript());
    assert!(
        !compile.stdout.contains("_dbt_et_filter"),
        "{}",
        compile.stdout
    );
}

#[test]
fn post_hooks_render_after_the_build_and_see_the_new_relation() {
    // tests/fixtures/post_hook_reads_this: the rows dbt-core 1.11.16 leaves. A post-hook
    // rendered before the build would fail on the first run (no relation yet) and count the
    // previous table's rows on the second.
    let db = Database::new("post_hook_reads_this");
    let fixture = db.configure(Fixture::new("post_hook_reads_this"));
    for vars in ["{rows: 3}", "{rows: 4}"] {
        let run = fixture.kiln(&["run", "--vars", vars]);
        assert_eq!(run.code, 0, "{}", run.transcript());
    }
    assert_eq!(
        db.rows("select model || ' ' || row_count from phr.hook_log order by 1"),
        ["three_rows 3", "three_rows 4", "two_rows 2", "two_rows 2"]
    );
}
