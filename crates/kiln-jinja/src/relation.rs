//! Relations as templates see them: what `ref()`, `source()` and `this` return, with dbt's
//! attributes and methods, rendered as quoted names. The data is [`kiln_core::Relation`].

use std::fmt;
use std::sync::Arc;

use kiln_core::Relation;
use minijinja::value::{Kwargs, Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};

/// A [`Relation`] as a template value: what `ref()`, `source()` and `this` return: the
/// relation, a row limit (`--empty`) and a microbatch's event-time filter.
#[derive(Debug, Clone)]
pub struct RelationObject(pub Relation, pub Option<u64>, pub Option<EventTimeFilter>);

/// A microbatch run reads its parents' rows of one time window: `column >= start and column <
/// end` (dbt's `EventTimeFilter`; the bounds as Python prints a UTC datetime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTimeFilter {
    pub column: String,
    pub start: String,
    pub end: String,
}

impl RelationObject {
    /// The template value of `relation`.
    pub fn value(relation: Relation) -> Value {
        Value::from_object(RelationObject(relation, None, None))
    }

    /// `relation` read through `limit` rows at most (`--empty`: 0), as dbt's `render_limited`,
    /// and through `filter`'s window.
    pub fn limited(
        relation: Relation,
        limit: Option<u64>,
        filter: Option<EventTimeFilter>,
    ) -> Value {
        Value::from_object(RelationObject(relation, limit, filter))
    }

    /// The relation a template value holds, if it is one.
    pub fn from_value(value: &Value) -> Option<&Relation> {
        value
            .downcast_object_ref::<RelationObject>()
            .map(|object| &object.0)
    }
}

/// The keys a Relation has as a mapping (dbt's `BaseRelation` is one): what `is mapping`,
/// iteration and `.get()` see.
const MAPPING_KEYS: &[&str] = &[
    "path",
    "type",
    "quote_character",
    "include_policy",
    "quote_policy",
    "limit",
    "require_alias",
    "metadata",
];

