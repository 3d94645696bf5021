//! Relations: where a node lives in the warehouse, and the one way Kiln quotes names.

use std::fmt;

use serde::Serialize;

/// A table or view in the warehouse, or an ephemeral model's CTE.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Relation {
    pub database: Option<String>,
    pub schema: Option<String>,
    pub identifier: String,
    /// `table`, `view`, `cte`, `materialized_view`, or none when unknown.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Which parts are written in double quotes (dbt's `quoting:`; all by default).
    #[serde(skip)]
    pub quote: QuotePolicy,
}

/// dbt's quote policy: which parts of a relation's name are quoted when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct QuotePolicy {
    pub database: bool,
    pub schema: bool,
    pub identifier: bool,
}

impl Default for QuotePolicy {
    fn default() -> Self {
        QuotePolicy {
            database: true,
            schema: true,
            identifier: true,
        }
    }
}

impl QuotePolicy {
    /// This policy with the parts a `quoting:` mapping sets (`{identifier: false}`) changed.
    pub fn with(mut self, quoting: Option<&serde_json::Value>) -> Self {
        let Some(quoting) = quoting.and_then(serde_json::Value::as_object) else {
            return self;
        };
        for (key, part) in [
            ("database", &mut self.database),
            ("schema", &mut self.schema),
            ("identifier", &mut self.identifier),
        ] {
            if let Some(value) = quoting.get(key).and_then(serde_json::Value::as_bool) {
                *part = value;
            }
        }
        self
    }
}

impl Relation {
    pub fn new(
        database: impl Into<String>,
        schema: impl Into<String>,
        identifier: impl Into<String>,
    ) -> Self {
        Relation {
            database: Some(database.into()),
            schema: Some(schema.into()),
            identifier: identifier.into(),
            kind: None,
            quote: QuotePolicy::default(),
        }
    }

    /// The CTE name an ephemeral model is inlined under (dbt's naming).
    pub fn ephemeral(model_name: &str) -> Self {
        Relation {
            database: None,
            schema: None,
            identifier: format!("__dbt__cte__{model_name}"),
            kind: Some("cte".to_owned()),
            quote: QuotePolicy::default(),
        }
    }

    pub fn with_kind(mut self, kind: &str) -> Self {
        self.kind = Some(kind.to_owned());
        self
    }

    pub fn is_cte(&self) -> bool {
        self.kind.as_deref() == Some("cte")
    }

    /// The schema, or PostgreSQL's default one when none is set.
    pub fn schema_or_public(&self) -> &str {
        self.schema.as_deref().unwrap_or("public")
    }

    /// `schema.identifier` unquoted, as run output shows it.
    pub fn display_name(&self) -> String {
        format!(
            "{}.{}",
            self.schema.as_deref().unwrap_or(""),
            self.identifier
        )
    }
}

/// PostgreSQL's limit on identifiers, in bytes (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// `name` as PostgreSQL keeps it: cut to 63 bytes at a character boundary, as the server
/// silently does, so that two names sharing those bytes are the same relation.
pub fn truncated_identifier(name: &str) -> &str {
    let mut keep = name.len().min(MAX_IDENTIFIER_BYTES);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    &name[..keep]
}

/// Quotes an identifier for PostgreSQL: wrapped in double quotes, inner quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal: wrapped in single quotes, inner quotes doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_cte() {
            return f.write_str(&self.identifier);
        }
        let parts = [
            (self.database.as_deref(), self.quote.database),
            (self.schema.as_deref(), self.quote.schema),
            (
                Some(self.identifier.as_str()).filter(|identifier| !identifier.is_empty()),
                self.quote.identifier,
            ),
        ];
        let mut first = true;
        for (part, quoted) in parts {
            let Some(part) = part else {
                continue;
            };
            if !first {
                f.write_str(".")?;
            }
            first = false;
            if quoted {
                f.write_str(&quote_identifier(part))?;
            } else {
                f.write_str(part)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_quoted_three_part_names() {
        let relation = Relation::new("analytics", "dbt_marts", "orders");
        assert_eq!(relation.to_string(), r#""analytics"."dbt_marts"."orders""#);
        let unquoted = Relation {
            quote: QuotePolicy::default().with(Some(&serde_json::json!({
                "database": false, "schema": false
            }))),
            ..relation
        };
        assert_eq!(unquoted.to_string(), r#"analytics.dbt_marts."orders""#);
        assert_eq!(Relation::ephemeral("eph").to_string(), "__dbt__cte__eph");
        assert_eq!(quote_identifier(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
