//! dbt's Jinja functions: `ref`, `source`, `var`, `is_incremental`, `log`, `exceptions`,
//! `adapter`, `run_query`, `statement`, `fromjson`... as Kiln provides them when no warehouse
//! is connected (`execute` is false): introspective calls answer as in dbt's parse phase.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use minijinja::value::ValueKind;
use minijinja::value::{Kwargs, Object, ObjectRepr, Rest, from_args};
use minijinja::{Error, ErrorKind, State, Value};
use serde_json::Value as Json;

use kiln_core::{RefCall, Relation, SourceCall, quote_identifier, quote_literal};

use crate::context::NodeContext;
use crate::macros::{self, MacroRegistry};

use crate::introspection::{AgateTable, ColumnValue, QueryResult, Warehouse, relation_args};
use crate::relation::RelationObject;

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.to_string())
}

/// `ref('model')`, `ref('package', 'model')`, `ref('model', version=2)`.
pub fn ref_(state: &State<'_, '_>, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let ctx = NodeContext::require(state, "ref")?;
    let strings: Vec<String> = args
        .iter()
        .filter(|v| !v.is_kwargs())
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid("ref() takes model names as strings"))
        })
        .collect::<Result<_, _>>()?;
    // `v=` or `version=`: a number or a string, as dbt takes it.
    let version: Option<Value> = match kwargs.get::<Option<Value>>("version")? {
        Some(version) => Some(version),
        None => kwargs.get("v")?,
    };
    kwargs.assert_all_used()?;
    let version = version.filter(|v| !v.is_none()).map(|v| v.to_string());
    let call = match strings.as_slice() {
        [name] => RefCall {
            package: None,
            name: name.clone(),
            version,
        },
        [package, name] => RefCall {
            package: Some(package.clone()),
            name: name.clone(),
            version,
        },
        _ => {
            return Err(invalid(
                "ref() takes a model name, or a package name and a model name",
            ));
        }
    };
    let limit = ctx.empty().then_some(0);
    let filter = ctx.event_time_filter(ctx.ref_event_time(&call));
    ctx.resolve_ref(call)
        .map(|relation| RelationObject::limited(relation, limit, filter))
        .map_err(invalid)
}

/// `builtins.ref`: `ref()` itself, with dbt's `.config` (the RuntimeConfig) as an attribute.
#[derive(Debug)]
pub struct RefBuiltin {
    pub config: Value,
}

impl Object for RefBuiltin {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "config").then(|| self.config.clone())
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (rest, kwargs): (Rest<Value>, Kwargs) = from_args(args)?;
        ref_(state, rest, kwargs)
    }
}

/// `source('source_name', 'table_name')`.
pub fn source(state: &State<'_, '_>, source: String, table: String) -> Result<Value, Error> {
    let ctx = NodeContext::require(state, "source")?;
    let limit = ctx.empty().then_some(0);
    let call = SourceCall { source, table };
    let filter = ctx.event_time_filter(ctx.source_event_time(&call));
    ctx.resolve_source(call)
        .map(|relation| RelationObject::limited(relation, limit, filter))
        .map_err(invalid)
}

/// `is_incremental()`: true only when rendering an incremental model whose table exists.
/// `builtins.config(...)`: the node's own `config`, as if called directly.
pub fn config_via_context(state: &mut State<'_, '_>, args: Rest<Value>) -> Result<Value, Error> {
    let config = state
        .lookup("config")
        .ok_or_else(|| invalid("`config` is not available here"))?;
    config.call(state, &args)
}

pub fn is_incremental(state: &State<'_, '_>) -> bool {
    macros::record_if_called_by_the_node(state, "dbt", "is_incremental");
    NodeContext::current(state).is_some_and(|ctx| ctx.is_incremental)
}

/// `env_var(name, default)`: a unit test's `overrides.env_vars` first, then the process's
/// environment.
pub fn env_var(state: &State<'_, '_>, name: &str, default: Option<Value>) -> Result<Value, Error> {
    let overridden = NodeContext::current(state)
        .and_then(|ctx| ctx.overrides().and_then(|o| o.env_vars.get(name).cloned()));
    match overridden {
        Some(value) => Ok(Value::from(value)),
        None => kiln_project::env::env_var(name, default),
    }
}

