//! What can go wrong while one node runs. The message becomes the node's result; the run goes
//! on with the nodes that do not depend on it.

use kiln_adapter::AdapterError;
use kiln_core::{Diagnostic, Materialization};

use crate::seed_csv::SeedError;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The node's SQL, or one of its hooks, did not render.
    #[error("{0}")]
    Render(#[from] Diagnostic),
    /// The warehouse refused a statement, or could not be reached.
    #[error("{}", .0.full_message())]
    Warehouse(#[from] AdapterError),
    /// A seed file could not be read.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// A data test's count query returned no row.
    #[error("the test's count returned no row")]
    NoTestCount,
    /// A seed whose package is not loaded (an inconsistency reported, not hidden).
    #[error("the seed's package `{0}` is not loaded")]
    PackageNotLoaded(String),
    /// A unit test that cannot run as written (an input missing from the warehouse...).
    #[error("{0}")]
    UnitTest(String),
    /// A model whose materialization is not something a run builds.
    #[error("materialization `{0}` cannot run")]
    NotRunnable(Materialization),
}
