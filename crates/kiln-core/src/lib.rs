//! The nouns every stage of Kiln's pipeline shares.
//!
//! Loading (`kiln-project`) fills them in, templates (`kiln-jinja`) and the graph
//! (`kiln-graph`) read them, compilation (`kiln-compile`) completes them and execution
//! (`kiln-run`) acts on them, so they live here, below all of those:
//!
//! - [`Node`] and [`ResourceType`]: one model, seed, test, source... with its final config;
//! - [`Relation`]: where a node lives in the warehouse, and [`quote_identifier`], the one
//!   quoting function;
//! - [`config`]: configuration in layers, from [`RawConfig`] (as written) to [`NodeConfig`]
//!   (resolved, typed, command line applied);
//! - [`diagnostic`]: what a user is told about a problem in their files.
//!
//! Nothing here does I/O or renders Jinja.

/// The dbt version Kiln stands for: in artifacts, `dbt_version` in templates, and for packages'
/// `require-dbt-version`.
pub const DBT_VERSION: &str = "1.11.0";

pub mod config;
pub mod diagnostic;
pub mod names;
pub mod node;
pub mod relation;
pub mod resource_type;
pub mod snapshot;
pub mod unit_test;

pub use config::{
    BuiltinStrategy, CliFlags, HardDeletes, IncrementalStrategy, IndexConfig, IndexMethod,
    InvalidValue, Materialization, NodeConfig, OnConfigurationChange, OnSchemaChange, RawConfig,
    TestConfig, TestSeverity, WrongType,
};
pub use diagnostic::{Diagnostic, Diagnostics, Location, Severity};
pub use names::UnknownName;
pub use node::{Column, ExposureInfo, Node, RefCall, SourceCall, SourceInfo, TestInfo, TestKind};
pub use relation::{
    MAX_IDENTIFIER_BYTES, QuotePolicy, Relation, quote_identifier, quote_literal,
    truncated_identifier,
};
pub use resource_type::ResourceType;
pub use snapshot::{CheckCols, MetaColumns, SnapshotConfig, SnapshotConfigError, Strategy};
pub use unit_test::UnitTestSpec;
