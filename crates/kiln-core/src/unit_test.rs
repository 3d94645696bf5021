//! Unit tests (dbt 1.8's `unit_tests:`): a model run on fixed inputs, its output compared
//! with the expected rows.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::node::{RefCall, SourceCall};

/// One row of a fixture: column names (as written) and values, in the order written.
pub type FixtureRow = Vec<(String, Json)>;

/// Rows given as data (`format: dict`, `format: csv`, a fixture file or a seed's CSV), or a
/// query (`format: sql`).
#[derive(Debug, Clone, PartialEq)]
pub enum FixtureRows {
    Rows(Vec<FixtureRow>),
    Sql(String),
}

/// What a `given` entry stands in for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Ref(RefCall),
    Source(SourceCall),
    /// `this`: the model's own table, for the incremental branch.
    This,
}

impl Input {
    /// An input as written: `ref('x')`, `ref('pkg', 'x')`, `source('a', 'b')` or `this`.
    pub fn parse(text: &str) -> Option<Input> {
        let text = text.trim();
        if text == "this" {
            return Some(Input::This);
        }
        let (function, rest) = text.split_once('(')?;
        let args: Vec<String> = rest
            .strip_suffix(')')?
            .split(',')
            .map(|arg| {
                let arg = arg.trim();
                let quoted = (arg.starts_with('\'') && arg.ends_with('\''))
                    || (arg.starts_with('"') && arg.ends_with('"'));
                (quoted && arg.len() >= 2).then(|| arg[1..arg.len() - 1].to_owned())
            })
            .collect::<Option<_>>()?;
        match (function.trim(), args.as_slice()) {
            ("ref", [name]) => Some(Input::Ref(RefCall {
                package: None,
                name: name.clone(),
                version: None,
            })),
            ("ref", [package, name]) => Some(Input::Ref(RefCall {
                package: Some(package.clone()),
                name: name.clone(),
                version: None,
            })),
            ("source", [source, table]) => Some(Input::Source(SourceCall {
                source: source.clone(),
                table: table.clone(),
            })),
            _ => None,
        }
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Ref(RefCall {
                package: Some(package),
                name,
                ..
            }) => write!(f, "ref('{package}', '{name}')"),
            Input::Ref(RefCall {
                package: None,
                name,
                ..
            }) => write!(f, "ref('{name}')"),
            Input::Source(call) => write!(f, "source('{}', '{}')", call.source, call.table),
            Input::This => f.write_str("this"),
        }
    }
}

/// One `given` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    pub input: Input,
    /// The node the input resolves to, once the project's names are known.
    pub node: String,
    pub rows: FixtureRows,
    /// Where the entry is written, for messages.
    pub line: usize,
}

/// `overrides:`: what the model sees instead of the project's values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Macros and what they return (`is_incremental: true`).
    pub macros: BTreeMap<String, Json>,
    pub vars: BTreeMap<String, Json>,
    pub env_vars: BTreeMap<String, String>,
}

/// A unit test of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTestSpec {
    /// The tested model's unique id.
    pub model: String,
    pub given: Vec<Given>,
    pub expect: FixtureRows,
    pub overrides: Overrides,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inputs_as_written() {
        assert_eq!(Input::parse(" this "), Some(Input::This));
        assert_eq!(
            Input::parse("ref('stg_orders')").unwrap().to_string(),
            "ref('stg_orders')"
        );
        assert_eq!(
            Input::parse("ref(\"shop\", 'orders')").unwrap().to_string(),
            "ref('shop', 'orders')"
        );
        assert_eq!(
            Input::parse("source('raw','orders')").unwrap().to_string(),
            "source('raw', 'orders')"
        );
        assert_eq!(Input::parse("ref(orders)"), None);
        assert_eq!(Input::parse("model('x')"), None);
        assert_eq!(Input::parse("source('only_one')"), None);
    }
}
