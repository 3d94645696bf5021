//! Models built by a `{% materialization %}` block of the project or a package, run as dbt
//! runs one: the macro renders in the model's context and its statements run as it renders.
//!
//! Kiln's own materializations build in one transaction of their own making. A materialization
//! macro makes its own instead, with dbt's rules, which [`Session`] keeps: a statement opens a
//! transaction when none is open (unless it says `auto_begin=False`), `adapter.commit()`
//! commits it, and whatever is left uncommitted when the macro ends is rolled back, as dbt
//! rolls back when it releases the connection. So a macro that fails half-way leaves what its
//! last commit left, exactly as with dbt.

use std::sync::{Mutex, PoisonError};

use kiln_core::{Diagnostic, Node, Relation};
use kiln_jinja::{QueryFailed, QueryResult, Warehouse};
use minijinja::Value;

use crate::connection::SharedConnection;
use crate::error::RunError;
use crate::materialize::{Outcome, outcome};
use crate::results::NodeResult;
use crate::runner::Executor;

/// A connection with dbt's transactions, for one run of a materialization macro.
struct Session {
    conn: SharedConnection,
    /// Whether a transaction is open.
    open: Mutex<bool>,
}

/// What a statement that begins or ends a transaction leaves open: `Some(true)` after
/// `begin`, `Some(false)` after `commit` or `rollback`, `None` for any other statement.
fn transaction_control(sql: &str) -> Option<bool> {
    let statement = sql[kiln_compile::leading_trivia_len(sql)..]
        .trim()
        .trim_end_matches(';')
        .trim()
        .to_ascii_lowercase();
    match statement.as_str() {
        "begin" | "begin transaction" | "start transaction" => Some(true),
        "commit" | "commit transaction" | "end" | "rollback" | "rollback transaction" | "abort" => {
            Some(false)
        }
        _ => None,
    }
}

impl Session {
    fn new(conn: SharedConnection) -> Self {
        Session {
            conn,
            open: Mutex::new(false),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, bool> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, sql: &str) -> Result<(), QueryFailed> {
        self.conn
            .lock()
            .execute(sql)
            .map(|_| ())
            .map_err(|error| QueryFailed {
                message: error.full_message(),
            })
    }

    /// Rolls back what the macro left uncommitted.
    fn release(&self) {
        let mut open = self.open();
        if *open {
            // A failed rollback means a broken connection, which the runner replaces.
            let _ = self.send("rollback");
            *open = false;
        }
    }
}

impl Warehouse for Session {
    fn query(&self, sql: &str) -> Result<QueryResult, QueryFailed> {
        self.statement("", sql, true)
    }

    fn statement(
        &self,
        _name: &str,
        sql: &str,
        auto_begin: bool,
    ) -> Result<QueryResult, QueryFailed> {
        let control = transaction_control(sql);
        let mut open = self.open();
        if auto_begin && control.is_none() && !*open {
            self.send("begin")?;
            *open = true;
        }
        let result = self.conn.query(sql);
        match (&result, control) {
            (Ok(_), Some(now_open)) => *open = now_open,
            // A failed statement in a transaction leaves it aborted: only a rollback helps.
            (Err(_), _) if *open => {
                let _ = self.send("rollback");
                *open = false;
            }
            _ => {}
        }
        result
    }

    fn commit(&self) -> Result<(), QueryFailed> {
        let mut open = self.open();
        if *open {
            self.send("commit")?;
            *open = false;
        }
        Ok(())
    }

    fn columns(&self, relation: &Relation) -> Result<Vec<(String, String)>, QueryFailed> {
        self.conn.columns(relation)
    }

    fn get_relation(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, QueryFailed> {
        self.conn.get_relation(database, schema, identifier)
    }
}

/// dbt's hook objects as a materialization sees them in `pre_hooks` / `post_hooks`: the SQL
/// as configured (`run_hooks` renders it when it runs) and whether it runs in the transaction.
fn hook_values(hooks: &[kiln_core::config::Hook]) -> Value {
    let hooks: Vec<Value> = hooks
        .iter()
        .enumerate()
        .map(|(index, hook)| {
            let transaction = !matches!(
                hook,
                kiln_core::config::Hook::Detailed {
                    transaction: false,
                    ..
                }
            );
            kiln_jinja::to_value(serde_json::json!({
                "sql": hook.sql(),
                "transaction": transaction,
                "index": index,
            }))
        })
        .collect();
    Value::from(hooks)
}

impl Executor<'_> {
    /// Builds `node` with the materialization macro `name`.
    pub(crate) fn run_custom(
        &self,
        node: &Node,
        name: &str,
        conn: &SharedConnection,
        result: &mut NodeResult,
    ) -> Result<Outcome, RunError> {
        let Some(def) = self.parsed.env.materialization_macro(name) else {
            // The parse checks this; a macro can only be missing here if the parse was skipped.
            return Err(RunError::Render(
                Diagnostic::error(format!("no materialization `{name}` is defined"))
                    .at(node.location.clone()),
            ));
        };
        let mut options = self.render_options(conn, false);
        let sql = self.render_to_run(node, &options, result)?;
        self.ensure_schema(conn, &node.relation)?;
        let session = std::sync::Arc::new(Session::new(conn.clone()));
        options.warehouse = Some(session.clone());
        let hooks = vec![
            ("pre_hooks", hook_values(&node.config.pre_hook)),
            ("post_hooks", hook_values(&node.config.post_hook)),
        ];
        let rendered = kiln_compile::render_materialization(
            self.parsed,
            node,
            def,
            &sql,
            &self.resolver,
            &options,
            hooks,
        );
        session.release();
        // The result of the statement named `main`, as dbt reports the model: its command
        // tag (`SELECT 3`), or the message a `noop_statement('main', ...)` stored.
        let main = rendered?.main;
        let message = main.map_or_else(|| "OK".to_owned(), |main| main.status);
        let rows = message
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse::<u64>().ok());
        Ok(outcome(message, rows, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_what_ends_a_transaction() {
        assert_eq!(transaction_control("\n  commit;\n"), Some(false));
        assert_eq!(transaction_control("BEGIN"), Some(true));
        assert_eq!(transaction_control("-- done\nrollback"), Some(false));
        assert_eq!(transaction_control("commit_log_insert()"), None);
        assert_eq!(transaction_control("select 1"), None);
    }
}
