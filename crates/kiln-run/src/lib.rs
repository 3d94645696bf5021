//! Execution: the fifth step of Kiln's pipeline.
//!
//! Takes a compiled project and an [`kiln_adapter::Adapter`], and runs the selected nodes in
//! dependency order on `--threads` workers:
//!
//! - [`plan`]: the jobs and what each waits for, from the project's graph;
//! - [`scheduler`]: workers, fail-fast and cancellation; a failure skips descendants only;
//! - [`runner`]: what one run shares, and the run's entry point [`run`]; each kind of node has
//!   its module: `models`, `test_verdict` (pass, warn or fail), `seeds`; `hooks` renders and
//!   runs hooks;
//! - [`materialize`]: atomic builds: a failing or killed run leaves the previous relation
//!   intact; [`connection`]: a worker's connection, shared with the templates it renders;
//! - [`events`] for the caller to show, [`results`] for `target/run_results.json`.
//!
//! Errors of one node are [`RunError`]s that become its result. This crate never prints.

pub mod connection;
mod custom;
pub mod error;
pub mod events;
pub mod freshness;
mod hooks;
pub mod materialize;
mod models;
pub mod operation;
pub mod plan;
pub mod results;
pub mod runner;
pub mod scheduler;
pub mod seed_csv;
mod seeds;
mod snapshot;
mod test_verdict;
mod unit_test;

pub use error::RunError;
pub use events::{Event, Reporter};
pub use results::{NodeResult, RunResults, Status};
pub use runner::{RunOptions, run};
pub use scheduler::Cancel;