pub use kiln_project::env::Vars;

#[derive(Debug)]
pub struct VarFn(pub Arc<Vars>);

impl Object for VarFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (name, _default): (String, Option<Value>) = from_args(args)?;
        // As dbt: a default that is passed counts, even `none` (`var('x', none)`).
        let default = args.get(1).cloned();
        let ctx = NodeContext::current(state);
        let overridden = ctx
            .as_ref()
            .and_then(|ctx| ctx.overrides().and_then(|o| o.vars.get(&name).cloned()));
        if let Some(value) = overridden {
            return Ok(crate::to_value(&value));
        }
        let package = ctx
            .map(|ctx| ctx.node.package.clone())
            .unwrap_or_else(|| self.0.root_package.clone());
        match self.0.lookup(&package, &name) {
            // As dbt: a project var holding Jinja is rendered where it is read.
            Some(Json::String(text)) if text.contains("{{") || text.contains("{%") => {
                match NodeContext::current(state) {
                    Some(context) => state
                        .env()
                        .render_str(text, Value::from_dyn_object(context))
                        .map(Value::from),
                    None => Ok(Value::from(text.clone())),
                }
            }
            Some(value) => Ok(crate::to_value(value)),
            // As dbt's parser: a missing var is none while parsing (a disabled model may read
            // vars nobody sets); an enabled node fails when it compiles.
            None if default.is_none()
                && NodeContext::current(state).is_some_and(|c| c.phase == crate::Phase::Parse) =>
            {
                Ok(Value::from(()))
            }
            None => default.ok_or_else(|| {
                invalid(format!(
                    "variable `{name}` is not set: pass --vars '{{{name}: ...}}' or set it under `vars:` in the project file"
                ))
            }),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "has_var" => {
                let (name,): (String,) = from_args(args)?;
                let package = NodeContext::current(state)
                    .map(|c| c.node.package.clone())
                    .unwrap_or_default();
                Ok(Value::from(self.0.lookup(&package, &name).is_some()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A message from `log()` or `exceptions.warn()`, for the command to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub message: String,
    /// `log(msg, info=True)`, or a warning: shown to the user; other log lines go to debug.
    pub info: bool,
}

/// Receives log lines as templates produce them (from any rendering thread).
pub type LogListener = Arc<dyn Fn(&LogLine) + Send + Sync>;

/// Where `log()` and `exceptions.warn()` lines go: to the listener the command set, so that
/// they show as they happen; until one is set, they are kept for [`LogChannel::take`].
/// Commands that render nodes again after the parse (compile, run, show) drop what the parse
/// render logged, so that a message shows once; `parse` and `ls` show it, as dbt's parse does.
#[derive(Default)]
pub struct LogChannel {
    listener: RwLock<Option<LogListener>>,
    kept: Mutex<Vec<LogLine>>,
}

impl LogChannel {
    pub fn set_listener(&self, listener: LogListener) {
        *self
            .listener
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }

    /// The lines kept so far (those sent while no listener was set).
    pub fn take(&self) -> Vec<LogLine> {
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, line: LogLine) {
        let listener = self
            .listener
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match listener {
            Some(listener) => listener(&line),
            None => self
                .kept
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line),
        }
    }
}

impl std::fmt::Debug for LogChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogChannel").finish_non_exhaustive()
    }
}

pub type LogSink = Arc<LogChannel>;

/// `log(message, info=False)`.
#[derive(Debug)]
pub struct LogFn(pub LogSink);

impl Object for LogFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (message, info, kwargs): (Value, Option<bool>, Kwargs) = from_args(args)?;
        let info = info
            .or(kwargs.get::<Option<bool>>("info")?)
            .unwrap_or(false);
        self.0.push(LogLine {
            message: message.to_string(),
            info,
        });
        Ok(Value::from(""))
    }
}

