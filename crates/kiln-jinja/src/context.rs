//! The context a node is rendered in: `this`, `model`, `config`, `execute`, and what the parse
//! render records (the `ref`s, `source`s and `config()` calls it made).
//!
//! A [`NodeContext`] is the root render context. Kiln's global functions (`ref`, `source`,
//! `is_incremental`, `var`...) find it through the name `__kiln`, and macros are rendered with
//! the same context, so a macro sees the `this` and `config` of the model that called it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kiln_core::unit_test::Overrides;
use kiln_core::{RawConfig, RefCall, Relation, SourceCall, UnknownName};
use minijinja::value::{Kwargs, Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};
use serde_json::Value as Json;

use crate::introspection::{QueryResult, Warehouse};
use crate::relation::RelationObject;

/// Which render this is: the first one finds dependencies and config, the second one produces
/// the SQL that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Parse,
    Compile,
}

/// Who is being rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub unique_id: String,
    pub name: String,
    pub package: String,
    pub resource_type: String,
    /// Relative to the package (dbt's `original_file_path`).
    pub original_file_path: String,
    pub fqn: Vec<String>,
}

/// Turns `ref` and `source` calls into relations. The parse render gets one that knows only
/// sources; the compile render one that knows every node's final relation.
pub trait Resolver: Send + Sync {
    fn resolve_ref(&self, from: &NodeInfo, call: &RefCall) -> Result<Relation, UnknownName>;
    fn resolve_source(&self, call: &SourceCall) -> Result<Relation, UnknownName>;

    /// The `event_time` column of the node a `ref` names, if it has one (microbatch runs
    /// filter such parents to their window).
    fn ref_event_time(&self, _from: &NodeInfo, _call: &RefCall) -> Option<String> {
        None
    }

    /// The `event_time` column of a source table, if it has one.
    fn source_event_time(&self, _call: &SourceCall) -> Option<String> {
        None
    }
}

/// The time window of a microbatch run: `[start, end)`, as Python prints UTC datetimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTimeWindow {
    pub start: String,
    pub end: String,
}

/// What a render recorded.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    pub refs: Vec<RefCall>,
    pub sources: Vec<SourceCall>,
    /// The node's config: the base layers with every `config()` call merged on top.
    pub config: RawConfig,
    /// Macros the node's own template called (not those they called), in call order, as
    /// dbt's `depends_on.macros`: `macro.<package>.<name>`.
    pub macros: Vec<String>,
}

#[derive(Debug)]
struct Mutable {
    recorded: Recorded,
    /// `config` as JSON, for `config.get()`.
    config_json: Json,
}

pub struct NodeContext {
    pub phase: Phase,
    pub node: NodeInfo,
    pub this: Relation,
    pub is_incremental: bool,
    resolver: Arc<dyn Resolver>,
    /// Extra names (a test's `model` and `column_name`, for instance).
    extra: BTreeMap<String, Value>,
    /// `model` in Jinja: the node as a dict.
    model: Value,
    /// The live warehouse when rendering for execution; `execute` is true exactly then.
    warehouse: Option<Arc<dyn Warehouse>>,
    /// Results of `{% call statement(name, fetch_result=True) %}`, for `load_result(name)`.
    statements: Mutex<BTreeMap<String, QueryResult>>,
    state: Mutex<Mutable>,
    /// `--empty`: refs and sources read no rows.
    empty: bool,
    /// A unit test's `overrides:` (vars, env_vars; macros are in `extra`).
    overrides: Option<Arc<Overrides>>,
    /// A microbatch run's window: parents with an `event_time` are read through it.
    event_time_window: Option<EventTimeWindow>,
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext")
            .field("node", &self.node.unique_id)
            .field("phase", &self.phase)
            .finish()
    }
}

impl NodeContext {
    /// A context for rendering `node`. `config` is the node's config before the SQL's own
    /// `config()` calls (parse) or its final config (compile).
    pub fn new(
        phase: Phase,
        node: NodeInfo,
        this: Relation,
        config: RawConfig,
        config_json: Json,
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        let model = crate::to_value(serde_json::json!({
            "unique_id": node.unique_id,
            "name": node.name,
            "package_name": node.package,
            "resource_type": node.resource_type,
            "original_file_path": node.original_file_path,
            "fqn": node.fqn,
            "alias": this.identifier,
            "schema": this.schema,
            "database": this.database,
            "config": config_json,
        }));
        NodeContext {
            phase,
            node,
            this,
            is_incremental: false,
            resolver,
            extra: BTreeMap::new(),
            model,
            warehouse: None,
            statements: Mutex::new(BTreeMap::new()),
            state: Mutex::new(Mutable {
                recorded: Recorded {
                    config,
                    ..Recorded::default()
                },
                config_json,
            }),
            empty: false,
            overrides: None,
            event_time_window: None,
        }
    }

