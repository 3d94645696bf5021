//! Running a model: render it for execution, then build it as its materialization says.

use kiln_adapter::catalog::RelationKind;
use kiln_core::{Materialization, Node};

use crate::connection::{SharedConnection, existing_kind};
use crate::error::RunError;
use crate::materialize::{self, Incremental, Outcome};
use crate::results::NodeResult;
use crate::runner::Executor;

impl Executor<'_> {
    pub(crate) fn run_model(
        &self,
        node: &Node,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<Outcome, RunError> {
        let materialized = node.config.materialized;
        // Only an incremental model needs to know what exists before it renders.
        let existing = if materialized == Materialization::Incremental {
            existing_kind(conn, &node.relation)?
        } else {
            None
        };
        let incremental = materialized == Materialization::Incremental
            && existing == Some(RelationKind::Table)
            && !node.config.should_full_refresh;
        let options = self.render_options(conn, incremental);
        let sql = self.render_to_run(node, &options, result)?;
        let (pre_hooks, post_hooks) =
            crate::hooks::node_hooks(self.parsed, node, &self.resolver, &options)?;
        let build = self.build(conn, node, &sql, &pre_hooks, &post_hooks);
        self.ensure_schema(conn, &node.relation)?;
        let outcome = match materialized {
            Materialization::View => materialize::view(conn, &build),
            Materialization::Table => materialize::table(conn, &build),
            Materialization::Incremental if incremental => {
                let settings = Incremental {
                    strategy: node.config.incremental_strategy(),
                    unique_key: node.config.unique_key.clone(),
                    on_schema_change: node.config.on_schema_change,
                    predicates: node.config.incremental_predicates.clone(),
                };
                materialize::incremental(conn, &build, &settings)
            }
            Materialization::Incremental => materialize::table(conn, &build),
            other @ (Materialization::Ephemeral
            | Materialization::Seed
            | Materialization::Test
            | Materialization::Snapshot) => return Err(RunError::NotRunnable(other)),
        };
        Ok(outcome?)
    }

    /// Builds or updates a snapshot's table.
    pub(crate) fn run_snapshot(
        &self,
        node: &Node,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<Outcome, RunError> {
        let Some(settings) = &node.config.snapshot else {
            return Err(RunError::NotRunnable(Materialization::Snapshot));
        };
        let options = self.render_options(conn, false);
        let sql = self.render_to_run(node, &options, result)?;
        let (pre_hooks, post_hooks) =
            crate::hooks::node_hooks(self.parsed, node, &self.resolver, &options)?;
        let build = self.build(conn, node, &sql, &pre_hooks, &post_hooks);
        self.ensure_schema(conn, &node.relation)?;
        Ok(crate::snapshot::snapshot(conn, &build, settings)?)
    }
}