/// `exceptions.raise_compiler_error(msg)`, `exceptions.warn(msg)`...
#[derive(Debug)]
pub struct Exceptions(pub LogSink);

impl Object for Exceptions {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (message, _rest): (Option<Value>, Rest<Value>) = from_args(args)?;
        let message = message.map(|m| m.to_string()).unwrap_or_default();
        match method {
            "warn" => {
                self.0.push(LogLine {
                    message: format!("warning: {message}"),
                    info: true,
                });
                Ok(Value::from(""))
            }
            "raise_compiler_error"
            | "raise_not_implemented"
            | "raise_database_error"
            | "raise_dependency_error" => Err(invalid(message)),
            _ => Err(invalid(format!("exceptions.{method}() is not supported"))),
        }
    }
}

/// `adapter`: dispatch and quoting always; introspection answers as in dbt's parse phase.
#[derive(Debug)]
pub struct AdapterObject {
    pub registry: Arc<MacroRegistry>,
    pub adapter_type: String,
}

impl Object for AdapterObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "dispatch" => macros::dispatch(state, &self.registry, args),
            "quote" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(quote_identifier(&name)))
            }
            "type" => Ok(Value::from(self.adapter_type.clone())),
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(Vec::<Value>::new()));
                };
                let relation = RelationObject::from_value(&relation)
                    .cloned()
                    .ok_or_else(|| {
                        invalid("get_columns_in_relation() takes a relation, e.g. ref('x') or this")
                    })?;
                let columns = warehouse.columns(&relation).map_err(invalid)?;
                let columns: Vec<Value> = columns
                    .into_iter()
                    .map(|(name, data_type)| Value::from_object(ColumnValue { name, data_type }))
                    .collect();
                Ok(Value::from(columns))
            }
            "get_relation" | "load_relation" | "load_cached_relation" => {
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(()));
                };
                let (database, schema, identifier) = if method == "get_relation" {
                    relation_args(args)?
                } else {
                    let (relation,): (Value,) = from_args(args)?;
                    let relation = RelationObject::from_value(&relation)
                        .cloned()
                        .ok_or_else(|| invalid("expected a relation"))?;
                    (
                        relation.database,
                        relation.schema.unwrap_or_default(),
                        relation.identifier,
                    )
                };
                let found = warehouse
                    .get_relation(database.as_deref(), &schema, &identifier)
                    .map_err(invalid)?;
                Ok(found.map_or(Value::from(()), RelationObject::value))
            }
            "get_columns_in_query" => {
                let (sql,): (String,) = from_args(args)?;
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(Vec::<Value>::new()));
                };
                let probe = format!("select * from (\n{sql}\n) as __dbt_sbq where false limit 0");
                let result = warehouse.query(&probe).map_err(invalid)?;
                Ok(crate::to_value(&result.columns))
            }
            "get_missing_columns" => {
                let (from, to): (Value, Value) = from_args(args)?;
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(Vec::<Value>::new()));
                };
                let from = warehouse
                    .columns(&relation_arg(&from, method)?)
                    .map_err(invalid)?;
                let to = warehouse
                    .columns(&relation_arg(&to, method)?)
                    .map_err(invalid)?;
                let missing: Vec<Value> = from
                    .into_iter()
                    .filter(|(name, _)| {
                        !to.iter().any(|(other, _)| other.eq_ignore_ascii_case(name))
                    })
                    .map(|(name, data_type)| Value::from_object(ColumnValue { name, data_type }))
                    .collect();
                Ok(Value::from(missing))
            }
            "list_relations_without_caching" => {
                let (schema_relation,): (Value,) = from_args(args)?;
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(Vec::<Value>::new()));
                };
                let schema = relation_arg(&schema_relation, method)?;
                let schema_name = schema.schema.clone().unwrap_or_default();
                let result = warehouse
                    .query(&format!(
                        "select c.relname::text as name, case c.relkind when 'v' then 'view' when 'm' then 'materialized_view' else 'table' end as kind                          from pg_class c join pg_namespace n on n.oid = c.relnamespace                          where n.nspname = {} and c.relkind in ('r', 'p', 'v', 'm', 'f') order by 1",
                        quote_literal(&schema_name)
                    ))
                    .map_err(invalid)?;
                let relations: Vec<Value> = result
                    .rows
                    .iter()
                    .map(|row| {
                        let text = |i: usize| {
                            row.get(i)
                                .and_then(|v| v.as_str())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        RelationObject::value(Relation {
                            database: schema.database.clone(),
                            schema: Some(schema_name.clone()),
                            identifier: text(0),
                            kind: Some(text(1)),
                            quote: Default::default(),
                        })
                    })
                    .collect();
                Ok(Value::from(relations))
            }
            // `adapter.list_schemas(database)`: the schema names.
            "list_schemas" => {
                let (_database,): (Option<Value>,) = from_args(args)?;
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(Vec::<Value>::new()));
                };
                let result = warehouse
                    .query("select nspname::text from pg_namespace order by 1")
                    .map_err(invalid)?;
                Ok(Value::from(
                    result
                        .rows
                        .iter()
                        .filter_map(|row| row.first()?.as_str().map(str::to_owned))
                        .collect::<Vec<_>>(),
                ))
            }
            "check_schema_exists" => {
                let (_database, schema): (Value, String) = from_args(args)?;
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(false));
                };
                let result = warehouse
                    .query(&format!(
                        "select count(*) from pg_namespace where nspname = {}",
                        quote_literal(&schema)
                    ))
                    .map_err(invalid)?;
                let count = result
                    .rows
                    .first()
                    .and_then(|r| r.first())
                    .and_then(serde_json::Value::as_i64);
                Ok(Value::from(count.unwrap_or(0) > 0))
            }
            "already_exists" => {
                let (schema, identifier): (String, String) = from_args(args)?;
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(false));
                };
                let found = warehouse
                    .get_relation(None, &schema, &identifier)
                    .map_err(invalid)?;
                Ok(Value::from(found.is_some()))
            }
            "quote_as_configured" | "quote_seed_column" => {
                let (name, _rest): (String, Rest<Value>) = from_args(args)?;
                Ok(Value::from(quote_identifier(&name)))
            }
            "drop_relation" | "truncate_relation" | "create_schema" | "drop_schema"
            | "rename_relation" => {
                let Some((_, warehouse)) = warehouse(state) else {
                    return Ok(Value::from(""));
                };
                let (first, second): (Value, Option<Value>) = from_args(args)?;
                let relation = relation_arg(&first, method)?;
                let schema = quote_identifier(relation.schema_or_public());
                let sql = match method {
                    "create_schema" => format!("create schema if not exists {schema}"),
                    "drop_schema" => format!("drop schema if exists {schema} cascade"),
                    "truncate_relation" => format!("truncate table {relation}"),
                    _ => {
                        // The kind as the warehouse has it now: a relation built by hand
                        // (`api.Relation.create`) may not say.
                        let existing = warehouse
                            .get_relation(
                                relation.database.as_deref(),
                                relation.schema_or_public(),
                                &relation.identifier,
                            )
                            .map_err(invalid)?;
                        let Some(existing) = existing else {
                            return Ok(Value::from(""));
                        };
                        let keyword = match existing.kind.as_deref() {
                            Some("view") => "view",
                            Some("materialized_view") => "materialized view",
                            _ => "table",
                        };
                        if method == "drop_relation" {
                            format!("drop {keyword} if exists {relation} cascade")
                        } else {
                            let to = second.ok_or_else(|| {
                                invalid("rename_relation(from, to) takes two relations")
                            })?;
                            let to = relation_arg(&to, method)?;
                            format!(
                                "alter {keyword} {relation} rename to {}",
                                quote_identifier(&to.identifier)
                            )
                        }
                    }
                };
                // As dbt's macros: a drop runs outside any transaction unless one is open.
                let auto_begin = method != "drop_relation";
                warehouse
                    .statement(method, &sql, auto_begin)
                    .map_err(invalid)?;
                Ok(Value::from(""))
            }
            "commit" => {
                if let Some((_, warehouse)) = warehouse(state) {
                    warehouse.commit().map_err(invalid)?;
                }
                Ok(Value::from(""))
            }
            "expand_target_column_types" => Ok(Value::from("")),
            // dbt's `adapter.get_hard_deletes_behavior(config)`: `hard_deletes`, else what the
            // older `invalidate_hard_deletes: true` meant.
            "get_hard_deletes_behavior" => {
                let (config,): (Value,) = from_args(args)?;
                let mut get = |key: &str| -> Result<Value, Error> {
                    config.call_method(state, "get", &[Value::from(key)])
                };
                let hard_deletes = get("hard_deletes")?;
                if !hard_deletes.is_none() && !hard_deletes.is_undefined() {
                    return Ok(hard_deletes);
                }
                let invalidate = get("invalidate_hard_deletes")?.is_true();
                Ok(Value::from(if invalidate {
                    "invalidate"
                } else {
                    "ignore"
                }))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("adapter.{method}() is not supported by Kiln yet"),
            )),
        }
    }
}

