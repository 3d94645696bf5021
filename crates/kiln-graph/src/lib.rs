//! The dependency graph: the third step of Kiln's pipeline.
//!
//! Takes the nodes found by the parse render with their dependencies, resolves `ref` and
//! `source` names ([`NameIndex`]), builds a petgraph DAG ([`Graph`]) that rejects cycles
//! naming every node on them, orders nodes deterministically, and evaluates dbt's selection
//! syntax ([`select`]).

pub mod graph;
pub mod names;
pub mod select;

pub use graph::{Graph, GraphNode, has_cycle};
pub use names::NameIndex;
pub use petgraph::Direction;
pub use select::{IndirectSelection, StateFacts, select, select_with_state};
