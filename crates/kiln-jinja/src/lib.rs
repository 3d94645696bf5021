//! Jinja for Kiln: the second step of the pipeline.
//!
//! Builds one MiniJinja environment per project with dbt's context — `ref`, `source`,
//! `config`, `var`, `env_var`, `this`, `target`, `is_incremental`, `adapter.dispatch`,
//! `return`, `log`, `exceptions` — and every macro of the project, its packages and Kiln's
//! built-ins, callable from anywhere without an import. A node is rendered with a
//! [`NodeContext`]: in the parse phase it records the node's `ref`s, `source`s and `config()`
//! calls; in the compile phase `ref` resolves to the final relation. Introspective calls
//! (`run_query`, `adapter.get_columns_in_relation`...) answer as in dbt's parse phase until a
//! warehouse adapter is plugged in.

pub mod builtins;
pub mod context;
pub mod environment;
pub mod error;
mod graph;
pub mod introspection;
pub mod macro_file;
pub mod macros;
mod modules;
mod python_filters;
pub mod relation;

pub use context::{EventTimeWindow, NodeContext, NodeInfo, Phase, Recorded, Resolver};
pub use environment::{EnvOptions, JinjaEnv};
pub use introspection::{QueryFailed, QueryResult, Warehouse};
pub use python_filters::python_str_repr;
pub use relation::{EventTimeFilter, RelationObject};

/// Any serializable value (config, vars, JSON) as a template value.
pub fn to_value<T: serde::Serialize>(value: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}
