//! Execution: the fifth step of Kiln's pipeline.
//!
//! Takes a compiled project and an [`kiln_adapter::Adapter`], and materializes the selected
//! models and seeds in dependency order on `--threads` workers ([`scheduler`]). Each build is
//! atomic ([`materialize`]): a failing or killed run leaves the previous relation intact. A
//! failure skips the node's descendants only. Results go to the caller as [`events::Event`]s
//! and to `target/run_results.json` ([`results`]); this crate never prints.

pub mod events;
pub mod materialize;
pub mod results;
pub mod runner;
pub mod scheduler;
pub mod seed;
pub mod warehouse;

pub use events::{Event, Reporter};
pub use results::{NodeResult, RunResults, Status};
pub use runner::{RunOptions, run};
pub use scheduler::Cancel;