    /// More of the node for `model` (dbt's `model` is the whole node): `description`,
    /// `columns`, `tags`, `meta`, `path`, `patch_path`... merged over the keys it has.
    pub fn with_model_properties(mut self, properties: Json) -> Self {
        let Json::Object(extra) = properties else {
            return self;
        };
        let mut model: serde_json::Map<String, Json> = extra;
        if let Ok(Json::Object(base)) = serde_json::to_value(&self.model) {
            for (key, value) in base {
                model.entry(key).or_insert(value);
            }
        }
        self.model = crate::to_value(Json::Object(model));
        self
    }

    pub fn with_event_time_window(mut self, window: Option<EventTimeWindow>) -> Self {
        self.event_time_window = window;
        self
    }

    /// The filter a parent whose `event_time` column is `column` is read through, in a
    /// microbatch run.
    pub fn event_time_filter(
        &self,
        column: Option<String>,
    ) -> Option<crate::relation::EventTimeFilter> {
        let window = self.event_time_window.as_ref()?;
        Some(crate::relation::EventTimeFilter {
            column: column?,
            start: window.start.clone(),
            end: window.end.clone(),
        })
    }

    /// The `event_time` column of the node `call` names (see [`Resolver::ref_event_time`]).
    pub fn ref_event_time(&self, call: &RefCall) -> Option<String> {
        self.event_time_window.as_ref()?;
        self.resolver.ref_event_time(&self.node, call)
    }

    pub fn source_event_time(&self, call: &SourceCall) -> Option<String> {
        self.event_time_window.as_ref()?;
        self.resolver.source_event_time(call)
    }

    /// Renders for a unit test: its `vars` and `env_vars` win over the project's, and each
    /// overridden macro returns the value given (`is_incremental: true`).
    pub fn with_overrides(mut self, overrides: Arc<Overrides>) -> Self {
        for (name, value) in &overrides.macros {
            if name == "is_incremental" {
                self.is_incremental = value.as_bool().unwrap_or(false);
            }
            let name = name.rsplit('.').next().unwrap_or(name);
            self.extra.insert(
                name.to_owned(),
                Value::from_object(Returns(crate::to_value(value))),
            );
        }
        self.overrides = Some(overrides);
        self
    }

    pub fn overrides(&self) -> Option<&Overrides> {
        self.overrides.as_deref()
    }

    /// `--empty`: `ref()` and `source()` read no rows.
    pub fn with_empty(mut self, empty: bool) -> Self {
        self.empty = empty;
        self
    }

    /// Whether `ref()` and `source()` read no rows (`--empty`).
    pub fn empty(&self) -> bool {
        self.empty
    }

    pub fn with_incremental(mut self, is_incremental: bool) -> Self {
        self.is_incremental = is_incremental;
        self
    }

    /// Renders for execution: introspective calls ask `warehouse`, and `execute` is true.
    pub fn with_warehouse(mut self, warehouse: Arc<dyn Warehouse>) -> Self {
        self.warehouse = Some(warehouse);
        self
    }

    pub fn warehouse(&self) -> Option<&Arc<dyn Warehouse>> {
        self.warehouse.as_ref()
    }

    pub fn store_statement(&self, name: &str, result: QueryResult) {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), result);
    }

    pub fn statement_result(&self, name: &str) -> Option<QueryResult> {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    pub fn with_extra(mut self, name: &str, value: Value) -> Self {
        self.extra.insert(name.to_owned(), value);
        self
    }

    /// The context of the node being rendered, if any.
    pub fn current(state: &State<'_, '_>) -> Option<Arc<NodeContext>> {
        state.lookup("__kiln")?.downcast_object::<NodeContext>()
    }

    /// The context for a function that needs one, or an error naming the function.
    pub fn require(state: &State<'_, '_>, function: &str) -> Result<Arc<NodeContext>, Error> {
        Self::current(state).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("{function}() is only available while rendering a node"),
            )
        })
    }

    fn lock(&self) -> MutexGuard<'_, Mutable> {
        // A panic while holding the lock cannot leave the recording half-written in a way that
        // matters: the render that panicked is reported as failed anyway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes what the render recorded.
    pub fn into_recorded(&self) -> Recorded {
        std::mem::take(&mut self.lock().recorded)
    }

    pub fn resolve_ref(&self, call: RefCall) -> Result<Relation, UnknownName> {
        let relation = self.resolver.resolve_ref(&self.node, &call);
        if self.phase == Phase::Parse {
            self.lock().recorded.refs.push(call);
        }
        relation
    }

    pub fn resolve_source(&self, call: SourceCall) -> Result<Relation, UnknownName> {
        let relation = self.resolver.resolve_source(&call);
        if self.phase == Phase::Parse {
            self.lock().recorded.sources.push(call);
        }
        relation
    }

    /// A macro the node's template called itself (dbt's `depends_on.macros`), during the
    /// parse render.
    pub fn record_macro(&self, package: &str, name: &str) {
        if self.phase != Phase::Parse {
            return;
        }
        let id = format!("macro.{package}.{name}");
        let mut state = self.lock();
        if !state.recorded.macros.contains(&id) {
            state.recorded.macros.push(id);
        }
    }

    /// A `config(...)` call: merged in during the parse render, ignored after.
    fn apply_config(&self, layer: Json) -> Result<(), Error> {
        if self.phase != Phase::Parse {
            return Ok(());
        }
        let layer = RawConfig::from_json(layer)
            .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))?;
        let mut state = self.lock();
        state.recorded.config.merge(layer);
        state.config_json = serde_json::to_value(&state.recorded.config).unwrap_or(Json::Null);
        Ok(())
    }

    fn config_value(&self, key: &str) -> Option<Json> {
        let state = self.lock();
        let value = state.config_json.get(key).or_else(|| match key {
            "pre_hook" => state.config_json.get("pre-hook"),
            "post_hook" => state.config_json.get("post-hook"),
            _ => None,
        })?;
        (!value.is_null()).then(|| value.clone())
    }
}

