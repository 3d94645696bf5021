//! Integration tests: the `kiln` binary run on fixture projects under `tests/fixtures/`.

// A test harness fails by panicking: unwrap and expect are how it says "this must work".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics_project;
mod artifacts;
mod broken_projects;
mod compile;
mod concurrency;
mod corpus;
mod data_tests;
mod freshness;
mod incremental_edges;
mod init_show;
mod materializations;
mod packages;
mod pg;
mod scripts;
mod select;
mod snapshot_history;
mod support;
mod unit_tests;
mod warehouse;