/// A relation argument of an adapter method (`ref('x')`, `this`, `api.Relation.create(...)`).
fn relation_arg(value: &Value, method: &str) -> Result<Relation, Error> {
    RelationObject::from_value(value).cloned().ok_or_else(|| {
        invalid(format!(
            "adapter.{method}() takes a relation, e.g. ref('x') or this"
        ))
    })
}

/// The warehouse of the node being rendered, when it is rendered for execution.
fn warehouse(state: &State<'_, '_>) -> Option<(Arc<NodeContext>, Arc<dyn Warehouse>)> {
    let ctx = NodeContext::current(state)?;
    let warehouse = ctx.warehouse()?.clone();
    Some((ctx, warehouse))
}

/// `run_query(sql)`: the rows as an agate-like table; none when no warehouse is connected
/// (as in dbt's parse phase).
pub fn run_query(state: &State<'_, '_>, sql: Value) -> Result<Value, Error> {
    macros::record_if_called_by_the_node(state, "dbt", "run_query");
    match warehouse(state) {
        Some((_, warehouse)) => warehouse
            .statement("run_query_statement", &sql.to_string(), false)
            .map(AgateTable::to_value)
            .map_err(invalid),
        None => Ok(Value::from(())),
    }
}

/// `{% call statement('name', fetch_result=True) %}...{% endcall %}`: runs the block's SQL
/// when a warehouse is connected and keeps the result for `load_result('name')`.
#[derive(Debug)]
pub struct StatementFn;