impl Object for NodeContext {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "__kiln" => Some(Value::from_dyn_object(self.clone())),
            "this" => Some(RelationObject::value(self.this.clone())),
            "model" => Some(self.model.clone()),
            "execute" => Some(Value::from(self.warehouse.is_some())),
            "config" => Some(Value::from_object(ConfigObject(self.clone()))),
            name => self.extra.get(name).cloned(),
        }
    }
}

/// A macro a unit test overrides: whatever the arguments, it returns the value given.
#[derive(Debug)]
struct Returns(Value);

impl Object for Returns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, _args: &[Value]) -> Result<Value, Error> {
        Ok(self.0.clone())
    }
}

/// `config`: callable (`config(materialized='table')`) with `get` and `require` methods.
#[derive(Debug)]
struct ConfigObject(Arc<NodeContext>);

impl Object for ConfigObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (positional, kwargs): (Option<Value>, Kwargs) = from_args(args)?;
        let mut layer = serde_json::Map::new();
        if let Some(positional) = positional {
            match serde_json::to_value(&positional) {
                Ok(Json::Object(map)) => layer.extend(map),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "config() takes keyword arguments or a dict, e.g. config(materialized='table')",
                    ));
                }
            }
        }
        for key in kwargs.args() {
            let value: Value = kwargs.get(key)?;
            layer.insert(
                key.to_owned(),
                serde_json::to_value(&value).unwrap_or(Json::Null),
            );
        }
        self.0.apply_config(Json::Object(layer))?;
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "get" => {
                let (key, default, kwargs): (String, Option<Value>, Kwargs) = from_args(args)?;
                let default = match default {
                    Some(default) => Some(default),
                    None => kwargs.get::<Option<Value>>("default")?,
                };
                Ok(self
                    .0
                    .config_value(&key)
                    .map(|v| crate::to_value(&v))
                    .or(default)
                    .unwrap_or(Value::from(())))
            }
            "require" => {
                let (key,): (String,) = from_args(args)?;
                self.0
                    .config_value(&key)
                    .map(|v| crate::to_value(&v))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("config `{key}` is required but not set"),
                        )
                    })
            }
            // dbt's `config.set(key, value)`: as `config(key=value)` (recorded at parse).
            "set" => {
                let (key, value): (String, Value) = from_args(args)?;
                let mut layer = serde_json::Map::new();
                layer.insert(key, serde_json::to_value(&value).unwrap_or(Json::Null));
                self.0.apply_config(Json::Object(layer))?;
                Ok(Value::from(""))
            }
            // dbt's `config.persist_relation_docs()` / `persist_column_docs()`.
            "persist_relation_docs" | "persist_column_docs" => {
                let key = if method == "persist_relation_docs" {
                    "relation"
                } else {
                    "columns"
                };
                let on = self
                    .0
                    .config_value("persist_docs")
                    .and_then(|docs| docs.get(key).and_then(Json::as_bool))
                    .unwrap_or(false);
                Ok(Value::from(on))
            }
            // dbt 1.10's `config.meta_get(key, default)` / `config.meta_require(key)`.
            "meta_get" | "meta_require" => {
                let (key, default): (String, Option<Value>) = from_args(args)?;
                let found = self
                    .0
                    .config_value("meta")
                    .and_then(|meta| meta.get(&key).cloned())
                    .map(|v| crate::to_value(&v));
                match (found, method) {
                    (Some(value), _) => Ok(value),
                    (None, "meta_get") => Ok(default.unwrap_or(Value::from(()))),
                    (None, _) => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("config `meta.{key}` is required but not set"),
                    )),
                }
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("config has no method `{method}`"),
            )),
        }
    }
}
