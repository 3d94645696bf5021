//! Nodes: the models, seeds, tests and sources of a project, with their final config and
//! relation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value as Json;

use crate::config::{Materialization, NodeConfig};
use crate::diagnostic::Location;
use crate::relation::Relation;
use crate::resource_type::ResourceType;

/// A `ref()` call: `ref('model')`, `ref('package', 'model')`, `ref('model', v=2)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RefCall {
    pub package: Option<String>,
    pub name: String,
    /// A versioned model's version; none is its latest version.
    pub version: Option<String>,
}

impl RefCall {
    /// The name a versioned model's version is found under: `orders.v2`.
    pub fn versioned_name(name: &str, version: &str) -> String {
        format!("{name}.v{version}")
    }

    /// The name this call looks up.
    pub fn lookup_name(&self) -> std::borrow::Cow<'_, str> {
        match &self.version {
            Some(version) => Self::versioned_name(&self.name, version).into(),
            None => self.name.as_str().into(),
        }
    }
}

/// A `source()` call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceCall {
    pub source: String,
    pub table: String,
}

/// A documented column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    pub quote: Option<bool>,
    pub meta: BTreeMap<String, Json>,
    pub tags: Vec<String>,
    /// Its `constraints:` as written (`[{type: not_null}]`).
    pub constraints: Vec<Json>,
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

/// What kind of test a test node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// Declared in schema YAML, rendered from a `{% test %}` macro.
    Generic,
    /// A `.sql` file under the test paths.
    Singular,
    /// A unit test (`unit_tests:` in YAML).
    Unit,
}

impl TestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::Generic => "generic",
            TestKind::Singular => "singular",
            TestKind::Unit => "unit",
        }
    }
}

/// What a test node knows about the test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestInfo {
    pub kind: TestKind,
    /// `unique`, `accepted_values`, a custom test's name, or a singular test's file name.
    pub test_name: String,
    pub column_name: Option<String>,
    /// The node the test is attached to (its `model`), once dependencies are resolved.
    pub attached_node: Option<String>,
    /// Whether that node is a source (the test's first `source()` call) or not (its first
    /// `ref()`).
    pub attached_to_source: bool,
    /// For Kiln's built-in generic tests, whose macros call no `ref` of their own: the calls in
    /// the test's arguments, so that the parse phase need not render it.
    pub static_calls: Option<(Vec<RefCall>, Vec<SourceCall>)>,
    /// Generic tests: dbt's `test_metadata` (`name`, `kwargs`, `namespace`) and
    /// `file_key_name` (`models.orders`, `sources.shop`), as the manifest shows them.
    pub metadata: Option<Json>,
    pub file_key_name: Option<String>,
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
    /// dbt's `depends_on.macros`: the macros its template calls itself, in call order
    /// (`macro.dbt_utils.star`); for a generic test, its test macro first.
    pub macros: Vec<String>,
    /// The SQL that runs, once compiled (models only).
    pub compiled_code: Option<String>,
    pub source: Option<SourceInfo>,
    /// Schema YAML file that documents it, if any.
    pub patch_path: Option<PathBuf>,
    /// For data tests: what the test is.
    pub test: Option<TestInfo>,
    /// For unit tests: the inputs, the expected rows and the overrides.
    pub unit_test: Option<Box<crate::UnitTestSpec>>,
    /// A versioned model's version (`versions:` in its YAML) and its model's latest version.
    pub version: Option<String>,
    pub latest_version: Option<String>,
    /// A model's `time_spine:` (MetricFlow's), as its YAML sets it.
    pub time_spine: Option<Json>,
    /// For exposures: what the exposure is and who owns it.
    pub exposure: Option<Box<ExposureInfo>>,
}

/// What an exposure's YAML says beyond its name and dependencies.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureInfo {
    /// `dashboard`, `notebook`, `analysis`, `ml` or `application` (dbt's `type`).
    pub kind: String,
    /// `{name, email}`, as written.
    pub owner: Json,
    pub label: Option<String>,
    pub maturity: Option<String>,
    pub url: Option<String>,
    /// The `depends_on` entries as written, for the manifest's `unrendered` view.
    pub depends_on: Vec<String>,
}

impl Node {
    /// dbt's alias when none is configured: the name, `<name>_v<version>` for a model version.
    pub fn default_alias(&self) -> String {
        match &self.version {
            Some(version) => format!("{}_v{}", self.name, version.replace('.', "_")),
            None => self.name.clone(),
        }
    }

    pub fn is_ephemeral(&self) -> bool {
        self.resource_type == ResourceType::Model
            && self.config.materialized == Materialization::Ephemeral
    }
}
