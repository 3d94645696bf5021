//! dbt's `graph` and `context` globals.
//!
//! `graph` holds the project's nodes, sources and macros as dbt's graph context has them
//! (`graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')`). The environment
//! is built before the parse, so `graph` starts empty (as in dbt's parse phase) and the parse
//! fills it in. `context` answers `context.get(name)` and `context[name]`-style lookups of
//! what a template can see.

use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};

const GRAPH_KEYS: &[&str] = &[
    "nodes",
    "sources",
    "macros",
    "exposures",
    "metrics",
    "groups",
    "semantic_models",
    "saved_queries",
    "unit_tests",
];

/// The graph: empty until the parse fills it in. Like dbt's, it is one dict for the whole
/// command, which packages also use as a cache (`graph.setdefault('elementary', {})`): its
/// methods reach that dict.
#[derive(Debug, Default)]
pub struct GraphGlobal {
    filled: OnceLock<Value>,
    /// What `graph` is before the parse fills it in: each section empty.
    empty: OnceLock<Value>,
}

impl GraphGlobal {
    pub fn set(&self, graph: Value) {
        // Set once per parse; a second parse builds a new environment.
        let _ = self.filled.set(graph);
    }

    fn current(&self) -> &Value {
        self.filled.get().unwrap_or_else(|| {
            self.empty.get_or_init(|| {
                crate::to_value(
                    GRAPH_KEYS
                        .iter()
                        .map(|key| ((*key).to_owned(), serde_json::json!({})))
                        .collect::<serde_json::Map<String, serde_json::Value>>(),
                )
            })
        })
    }
}

impl Object for GraphGlobal {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.current()
            .get_item(key)
            .ok()
            .filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys = self.current().try_iter().map(|keys| keys.collect());
        Enumerator::Values(keys.unwrap_or_default())
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        self.current().call_method(state, method, args)
    }
}

/// dbt's `context`: the names a template sees, looked up with `.get(name, default)`.
#[derive(Debug)]
pub struct ContextObject;

impl Object for ContextObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "get" => {
                let (name, default): (String, Option<Value>) = from_args(args)?;
                Ok(state
                    .lookup(&name)
                    .filter(|v| !v.is_undefined())
                    .or(default)
                    .unwrap_or(Value::from(())))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
