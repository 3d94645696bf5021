//! Files to a [`Project`]: the first step of Kiln's pipeline.
//!
//! Reads `project.yml` (or `dbt_project.yml`), the schema YAML files under the resource paths,
//! `profiles.yml` and installed local packages, and discovers the models, macros, seeds, tests
//! and docs blocks on disk. Nothing here renders Jinja beyond `env_var()` in the profile and
//! project files; the result is typed data that keeps the file and line of everything a later
//! step may have to report. Config layers and diagnostics are `kiln-core`'s nouns; this crate
//! fills them in.

pub mod docs;
pub mod env;
pub mod packages;
pub mod profiles;
pub mod project;
pub mod project_file;
pub mod schema;
pub mod snapshot_blocks;
pub mod yaml;

pub use profiles::{Profile, Secret};
pub use project::{Package, Project, SeedFile, SqlFile};