impl Object for StatementFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        macros::record_if_called_by_the_node(state, "dbt", "statement");
        let (name, _rest, kwargs): (Option<Value>, Rest<Value>, Kwargs) = from_args(args)?;
        // As dbt: a statement without a name keeps no result.
        let name = name.filter(|n| !n.is_none()).map(|n| n.to_string());
        let fetch_result = kwargs.get::<Option<bool>>("fetch_result")?.unwrap_or(false);
        let auto_begin = kwargs.get::<Option<bool>>("auto_begin")?.unwrap_or(true);
        let caller: Option<Value> = kwargs.get("caller")?;
        for key in kwargs.args() {
            kwargs.get::<Value>(key)?;
        }
        let Some((ctx, warehouse)) = warehouse(state) else {
            return Ok(Value::from(""));
        };
        let Some(caller) = caller else {
            return Err(invalid(
                "statement() is a call block: {% call statement('name') %}...{% endcall %}",
            ));
        };
        let sql = caller.call(state, &[])?.to_string();
        let mut result = warehouse
            .statement(name.as_deref().unwrap_or_default(), &sql, auto_begin)
            .map_err(invalid)?;
        if !fetch_result {
            result.rows.clear();
        }
        if let Some(name) = name {
            ctx.store_statement(&name, result);
        }
        Ok(Value::from(""))
    }
}

