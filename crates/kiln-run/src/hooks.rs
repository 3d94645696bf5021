//! Hooks: a node's `pre-hook` / `post-hook` rendered in its context, and the run's
//! `on-run-start` / `on-run-end` run on a connection of their own.

use std::sync::Arc;

use kiln_adapter::Adapter;
use kiln_compile::{Parsed, RenderOptions};
use kiln_core::config::Hook as ConfiguredHook;
use kiln_core::{Node, RawConfig, Relation};
use kiln_jinja::{NodeContext, NodeInfo, Phase, Resolver, Warehouse};

use crate::connection::SharedConnection;
use crate::error::RunError;
use crate::events::{Event, Reporter};
use crate::materialize::Hook;

/// A node's pre- and post-hooks, rendered.
pub fn node_hooks(
    parsed: &Parsed,
    node: &Node,
    resolver: &Arc<dyn Resolver>,
    options: &RenderOptions,
) -> Result<(Vec<Hook>, Vec<Hook>), RunError> {
    let render = |which: &str, hooks: &[ConfiguredHook]| {
        hooks
            .iter()
            .map(|hook| {
                let sql = kiln_compile::render_snippet(
                    parsed,
                    node,
                    which,
                    hook.sql(),
                    resolver,
                    options,
                )?;
                let transaction = !matches!(
                    hook,
                    ConfiguredHook::Detailed {
                        transaction: false,
                        ..
                    }
                );
                Ok(Hook { sql, transaction })
            })
            .collect::<Result<Vec<Hook>, RunError>>()
    };
    Ok((
        render("pre-hook", &node.config.pre_hook)?,
        render("post-hook", &node.config.post_hook)?,
    ))
}

/// The context of an operation (a run hook, `kiln run-operation`): the root project's, with
/// the warehouse connected.
pub(crate) fn operation_context(
    parsed: &Parsed,
    conn: &SharedConnection,
    name: &str,
) -> NodeContext {
    let info = NodeInfo {
        unique_id: format!("operation.{0}.{0}-{name}", parsed.env.registry().root()),
        name: name.to_owned(),
        package: String::new(),
        resource_type: "operation".to_owned(),
        original_file_path: String::new(),
        fqn: vec![name.to_owned()],
    };
    let this = Relation::new(parsed.profile.database(), parsed.profile.schema(), name);
    let warehouse: Arc<dyn Warehouse> = Arc::new(conn.clone());
    NodeContext::new(
        Phase::Compile,
        info,
        this,
        RawConfig::default(),
        serde_json::json!({}),
        kiln_compile::resolver(parsed),
    )
    .with_warehouse(warehouse)
}

/// Renders and runs one `on-run-start` / `on-run-end` hook.
fn run_hook(
    parsed: &Parsed,
    conn: &SharedConnection,
    name: &str,
    sql: &str,
    values: &[(&str, serde_json::Value)],
) -> Result<(), RunError> {
    let context = values.iter().fold(
        operation_context(parsed, conn, name),
        |context, (key, value)| context.with_extra(key, kiln_jinja::to_value(value)),
    );
    let rendered = parsed.env.render(name, sql, Arc::new(context))?;
    if rendered.trim().is_empty() {
        return Ok(());
    }
    conn.lock().execute(&rendered)?;
    Ok(())
}

/// Runs the run's hooks named `name` in order; false when one fails (it is reported).
/// `values` are names the hooks' context has besides an operation's (`on-run-end`'s
/// `results`, `schemas`, `database_schemas`).
pub fn run_hooks(
    parsed: &Parsed,
    adapter: &dyn Adapter,
    name: &str,
    hooks: &[String],
    values: &[(&str, serde_json::Value)],
    reporter: &dyn Reporter,
) -> bool {
    if hooks.is_empty() {
        return true;
    }
    let conn = match adapter.connect() {
        Ok(conn) => SharedConnection::new(conn),
        Err(error) => {
            reporter.report(Event::Hook {
                name,
                ok: false,
                message: error.to_string(),
            });
            return false;
        }
    };
    for (i, sql) in hooks.iter().enumerate() {
        let label = format!("{name}.{i}");
        match run_hook(parsed, &conn, &label, sql, values) {
            Ok(()) => reporter.report(Event::Hook {
                name: &label,
                ok: true,
                message: "OK".to_owned(),
            }),
            Err(error) => {
                reporter.report(Event::Hook {
                    name: &label,
                    ok: false,
                    message: error.to_string(),
                });
                return false;
            }
        }
    }
    true
}
