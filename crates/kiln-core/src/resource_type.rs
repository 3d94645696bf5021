//! The kinds of node.

use serde::Serialize;

/// The kinds of node Kiln knows, named as dbt names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    Model,
    Seed,
    Test,
    Source,
    Snapshot,
    Analysis,
    /// A unit test (dbt 1.8's `unit_tests:`).
    #[serde(rename = "unit_test")]
    UnitTest,
    /// A dashboard, notebook or application downstream of the project (`exposures:`).
    Exposure,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Test => "test",
            ResourceType::Source => "source",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Analysis => "analysis",
            ResourceType::UnitTest => "unit_test",
            ResourceType::Exposure => "exposure",
        }
    }

    /// A resource type as the command line and selectors spell it (singular or plural).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "model" | "models" => ResourceType::Model,
            "seed" | "seeds" => ResourceType::Seed,
            "test" | "tests" | "data_test" => ResourceType::Test,
            "source" | "sources" => ResourceType::Source,
            "snapshot" | "snapshots" => ResourceType::Snapshot,
            "analysis" | "analyses" => ResourceType::Analysis,
            "unit_test" | "unit_tests" => ResourceType::UnitTest,
            "exposure" | "exposures" => ResourceType::Exposure,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