/// dbt's `render(text)`: `text` rendered as a template in the current node's context (how
/// `run_hooks` renders a hook when it runs).
pub fn render(state: &State<'_, '_>, text: String) -> Result<Value, Error> {
    let context = NodeContext::require(state, "render")?;
    state
        .env()
        .render_str(&text, Value::from_dyn_object(context))
        .map(Value::from)
}

/// `load_result('name')`: `{data, table, response}` of a statement; none if it did not run.
pub fn load_result(state: &State<'_, '_>, name: String) -> Value {
    let Some(result) = NodeContext::current(state).and_then(|ctx| ctx.statement_result(&name))
    else {
        return Value::from(());
    };
    let table = AgateTable(result.clone());
    let mut map = BTreeMap::new();
    map.insert("data", table.data());
    // The adapter response: the command tag (`INSERT 0 5`), its verb, and the rows it
    // affected (its trailing count; the rows fetched when it has none).
    let rows_affected = result
        .status
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(result.rows.len() as u64);
    map.insert("response", crate::to_value(serde_json::json!({"_message": result.status, "code": result.status.split(' ').next(), "rows_affected": rows_affected})));
    map.insert("table", AgateTable::to_value(result));
    Value::from(map)
}

/// dbt's `store_raw_result(name, message=..., code=..., rows_affected=...)`: keeps a result
/// for `load_result(name)` without running anything (what `noop_statement` does).
pub fn store_raw_result(
    state: &State<'_, '_>,
    name: String,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let message: Option<String> = kwargs.get("message")?;
    let code: Option<String> = kwargs.get("code")?;
    let rows_affected: Option<u64> = kwargs.get("rows_affected")?;
    let _: Option<Value> = kwargs.get("agate_table")?;
    kwargs.assert_all_used()?;
    let status = message
        .or(code)
        .or_else(|| rows_affected.map(|n| n.to_string()))
        .unwrap_or_default();
    NodeContext::require(state, "store_raw_result")?.store_statement(
        &name,
        QueryResult {
            status,
            ..QueryResult::default()
        },
    );
    Ok(Value::from(""))
}

/// `api.Relation.create(database=..., schema=..., identifier=..., type=...)`.
#[derive(Debug)]
pub struct Api;

impl Object for Api {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(RelationApi)),
            "Column" => Some(Value::from_object(crate::introspection::ColumnApi)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct RelationApi;

impl Object for RelationApi {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method == "scd_args" {
            // dbt's `Relation.scd_args(primary_key, updated_at)`: what a snapshot's `dbt_scd_id`
            // hashes: the key (each part of a composite one), then `updated_at`.
            let (key, updated_at): (Value, Value) = from_args(args)?;
            let mut parts: Vec<Value> = match key.kind() {
                minijinja::value::ValueKind::Seq => key.try_iter()?.collect(),
                _ => vec![key],
            };
            parts.push(updated_at);
            return Ok(Value::from(parts));
        }
        if method != "create" {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let (kwargs,): (Kwargs,) = from_args(args)?;
        let relation = Relation {
            database: kwargs.get("database")?,
            schema: kwargs.get("schema")?,
            identifier: kwargs
                .get::<Option<String>>("identifier")?
                .unwrap_or_default(),
            kind: kwargs.get("type")?,
            quote: kiln_core::QuotePolicy::default().with(
                kwargs
                    .get::<Option<Value>>("quote_policy")?
                    .and_then(|policy| serde_json::to_value(policy).ok())
                    .as_ref(),
            ),
        };
        Ok(RelationObject::value(relation))
    }
}

pub fn fromjson(text: String, default: Option<Value>) -> Result<Value, Error> {
    match serde_json::from_str::<Json>(&text) {
        Ok(value) => Ok(crate::to_value(value)),
        Err(error) => default.ok_or_else(|| invalid(format!("fromjson: {error}"))),
    }
}

/// dbt's `tojson`: Python's `json.dumps`, whose output differs from compact JSON (`", "` and
/// `": "` between items, non-ASCII characters escaped), so that SQL built with it matches dbt's.
pub fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let json = serde_json::to_value(&value).map_err(|e| invalid(format!("tojson: {e}")))?;
    let json = if sort_keys { sorted(json) } else { json };
    Ok(Value::from(python_json(&json)))
}

