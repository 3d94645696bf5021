//! Relations: what `ref()`, `source()` and `this` return, rendered as quoted names.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};
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
        }
    }

    /// The CTE name an ephemeral model is inlined under (dbt's naming).
    pub fn ephemeral(model_name: &str) -> Self {
        Relation {
            database: None,
            schema: None,
            identifier: format!("__dbt__cte__{model_name}"),
            kind: Some("cte".to_owned()),
        }
    }

    pub fn with_kind(mut self, kind: &str) -> Self {
        self.kind = Some(kind.to_owned());
        self
    }

    pub fn is_cte(&self) -> bool {
        self.kind.as_deref() == Some("cte")
    }

    pub fn to_value(&self) -> Value {
        Value::from_object(self.clone())
    }
}

/// Quotes an identifier for PostgreSQL: wrapped in double quotes, inner quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_cte() {
            return f.write_str(&self.identifier);
        }
        let parts = [
            self.database.as_deref(),
            self.schema.as_deref(),
            Some(self.identifier.as_str()),
        ];
        let mut first = true;
        for part in parts.into_iter().flatten() {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            f.write_str(&quote_identifier(part))?;
        }
        Ok(())
    }
}

impl Object for Relation {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let opt = |v: &Option<String>| v.clone().map_or(Value::from(()), Value::from);
        Some(match key.as_str()? {
            "database" => opt(&self.database),
            "schema" => opt(&self.schema),
            "identifier" | "name" | "table" => Value::from(self.identifier.clone()),
            "type" => opt(&self.kind),
            "is_table" => Value::from(self.kind.as_deref() == Some("table")),
            "is_view" => Value::from(self.kind.as_deref() == Some("view")),
            "is_cte" => Value::from(self.is_cte()),
            "is_materialized_view" => {
                Value::from(self.kind.as_deref() == Some("materialized_view"))
            }
            "path" => crate::to_value(serde_json::json!({
                "database": self.database, "schema": self.schema, "identifier": self.identifier,
            })),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "render" => Ok(Value::from(self.to_string())),
            "include" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut relation = (**self).clone();
                if !kwargs.get::<Option<bool>>("database")?.unwrap_or(true) {
                    relation.database = None;
                }
                if !kwargs.get::<Option<bool>>("schema")?.unwrap_or(true) {
                    relation.schema = None;
                }
                kwargs.get::<Option<bool>>("identifier")?;
                kwargs.assert_all_used()?;
                Ok(relation.to_value())
            }
            "incorporate" | "replace_path" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut relation = (**self).clone();
                let path: Option<Value> = kwargs.get("path")?;
                let path = path.as_ref();
                let path_field = |name: &str| -> Result<Option<String>, Error> {
                    match path.map(|p| p.get_attr(name)).transpose()? {
                        Some(v) if !v.is_undefined() && !v.is_none() => Ok(Some(v.to_string())),
                        _ => Ok(None),
                    }
                };
                let fields = [
                    (
                        "database",
                        path_field("database")?.or(kwargs.get("database")?),
                    ),
                    ("schema", path_field("schema")?.or(kwargs.get("schema")?)),
                    (
                        "identifier",
                        path_field("identifier")?.or(kwargs.get("identifier")?),
                    ),
                ];
                for (name, value) in fields {
                    match (name, value) {
                        ("database", Some(v)) => relation.database = Some(v),
                        ("schema", Some(v)) => relation.schema = Some(v),
                        ("identifier", Some(v)) => relation.identifier = v,
                        _ => {}
                    }
                }
                if let Some(kind) = kwargs.get::<Option<String>>("type")? {
                    relation.kind = Some(kind);
                }
                Ok(relation.to_value())
            }
            "quote" => Ok(Value::from_dyn_object(self.clone())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("relations have no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_quoted_three_part_names() {
        let relation = Relation::new("analytics", "dbt_marts", "orders");
        assert_eq!(relation.to_string(), r#""analytics"."dbt_marts"."orders""#);
        assert_eq!(Relation::ephemeral("eph").to_string(), "__dbt__cte__eph");
        assert_eq!(quote_identifier(r#"we"ird"#), r#""we""ird""#);
    }

    #[test]
    fn jinja_sees_attributes_and_include() {
        let mut env = minijinja::Environment::new();
        env.add_global("r", Relation::new("db", "s", "t").to_value());
        let out = env
            .render_str(
                "{{ r.schema }}.{{ r.identifier }} {{ r.include(database=false) }}",
                (),
            )
            .unwrap();
        assert_eq!(out, r#"s.t "s"."t""#);
    }
}