impl Object for RelationObject {
    /// A mapping, as dbt's Relation is, so that dbt_utils' `_is_relation` check
    /// (`obj is mapping and obj.get('metadata', {}).get('type', '').endswith('Relation')`) holds.
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(MAPPING_KEYS)
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let relation = &self.0;
        let opt = |v: &Option<String>| v.clone().map_or(Value::from(()), Value::from);
        Some(match key.as_str()? {
            "database" => opt(&relation.database),
            "schema" => opt(&relation.schema),
            "identifier" | "name" | "table" => Value::from(relation.identifier.clone()),
            "type" => opt(&relation.kind),
            "is_table" => Value::from(relation.kind.as_deref() == Some("table")),
            "is_view" => Value::from(relation.kind.as_deref() == Some("view")),
            "is_cte" => Value::from(relation.is_cte()),
            "is_materialized_view" => {
                Value::from(relation.kind.as_deref() == Some("materialized_view"))
            }
            "path" => crate::to_value(serde_json::json!({
                "database": relation.database, "schema": relation.schema, "identifier": relation.identifier,
            })),
            "metadata" => crate::to_value(serde_json::json!({"type": "PostgresRelation"})),
            "quote_character" => Value::from("\""),
            "include_policy" => crate::to_value(serde_json::json!({
                "database": relation.database.is_some(), "schema": relation.schema.is_some(), "identifier": true,
            })),
            "quote_policy" => {
                crate::to_value(serde_json::to_value(relation.quote).unwrap_or_default())
            }
            "limit" => self.1.map_or(Value::from(()), Value::from),
            "require_alias" => Value::from(true),
            "can_be_renamed" | "can_be_replaced" => Value::from(true),
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
            "render" => Ok(Value::from(self.0.to_string())),
            "include" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut relation = self.0.clone();
                if !kwargs.get::<Option<bool>>("database")?.unwrap_or(true) {
                    relation.database = None;
                }
                if !kwargs.get::<Option<bool>>("schema")?.unwrap_or(true) {
                    relation.schema = None;
                }
                kwargs.get::<Option<bool>>("identifier")?;
                kwargs.assert_all_used()?;
                Ok(RelationObject::value(relation))
            }
            "incorporate" | "replace_path" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut relation = self.0.clone();
                let path: Option<Value> = kwargs.get("path")?;
                let path = path.as_ref();
                // `Some(None)`: the path names the part as none, which clears it (dbt's
                // temporary relations have no schema); `None`: the path does not name it.
                let path_field = |name: &str| -> Result<Option<Option<String>>, Error> {
                    Ok(match path.map(|p| p.get_attr(name)).transpose()? {
                        Some(v) if v.is_undefined() => None,
                        Some(v) if v.is_none() => Some(None),
                        Some(v) => Some(Some(v.to_string())),
                        None => None,
                    })
                };
                let part = |name: &str| -> Result<Option<Option<String>>, Error> {
                    Ok(path_field(name)?.or(kwargs.get::<Option<String>>(name)?.map(Some)))
                };
                if let Some(database) = part("database")? {
                    relation.database = database;
                }
                if let Some(schema) = part("schema")? {
                    relation.schema = schema;
                }
                if let Some(identifier) = part("identifier")? {
                    relation.identifier = identifier.unwrap_or_default();
                }
                if let Some(kind) = kwargs.get::<Option<String>>("type")? {
                    relation.kind = Some(kind);
                }
                Ok(RelationObject::value(relation))
            }
            // `relation.quote(identifier=false)`: the same relation, quoted as asked.
            "quote" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut relation = self.0.clone();
                for (key, part) in [
                    ("database", &mut relation.quote.database),
                    ("schema", &mut relation.quote.schema),
                    ("identifier", &mut relation.quote.identifier),
                ] {
                    if let Some(value) = kwargs.get::<Option<bool>>(key)? {
                        *part = value;
                    }
                }
                Ok(RelationObject::value(relation))
            }
            // `ref('x').information_schema('columns')`: dbt's InformationSchema relation,
            // `"db".INFORMATION_SCHEMA.columns` (only the database quoted, as the relation's).
            "information_schema" => {
                let (view,): (Option<String>,) = from_args(args)?;
                Ok(RelationObject::value(Relation {
                    database: self.0.database.clone(),
                    schema: Some("INFORMATION_SCHEMA".to_owned()),
                    identifier: view.unwrap_or_default(),
                    kind: None,
                    quote: kiln_core::QuotePolicy {
                        schema: false,
                        identifier: false,
                        ..self.0.quote
                    },
                }))
            }
            "without_identifier" => Ok(RelationObject::value(Relation {
                identifier: String::new(),
                ..self.0.clone()
            })),
            "render_limited" => Ok(Value::from(self.0.to_string())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("relations have no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = &self.0.identifier;
        match (self.1, &self.2) {
            (None, Some(EventTimeFilter { column, start, end })) => write!(
                f,
                "(select * from {} where {column} >= '{start}' and {column} < '{end}') _dbt_et_filter_subq_{table}",
                self.0
            ),
            (limit, _) => self.render_limited(f, limit),
        }
    }
}

impl RelationObject {
    fn render_limited(&self, f: &mut fmt::Formatter<'_>, limit: Option<u64>) -> fmt::Result {
        let table = &self.0.identifier;
        match limit {
            None => fmt::Display::fmt(&self.0, f),
            Some(0) => write!(
                f,
                "(select * from {} where false limit 0) _dbt_limit_subq_{table}",
                self.0
            ),
            Some(n) => write!(
                f,
                "(select * from {} limit {n}) _dbt_limit_subq_{table}",
                self.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jinja_sees_attributes_and_include() {
        let mut env = minijinja::Environment::new();
        env.add_global("r", RelationObject::value(Relation::new("db", "s", "t")));
        let out = env
            .render_str(
                "{{ r.schema }}.{{ r.identifier }} {{ r.include(database=false) }} {{ r }}",
                (),
            )
            .unwrap();
        assert_eq!(out, r#"s.t "s"."t" "db"."s"."t""#);
    }
}