/// JSON as Python's `json.dumps` writes it with its default settings.
pub fn python_json(json: &Json) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonJsonFormatter);
    // Writing to a Vec cannot fail, and every `Json` value serializes.
    let _ = serde::Serialize::serialize(json, &mut serializer);
    String::from_utf8(out).unwrap_or_default()
}

struct PythonJsonFormatter;

/// Python's `json.dumps` separates items with `", "`.
fn item_separator<W: ?Sized + std::io::Write>(writer: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonJsonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // Python escapes every non-ASCII character (`ensure_ascii=True`), as UTF-16 units.
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

fn sorted(json: Json) -> Json {
    match json {
        Json::Object(map) => {
            let sorted: BTreeMap<String, Json> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Json::Object(sorted.into_iter().collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// dbt's `local_md5`: the hex MD5 of a string.
pub fn local_md5(text: String) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// dbt's `print`: writes to the terminal in dbt; Kiln's templates have no terminal, so it
/// prints nothing into the SQL, as dbt's does (it returns "").
pub fn print(_args: Rest<Value>) -> String {
    String::new()
}

/// dbt's `toyaml`: YAML as PyYAML's `safe_dump` writes it (block style, keys in order).
pub fn toyaml(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.get::<Option<Value>>("default")?;
    let json = serde_json::to_value(&value).map_err(|e| invalid(format!("toyaml: {e}")))?;
    let json = if sort_keys { sorted(json) } else { json };
    let mut out = String::new();
    write_yaml(&json, 0, &mut out);
    Ok(Value::from(out))
}

/// PyYAML's scalar style for a string: plain unless it would read as something else.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with(|c: char| c.is_whitespace() || "-?:,[]{}#&*!|>'\"%@`".contains(c))
        && !text.ends_with(char::is_whitespace)
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains('\n')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~"
        )
        && text.parse::<f64>().is_err();
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

fn write_yaml(json: &Json, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match json {
        Json::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                out.push_str(&format!("{pad}{}:", yaml_scalar(key)));
                match value {
                    Json::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        write_yaml(value, indent + 2, out);
                    }
                    Json::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        write_yaml(value, indent, out);
                    }
                    scalar => {
                        out.push(' ');
                        out.push_str(&yaml_inline(scalar));
                        out.push('\n');
                    }
                }
            }
        }
        Json::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Json::Object(m) if !m.is_empty() => {
                        let mut nested = String::new();
                        write_yaml(item, indent + 2, &mut nested);
                        out.push_str(&format!("{pad}- {}", &nested[indent + 2..]));
                    }
                    Json::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}-\n"));
                        write_yaml(item, indent + 2, out);
                    }
                    scalar => out.push_str(&format!("{pad}- {}\n", yaml_inline(scalar))),
                }
            }
        }
        scalar => {
            out.push_str(&yaml_inline(scalar));
            out.push_str("\n...\n");
        }
    }
}

fn yaml_inline(json: &Json) -> String {
    match json {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => yaml_scalar(s),
        Json::Array(_) => "[]".to_owned(),
        Json::Object(_) => "{}".to_owned(),
    }
}

pub fn fromyaml(text: String) -> Result<Value, Error> {
    let node = kiln_project::yaml::parse(std::path::Path::new("fromyaml"), &text)
        .map_err(|d| invalid(format!("fromyaml: {}", d.message)))?;
    Ok(crate::to_value(node.to_json()))
}

/// Python's `zip`.
/// dbt's `zip_strict(*args)`: tuples of the items at each position, as long as the shortest.
pub fn zip_strict(lists: Rest<Value>) -> Result<Value, Error> {
    let lists: Vec<Vec<Value>> = lists
        .iter()
        .map(|l| l.try_iter().map(Iterator::collect))
        .collect::<Result<_, _>>()?;
    let len = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..len)
            .map(|i| {
                Value::from(minijinja::value::Tuple::from(
                    lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>(),
                ))
            })
            .collect::<Vec<_>>(),
    ))
}

