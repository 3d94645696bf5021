//! What the runner reports while it works, as typed events; the binary decides how to show
//! them (text lines, a live status line, JSON).

use kiln_core::Node;

use crate::results::NodeResult;

/// Something that happened during a run.
#[derive(Debug)]
pub enum Event<'a> {
    /// A node starts, numbered like dbt's output (`3 of 41`).
    Start {
        index: usize,
        total: usize,
        node: &'a Node,
    },
    /// A node finished, or was skipped (`index` is 0 then).
    Finish {
        index: usize,
        total: usize,
        node: &'a Node,
        result: &'a NodeResult,
    },
    /// Swapping in a node's new relation recreated views of other projects (or of nodes not
    /// in this run) that depended on the old one.
    RecreatedViews { node: &'a Node, views: &'a [String] },
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
