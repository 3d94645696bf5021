//! The analytics project at the repository root: `kiln build` loads its raw data, builds every
//! model and passes every test, and the answer key catches a wrong join.

use crate::pg::Database;
use crate::support::Fixture;

fn analytics(test: &str) -> (Fixture, Database) {
    let db = Database::new(test);
    let fixture = db.configure(Fixture::analytics_project());
    let dir = match std::env::var("KILN_TEST_PG_URL") {
        Ok(_) => String::new(),
        Err(_) => fixture_pg_dir(),
    };
    let fixture = fixture.env("KILN_PG_DBNAME", &db.name);
    let fixture = if dir.is_empty() {
        fixture
    } else {
        fixture.env("KILN_PG_DIR", &dir)
    };
    (fixture, db)
}

/// The shared test instance's directory (the analytics profile reads it from KILN_PG_DIR).
fn fixture_pg_dir() -> String {
    std::env::temp_dir()
        .join(format!("kiln-it-pg-{}", std::process::id()))
        .display()
        .to_string()
}

#[test]
fn build_passes_every_model_and_test() {
    let (fixture, db) = analytics("analytics");
    let output = fixture.kiln(&["build"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    for test in [
        "assert_web_marts_match_answer_key",
        "assert_funnel_marts_match_answer_key",
    ] {
        assert!(
            output.stdout.contains(&format!("PASS {test}")),
            "{}",
            output.stdout
        );
    }
    assert!(
        output.stdout.contains("ERROR=0 SKIP=0"),
        "{}",
        output.stdout
    );
    // Marts in `analytics`, staging in `staging`, raw data in `raw_*`.
    let schemas = db.rows(
        "select table_schema || '.' || table_name from information_schema.tables \
         where table_schema in ('analytics', 'staging', 'raw_web', 'raw_stripe') order by 1",
    );
    for relation in [
        "analytics.mart_funnel_performance",
        "analytics.mart_marketing_attribution",
        "analytics.mart_new_subscriptions",
        "analytics.mart_funnel_conversions",
        "raw_stripe.charges",
    ] {
        assert!(schemas.contains(&relation.to_owned()), "{schemas:?}");
    }
    assert!(
        schemas.contains(&"analytics.fct_order_attribution".to_owned()),
        "{schemas:?}"
    );
    assert!(
        schemas.contains(&"staging.stg_web__events".to_owned()),
        "{schemas:?}"
    );
    assert!(
        schemas.contains(&"raw_web.raw_events_validated".to_owned()),
        "{schemas:?}"
    );
}

/// Replaces `from` (which must be there) with `to` in a file of the fixture.
fn break_model(fixture: &Fixture, path: &str, from: &str, to: &str) {
    let sql = fixture.read(path);
    assert!(sql.contains(from), "{path} no longer contains {from:?}");
    fixture.write(path, &sql.replace(from, to));
}

#[test]
fn the_answer_key_catches_a_wrong_join() {
    let (fixture, _db) = analytics("analytics_broken");
    // A 14-day lookback instead of the documented 7 days: plausible numbers, wrong ones.
    break_model(
        &fixture,
        "models/marts/web/fct_order_attribution.sql",
        "interval '7 days'",
        "interval '14 days'",
    );
    // Sandbox purchases counted as sales: a few more conversions, a little more revenue.
    break_model(
        &fixture,
        "models/intermediate/funnel/int_session_payments.sql",
        "where not is_sandbox",
        "",
    );
    let output = fixture.kiln(&["build"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stdout.contains("FAIL"), "{}", output.stdout);
    assert!(
        output
            .stdout
            .contains("Failure in test assert_web_marts_match_answer_key"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("web.attributed_orders."),
        "the differing figures are shown: {}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("Failure in test assert_funnel_marts_match_answer_key"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("funnel.converted_sessions"),
        "{}",
        output.stdout
    );
}

/// The SaaS marts, as text, in a stable order.
fn incremental_marts(db: &Database) -> Vec<String> {
    let mut rows = db.rows(
        "select 'funnel|' || f::text from analytics.fct_acquisition_funnel f order by cohort_month",
    );
    rows.extend(db.rows(
        "select 'engagement|' || e::text from analytics.fct_engagement_cohorts e \
         order by cohort_month, activity_month",
    ));
    rows.extend(
        db.rows("select 'health|' || h::text from analytics.dim_user_health h order by user_id"),
    );
    rows
}

#[test]
fn a_new_day_run_incrementally_equals_a_full_refresh() {
    let (fixture, db) = analytics("analytics_incremental");
    assert_eq!(fixture.kiln(&["build"]).code, 0);
    // The SaaS models: the incremental intermediates, the marts on them.
    let marts = ["-s", "path:models/staging/saas+"];
    // Yesterday's state: the raw data without its last day, the marts built from it.
    db.execute(
        "create table public.last_day_users as select * from raw_saas.users where signup_date = '2024-12-31'; \
         create table public.last_day_events as select * from raw_saas.events where event_date = '2024-12-31'; \
         delete from raw_saas.events where event_date = '2024-12-31'; \
         delete from raw_saas.users where signup_date = '2024-12-31'",
    );
    let output = fixture.kiln(&[&["run", "--full-refresh"], &marts[..]].concat());
    assert_eq!(output.code, 0, "{}", output.transcript());
    let yesterday = incremental_marts(&db);
    // Today's load: the last day, and a payment from an activated user who signed up in March
    // 2023 (a cohort the newest-cohort-only rule of document 003 would never revisit).
    db.execute(
        "insert into raw_saas.users select * from public.last_day_users; \
         insert into raw_saas.events select * from public.last_day_events; \
         insert into raw_saas.events (event_id, user_id, event_type, event_date, event_timestamp) \
         select 'evt_late_payment', user_id, 'paid', '2024-12-31', '2024-12-31 12:00:00+00' \
         from intermediate.int_funnel_steps \
         where cohort_month = '2023-03-01' and is_activated = 1 and is_paid = 0 \
         order by user_id limit 1",
    );
    let output = fixture.kiln(&[&["run"], &marts[..]].concat());
    assert_eq!(output.code, 0, "{}", output.transcript());
    let incremental = incremental_marts(&db);
    assert_ne!(incremental, yesterday, "the new day changes the marts");
    let march = |rows: &[String]| {
        rows.iter()
            .find(|row| row.starts_with("funnel|(2023-03-01,"))
            .cloned()
            .unwrap_or_default()
    };
    assert_ne!(
        march(&yesterday),
        march(&incremental),
        "the late payment reaches its 2023 cohort"
    );
    let output = fixture.kiln(&[&["run", "--full-refresh"], &marts[..]].concat());
    assert_eq!(output.code, 0, "{}", output.transcript());
    let full_refresh = incremental_marts(&db);
    let differences: Vec<(Option<&String>, Option<&String>)> =
        (0..incremental.len().max(full_refresh.len()))
            .map(|i| (incremental.get(i), full_refresh.get(i)))
            .filter(|(a, b)| a != b)
            .collect();
    assert!(
        differences.is_empty(),
        "incremental vs full refresh: {differences:#?}"
    );
}
