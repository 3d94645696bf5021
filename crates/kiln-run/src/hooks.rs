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
use crate::materialize::{Hook, PostHooks};

/// A node's pre-hooks (`pre-hook`) or post-hooks (`post-hook`), rendered.
pub fn render_node_hooks(
    parsed: &Parsed,
    node: &Node,
    which: &str,
    resolver: &Arc<dyn Resolver>,
    options: &RenderOptions,
) -> Result<Vec<Hook>, RunError> {
    let hooks = match which {
        "pre-hook" => &node.config.pre_hook,
        _ => &node.config.post_hook,
    };
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
    render(which, hooks)
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

/// A node's post-hooks, to render when they run ([`PostHooks`]).
pub(crate) struct PostHookRenderer<'a> {
    count: usize,
    render: Box<dyn Fn() -> Result<Vec<Hook>, kiln_adapter::AdapterError> + 'a>,
}

impl PostHookRenderer<'_> {
    pub(crate) fn hooks(&self) -> PostHooks<'_> {
        PostHooks {
            count: self.count,
            render: &*self.render,
        }
    }
}

impl crate::runner::Executor<'_> {
    pub(crate) fn pre_hooks(
        &self,
        node: &Node,
        options: &RenderOptions,
    ) -> Result<Vec<Hook>, RunError> {
        render_node_hooks(self.parsed, node, "pre-hook", &self.resolver, options)
    }

    pub(crate) fn post_hooks_renderer<'a>(
        &'a self,
        node: &'a Node,
        options: &'a RenderOptions,
    ) -> PostHookRenderer<'a> {
        PostHookRenderer {
            count: node.config.post_hook.len(),
            render: Box::new(move || {
                render_node_hooks(self.parsed, node, "post-hook", &self.resolver, options)
                    .map_err(|error| kiln_adapter::AdapterError::Other(error.to_string()))
            }),
        }
    }
}
