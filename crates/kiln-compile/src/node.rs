//! The nodes of a compiled project: models, seeds and sources, with their final config and
//! relation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_graph::ResourceType;
use kiln_jinja::{Recorded, RefCall, Relation, SourceCall};
use kiln_project::schema::ColumnProps;
use kiln_project::{Location, NodeConfig};
use serde_json::Value as Json;

/// A documented column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    pub quote: Option<bool>,
    pub meta: BTreeMap<String, Json>,
    pub tags: Vec<String>,
}

impl From<&ColumnProps> for Column {
    fn from(props: &ColumnProps) -> Self {
        Column {
            name: props.name.clone(),
            description: props.description.clone(),
            data_type: props.data_type.clone(),
            quote: props.quote,
            meta: props.meta.clone(),
            tags: props.tags.clone(),
        }
    }
}

/// What a source node has that others do not.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub source_name: String,
    pub source_description: String,
    pub loader: Option<String>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Json>,
}

/// One node of the project.
#[derive(Debug, Clone)]
pub struct Node {
    pub unique_id: String,
    pub name: String,
    pub resource_type: ResourceType,
    pub package: String,
    pub fqn: Vec<String>,
    /// Relative to the package (dbt's `original_file_path`).
    pub original_file_path: PathBuf,
    /// Relative to the root project: what messages show.
    pub display_path: PathBuf,
    /// Where messages about the node point (the SQL file, or the YAML entry of a source).
    pub location: Location,
    pub raw_code: String,
    pub config: NodeConfig,
    /// Where the node lives in the warehouse.
    pub relation: Relation,
    pub description: String,
    pub columns: Vec<Column>,
    pub meta: BTreeMap<String, Json>,
    pub refs: Vec<RefCall>,
    pub sources: Vec<SourceCall>,
    /// Unique ids of its parents, sorted.
    pub depends_on: Vec<String>,
    /// The SQL that runs, once compiled (models only).
    pub compiled_code: Option<String>,
    pub source: Option<SourceInfo>,
    /// Schema YAML file that documents it, if any.
    pub patch_path: Option<PathBuf>,
    /// For data tests: what the test is.
    pub test: Option<crate::data_tests::TestInfo>,
}

impl Node {
    pub fn is_ephemeral(&self) -> bool {
        self.resource_type == ResourceType::Model && self.config.materialized == "ephemeral"
    }

    /// Records what the parse render found.
    pub(crate) fn apply_recorded(&mut self, recorded: Recorded, default_materialization: &str) {
        self.refs = recorded.refs;
        self.sources = recorded.sources;
        self.config = recorded.config.resolve(default_materialization);
    }
}
