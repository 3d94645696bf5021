//! Running a model: render it for execution, then build it as its materialization says.

use std::collections::BTreeMap;

use kiln_adapter::AdapterError;
use kiln_adapter::catalog::{self, RelationKind};
use kiln_compile::RenderOptions;
use kiln_compile::microbatch::{self, Microbatch};
use kiln_core::{
    BuiltinStrategy, Diagnostic, IncrementalStrategy, Materialization, Node, OnConfigurationChange,
    Relation,
};
use kiln_jinja::RelationObject;
use kiln_jinja::introspection::ColumnValue;
use minijinja::Value;

use crate::connection::{SharedConnection, existing_kind};
use crate::error::RunError;
use crate::materialize::{self, Incremental, Outcome, Strategy};
use crate::results::NodeResult;
use crate::runner::Executor;

/// The model's `on_configuration_change` (checked at parse; `apply` when not set).
fn on_configuration_change(node: &Node) -> OnConfigurationChange {
    node.config
        .other
        .get("on_configuration_change")
        .and_then(|value| value.as_str())
        .and_then(|text| OnConfigurationChange::parse(text).ok())
        .unwrap_or(OnConfigurationChange::Apply)
}

impl Executor<'_> {
    pub(crate) fn run_model(
        &self,
        node: &Node,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<Outcome, RunError> {
        let materialized = &node.config.materialized;
        if let Materialization::Custom(name) = materialized {
            return self.run_custom(node, name, conn, result);
        }
        // Only incremental models and materialized views need to know what exists first.
        let existing = if matches!(
            materialized,
            Materialization::Incremental | Materialization::MaterializedView
        ) {
            existing_kind(conn, &node.relation)?
        } else {
            None
        };
        let incremental = *materialized == Materialization::Incremental
            && existing == Some(RelationKind::Table)
            && !node.config.should_full_refresh;
        let mut options = self.render_options(conn, incremental);
        let configured = node.config.incremental_strategy();
        let microbatch = *materialized == Materialization::Incremental
            && configured == IncrementalStrategy::Macro("microbatch".to_owned());
        if microbatch {
            let settings = Microbatch::from_node(node)?;
            options.event_time_window = match self.options.event_time {
                Some((start, end)) => settings.explicit_window(start, end),
                None => settings.window(microbatch::now_utc(), incremental),
            };
        }
        let sql = self.render_to_run(node, &options, result)?;
        let pre_hooks = self.pre_hooks(node, &options)?;
        let render_post = self.post_hooks_renderer(node, &options);
        let build = self.build(conn, node, &sql, &pre_hooks, render_post.hooks());
        self.ensure_schema(conn, &node.relation)?;
        let outcome = match materialized {
            Materialization::View => materialize::view(conn, &build),
            Materialization::Table => materialize::table(conn, &build),
            Materialization::Incremental if incremental => {
                let render = |temp: &str, columns: &[catalog::Column]| {
                    self.render_strategy(node, &options, &configured, temp, columns)
                        .map_err(|error| AdapterError::Other(error.to_string()))
                };
                let strategy = match &configured {
                    // The project's own `get_incremental_merge_sql` replaces Kiln's merge.
                    IncrementalStrategy::Builtin(builtin)
                        if !self.parsed.env.is_overridden(&configured.macro_name()) =>
                    {
                        Strategy::Builtin(*builtin)
                    }
                    // dbt-postgres' microbatch: each window merged on the unique key.
                    _ if microbatch => {
                        if node.config.unique_key.is_empty() {
                            return Err(RunError::Render(
                                Diagnostic::error(
                                    "dbt-postgres 'microbatch' requires a `unique_key` config",
                                )
                                .at(node.location.clone()),
                            ));
                        }
                        Strategy::Builtin(BuiltinStrategy::Merge)
                    }
                    _ => Strategy::Macro(&render),
                };
                let settings = Incremental {
                    strategy,
                    unique_key: node.config.unique_key.clone(),
                    on_schema_change: node.config.on_schema_change,
                    predicates: node.config.incremental_predicates.clone(),
                };
                materialize::incremental(conn, &build, &settings)
            }
            Materialization::Incremental => materialize::table(conn, &build),
            Materialization::MaterializedView => {
                let refresh = existing == Some(RelationKind::MaterializedView)
                    && !node.config.should_full_refresh;
                materialize::materialized_view(conn, &build, refresh, on_configuration_change(node))
            }
            other @ (Materialization::Ephemeral
            | Materialization::Seed
            | Materialization::Test
            | Materialization::Snapshot
            | Materialization::Custom(_)) => return Err(RunError::NotRunnable(other.clone())),
        };
        Ok(outcome?)
    }

    /// The SQL of a strategy that a macro writes: `get_incremental_<name>_sql(arg_dict)` in
    /// the model's context, with dbt's `arg_dict` (the relations, the columns to insert, the
    /// unique key and `incremental_predicates`).
    fn render_strategy(
        &self,
        node: &Node,
        options: &RenderOptions,
        strategy: &IncrementalStrategy,
        temp: &str,
        columns: &[catalog::Column],
    ) -> Result<String, Diagnostic> {
        let mut temp_relation = Relation::new("", "", temp);
        temp_relation.database = None;
        temp_relation.schema = None;
        temp_relation.kind = Some("table".to_owned());
        let mut target = node.relation.clone();
        target.kind = Some("table".to_owned());
        let columns: Vec<Value> = columns
            .iter()
            .map(|c| {
                Value::from_object(ColumnValue {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                })
            })
            .collect();
        let unique_key = match node.config.unique_key.as_slice() {
            [] => Value::from(()),
            [one] => Value::from(one.clone()),
            many => Value::from(many.to_vec()),
        };
        let arg_dict: BTreeMap<&str, Value> = BTreeMap::from([
            ("target_relation", RelationObject::value(target)),
            ("temp_relation", RelationObject::value(temp_relation)),
            ("unique_key", unique_key),
            ("dest_columns", Value::from(columns)),
            (
                "incremental_predicates",
                Value::from(node.config.incremental_predicates.clone()),
            ),
        ]);
        kiln_compile::render_snippet_with(
            self.parsed,
            node,
            &format!("incremental_strategy {strategy}"),
            &format!("{{{{ {}(__kiln_arg_dict) }}}}", strategy.macro_name()),
            &self.resolver,
            options,
            vec![("__kiln_arg_dict", Value::from(arg_dict))],
        )
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
        let pre_hooks = self.pre_hooks(node, &options)?;
        let render_post = self.post_hooks_renderer(node, &options);
        let build = self.build(conn, node, &sql, &pre_hooks, render_post.hooks());
        self.ensure_schema(conn, &node.relation)?;
        Ok(crate::snapshot::snapshot(conn, &build, settings)?)
    }
}
