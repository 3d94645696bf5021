//! What goes wrong when a `ref()` or `source()` is resolved.

use std::fmt;

/// A `ref()` or `source()` that names nothing Kiln knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownName {
    /// `ref('name')` or `ref('package', 'name')`.
    Ref {
        name: String,
        package: Option<String>,
        suggestion: Option<String>,
    },
    /// `source('source', ...)` with an undeclared source.
    Source {
        source: String,
        suggestion: Option<String>,
    },
    /// `source('source', 'table')` with a table the source does not declare.
    SourceTable {
        source: String,
        table: String,
        suggestion: Option<String>,
        tables: Vec<String>,
    },
    /// A node found by name that has no relation (an internal inconsistency, reported rather
    /// than hidden).
    NoRelation { unique_id: String },
    /// In a unit test: an input of the model that the test gives no rows for.
    NotGiven { input: String },
}

impl std::error::Error for UnknownName {}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownName::Ref {
                name,
                package,
                suggestion,
            } => {
                write!(f, "no model, seed or snapshot is named `{name}`")?;
                if let Some(package) = package {
                    write!(f, " in package `{package}`")?;
                }
                match suggestion {
                    Some(suggestion) => write!(f, "; did you mean `{suggestion}`?"),
                    None => Ok(()),
                }
            }
            UnknownName::Source { source, suggestion } => match suggestion {
                Some(s) => write!(f, "source `{source}` is not declared; did you mean `{s}`?"),
                None => write!(
                    f,
                    "source `{source}` is not declared in any schema YAML file"
                ),
            },
            UnknownName::SourceTable {
                source,
                table,
                suggestion,
                tables,
            } => match suggestion {
                Some(t) => write!(
                    f,
                    "source `{source}` has no table `{table}`; did you mean `{t}`?"
                ),
                None => write!(
                    f,
                    "source `{source}` has no table `{table}`; its tables are {}",
                    tables.join(", ")
                ),
            },
            UnknownName::NoRelation { unique_id } => write!(f, "`{unique_id}` has no relation"),
            UnknownName::NotGiven { input } => write!(
                f,
                "the unit test gives no rows for {input}: add `- input: {input}` under `given:` (with `rows: []` for none)"
            ),
        }
    }
}
