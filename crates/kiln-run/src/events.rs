//! What the runner reports while it works; the binary decides how to show it.

use crate::results::NodeResult;

/// A node starting or finishing, numbered like dbt's output (`3 of 41`).
#[derive(Debug)]
pub enum Event<'a> {
    Start {
        index: usize,
        total: usize,
        unique_id: &'a str,
        description: &'a str,
    },
    Finish {
        index: usize,
        total: usize,
        description: &'a str,
        result: &'a NodeResult,
    },
    /// Something the user should know that is not a node's result.
    Warning { message: String },
    /// A hook of the whole run (`on-run-start`, `on-run-end`) ran.
    Hook {
        name: &'a str,
        ok: bool,
        message: String,
    },
}

/// Receives events from any worker thread.
pub trait Reporter: Sync {
    fn report(&self, event: Event<'_>);
}
