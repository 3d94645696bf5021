//! Running a data test: count its failing rows and decide pass, warn or fail as dbt does
//! (`fail_calc`, `warn_if`, `error_if`, `severity`, `limit`, `store_failures`); keep a few
//! failing rows to show.

use kiln_core::{Node, TestConfig, TestSeverity};

use crate::connection::SharedConnection;
use crate::error::RunError;
use crate::materialize;
use crate::results::{NodeResult, Status};
use crate::runner::Executor;

/// How many failing rows a failing test shows.
const SAMPLE_ROWS: usize = 5;

impl Executor<'_> {
    pub(crate) fn run_test(
        &self,
        node: &Node,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<(), RunError> {
        let options = self.render_options(conn, false);
        let sql = self.render_to_run(node, &options, result)?;
        // Every test node's config is resolved with its test settings.
        let config = (node.config.test.as_ref())
            .ok_or(RunError::NotRunnable(node.config.materialized.clone()))?;
        let TestConfig {
            severity,
            fail_calc,
            warn_if,
            error_if,
            limit,
            should_store_failures: store,
            ..
        } = config;
        let mut failing_rows = sql.trim().trim_end_matches(';').to_owned();
        if *store {
            let build = self.build(conn, node, &failing_rows, &[], materialize::PostHooks::NONE);
            self.ensure_schema(conn, &node.relation)?;
            materialize::table(conn, &build)?;
            failing_rows = format!("select * from {}", node.relation);
            result.relation_name = Some(node.relation.to_string());
        }
        if let Some(limit) = limit {
            failing_rows = format!("select * from (\n{failing_rows}\n) dbt_limited limit {limit}");
        }
        let check = format!(
            "select {fail_calc} as failures, {fail_calc} {warn_if} as should_warn, {fail_calc} {error_if} as should_error \
             from (\n{failing_rows}\n) dbt_internal_test"
        );
        let table = conn.lock().query(&check)?;
        let row = table.rows.first().ok_or(RunError::NoTestCount)?;
        let failures = row
            .first()
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0);
        let flag = |i: usize| {
            row.get(i)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        let (should_warn, should_error) = (flag(1), flag(2));
        result.failures = Some(failures);
        let plural = if failures == 1 { "" } else { "s" };
        (result.status, result.message) = if *severity == TestSeverity::Error && should_error {
            (
                Status::Fail,
                format!("Got {failures} result{plural}, configured to fail if {error_if}"),
            )
        } else if should_warn {
            (
                Status::Warn,
                format!("Got {failures} result{plural}, configured to warn if {warn_if}"),
            )
        } else {
            (Status::Pass, "PASS".to_owned())
        };
        if *store && failures > 0 {
            result
                .message
                .push_str(&format!("\nfailing rows are stored in {}", node.relation));
        }
        if result.status != Status::Pass {
            let sample = conn.lock().query(&format!(
                "select * from (\n{failing_rows}\n) dbt_sample limit {SAMPLE_ROWS}"
            ))?;
            result.sample = Some((sample.columns, sample.texts));
        }
        Ok(())
    }
}