/// Python's `set`: the distinct items. Python's order is arbitrary (string hashes change per
/// process), so nothing can rely on it; Kiln sorts them, which makes two sets with the same
/// items compare equal (`set(a) != set(b)` in dbt_utils' `equality`) and output deterministic.
/// dbt's `set_strict(value)`: the distinct items; a value that is not iterable is an error.
pub fn set_strict(items: Value) -> Result<Value, Error> {
    let mut out: Vec<Value> = items.try_iter()?.collect();
    out.sort();
    out.dedup();
    Ok(Value::from(out))
}

/// dbt's `set(value, default=None)`: [`set_strict`], or `default` when the value is not
/// iterable.
pub fn set(items: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let default: Option<Value> = kwargs.get("default")?;
    kwargs.assert_all_used()?;
    Ok(set_strict(items).unwrap_or_else(|_| default.unwrap_or_else(|| Value::from(()))))
}

/// dbt's `zip(*args, default=None)`: [`zip_strict`], or `default` when an argument is not
/// iterable.
pub fn zip(lists: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let default: Option<Value> = kwargs.get("default")?;
    kwargs.assert_all_used()?;
    Ok(zip_strict(lists).unwrap_or_else(|_| default.unwrap_or_else(|| Value::from(()))))
}

/// A value's kind as messages name it, with Python's names where they differ.
fn what_kind(value: &Value) -> &'static str {
    match value.kind() {
        _ if value.is_tuple() => "a tuple",
        ValueKind::String => "a string",
        ValueKind::Number => "a number",
        ValueKind::Bool => "a boolean",
        ValueKind::None => "none",
        ValueKind::Undefined => "an undefined value",
        ValueKind::Seq | ValueKind::Iterable => "this read-only sequence",
        ValueKind::Map => "this read-only mapping",
        _ => "this object",
    }
}

/// Methods no value of this kind has. Lists and dicts have Python's methods themselves
/// (`append`, `update`...); calling one of those on another kind (a tuple, a string) gets a
/// message that says what does support it, then pycompat's string and map methods.
pub fn unknown_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match method {
        "append" | "extend" | "insert" | "pop" | "remove" | "update" | "clear" | "setdefault" => {
            Err(invalid(format!(
                "`.{method}()` changes a value in place, and {} cannot change; only lists (`[...]`) and dicts (`{{...}}`) can: make one first, e.g. `{{% set items = items | list %}}`",
                what_kind(value)
            )))
        }
        // `undefined.method()` while a node is parsed: lenient, as dbt's parse render.
        _ if value.is_undefined() && parsing(state) => Ok(Value::from_object(Unresolved)),
        _ => minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args),
    }
}

/// Whether the render is a node's parse render.
fn parsing(state: &State<'_, '_>) -> bool {
    NodeContext::current(state).is_some_and(|context| context.phase == crate::Phase::Parse)
}

/// What a call of an unknown function gives while a node is parsed: as dbt's parse render
/// does, a value that prints as nothing, is false, loops as empty, and whose attributes and
/// calls are itself. The call is an error (at the node, with its line) only when the node is
/// compiled or run, so one model calling a macro that is missing does not stop the others.
#[derive(Debug)]
pub struct Unresolved;

impl Object for Unresolved {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        Some(Value::from_object(Unresolved))
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, _args: &[Value]) -> Result<Value, Error> {
        Ok(Value::from_object(Unresolved))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        _name: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        Ok(Value::from_object(Unresolved))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Empty
    }

    fn render(self: &Arc<Self>, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

/// A call of a function that is neither a macro nor one of dbt's: lenient while a node is
/// parsed ([`Unresolved`]), an error otherwise.
pub fn unknown_function(
    state: &mut State<'_, '_>,
    name: &str,
    _args: &[Value],
) -> Result<Value, Error> {
    if parsing(state) {
        Ok(Value::from_object(Unresolved))
    } else {
        Err(Error::new(
            ErrorKind::UnknownFunction,
            format!("{name} is unknown"),
        ))
    }
}
