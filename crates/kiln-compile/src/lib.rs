//! Project to compiled SQL: the fourth step of Kiln's pipeline.
//!
//! [`parse`] renders every model once with recording `ref`/`source`/`config` (in parallel),
//! resolves each node's config (project file < schema YAML < `config()` in the SQL < the command
//! line; invalid values are errors at the node's file and line) and its
//! relation (`generate_schema_name` & co.), resolves dependencies and builds the graph.
//! [`compile`] renders the selected models again with `ref` resolved to quoted relations and
//! inlines ephemeral models as CTEs; [`manifest`] writes `target/manifest.json` and the
//! compiled SQL files. Nothing here opens a database connection.

pub mod compile;
pub mod discover;
pub mod docs;
pub mod groups;
pub mod manifest;
pub mod microbatch;
pub mod node;
pub mod parse;
pub mod semantic;
pub mod state;
pub mod test_nodes;
pub mod unit_tests;

pub use compile::{
    RenderOptions, compile, leading_trivia_len, render, render_materialization, render_snippet,
    render_snippet_with, resolver, with_ephemeral_ctes,
};
pub use kiln_core::Node;
pub use parse::{Options, Parsed, Timings, parse};
