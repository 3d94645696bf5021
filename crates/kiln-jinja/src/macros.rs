//! The macro registry and how macros are called.
//!
//! Every macro is a template of its own (see [`crate::macro_file`]). A call to a macro, from a
//! model or from another macro, goes through a [`MacroFn`] global, which finds the right
//! definition (the calling package's own, then the root project's, then Kiln's built-in `dbt`
//! ones, as dbt resolves them), renders the macro's template with the caller's node context and
//! calls it. `return(x)` inside a macro stores `x` in a per-thread slot and stops the macro with
//! an error that the call catches, which is how dbt's `return` behaves.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kiln_project::project_file::DispatchConfig;
use minijinja::value::{Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};

use crate::context::NodeContext;

/// The package name of Kiln's built-in macros, as in dbt (`dbt.dateadd(...)`).
pub const BUILTIN_PACKAGE: &str = "dbt";

/// Separates the file and the macro name in a macro template's name.
pub const TEMPLATE_SEPARATOR: &str = "::";

/// One macro definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroDef {
    pub package: String,
    pub name: String,
    /// The template it is registered under: `<file>::<name>`.
    pub template: String,
    pub file: PathBuf,
    pub line: usize,
}

/// Every macro of the project, its packages and the built-ins.
#[derive(Debug, Default)]
pub struct MacroRegistry {
    by_package: BTreeMap<String, BTreeMap<String, Arc<MacroDef>>>,
    root: String,
    dispatch: Vec<DispatchConfig>,
    adapter_type: String,
}

impl MacroRegistry {
    pub fn new(root: &str, dispatch: Vec<DispatchConfig>, adapter_type: &str) -> Self {
        MacroRegistry {
            by_package: BTreeMap::new(),
            root: root.to_owned(),
            dispatch,
            adapter_type: adapter_type.to_owned(),
        }
    }

    /// Adds a macro; returns the previous definition of the same name in the same package.
    pub fn insert(&mut self, def: MacroDef) -> Option<Arc<MacroDef>> {
        self.by_package
            .entry(def.package.clone())
            .or_default()
            .insert(def.name.clone(), Arc::new(def))
    }

    pub fn get(&self, package: &str, name: &str) -> Option<&Arc<MacroDef>> {
        self.by_package.get(package)?.get(name)
    }

    /// The warehouse type macros are dispatched for (`postgres`).
    pub fn adapter_type(&self) -> &str {
        &self.adapter_type
    }

    /// The root project's name.
    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn packages(&self) -> impl Iterator<Item = &str> {
        self.by_package.keys().map(String::as_str)
    }

    /// Every macro name defined anywhere.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self
            .by_package
            .values()
            .flat_map(|m| m.keys().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<MacroDef>> {
        self.by_package.values().flat_map(BTreeMap::values)
    }

    /// An unqualified call, as dbt resolves it: the package of the node being rendered, the
    /// root project, the built-ins; a macro's own package is not searched by dbt (a package
    /// macro calling `dateadd` gets dbt's, even if its package has one), so it comes last,
    /// where dbt would fail.
    pub fn resolve(
        &self,
        node_package: &str,
        macro_package: &str,
        name: &str,
    ) -> Option<&Arc<MacroDef>> {
        [
            node_package,
            self.root.as_str(),
            BUILTIN_PACKAGE,
            macro_package,
        ]
        .into_iter()
        .find_map(|p| self.get(p, name))
    }

    /// `adapter.dispatch(name, namespace)`: the first `<adapter>__name` or `default__name` in
    /// the search order (the project's `dispatch:` config for the namespace, else the namespace
    /// itself; the root project comes first for dbt's own namespace).
    pub fn dispatch(
        &self,
        name: &str,
        namespace: Option<&str>,
        node_package: &str,
        package: &str,
    ) -> Result<&Arc<MacroDef>, NoDispatchCandidate> {
        // No namespace, or one that is neither configured nor a package (`'macros'`): dbt
        // looks the name up as an unqualified call.
        let unqualified = vec![node_package, self.root.as_str(), BUILTIN_PACKAGE, package];
        let order: Vec<&str> = match namespace {
            None => unqualified,
            Some(namespace) => match self
                .dispatch
                .iter()
                .find(|d| d.macro_namespace == namespace)
            {
                Some(config) => config.search_order.iter().map(String::as_str).collect(),
                None if namespace == BUILTIN_PACKAGE => vec![self.root.as_str(), BUILTIN_PACKAGE],
                // As dbt: a package's namespace searches the root project first, so that a
                // project can override a package's implementation.
                None if self.packages().any(|p| p == namespace) => {
                    vec![self.root.as_str(), namespace]
                }
                None => unqualified,
            },
        };
        let prefixes = [self.adapter_type.as_str(), "default"];
        for package in &order {
            for prefix in prefixes {
                if let Some(def) = self.get(package, &format!("{prefix}__{name}")) {
                    return Ok(def);
                }
            }
        }
        Err(NoDispatchCandidate {
            adapter_type: self.adapter_type.clone(),
            name: name.to_owned(),
            searched: order.iter().map(|p| (*p).to_owned()).collect(),
        })
    }
}

/// `adapter.dispatch` found no implementation of the macro in the packages it searched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adapter.dispatch found no `{adapter_type}__{name}` or `default__{name}` in {}", searched.join(", "))]
pub struct NoDispatchCandidate {
    pub adapter_type: String,
    pub name: String,
    pub searched: Vec<String>,
}

thread_local! {
    /// One slot per macro call in progress on this thread; `return()` fills the innermost one.
    static RETURN_SLOTS: RefCell<Vec<Option<Value>>> = const { RefCell::new(Vec::new()) };
    /// The packages of the macros being called, innermost last, for unqualified lookups.
    static PACKAGE_STACK: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// `return(value)`: ends the current macro with `value`.
pub fn return_(value: Option<Value>) -> Result<Value, Error> {
    let stored = RETURN_SLOTS.with(|slots| {
        let mut slots = slots.borrow_mut();
        match slots.last_mut() {
            Some(slot) => {
                *slot = Some(value.unwrap_or(Value::from(())));
                true
            }
            None => false,
        }
    });
    if stored {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            "return() ended the macro",
        ))
    } else {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            "return() can only be used inside a macro",
        ))
    }
}

/// The package whose macros an unqualified call sees first.
fn current_package(state: &State<'_, '_>, registry: &MacroRegistry) -> String {
    PACKAGE_STACK
        .with(|stack| stack.borrow().last().cloned())
        .unwrap_or_else(|| node_package(state, registry))
}

/// The package of the node being rendered (the root project for an operation).
fn node_package(state: &State<'_, '_>, registry: &MacroRegistry) -> String {
    NodeContext::current(state)
        .map(|ctx| ctx.node.package.clone())
        .filter(|package| !package.is_empty())
        .unwrap_or_else(|| registry.root.clone())
}

/// Calls a macro definition. Its file is evaluated in the caller's template state, so the
/// macro sees the caller's context (`this`, `config`...) and can call a `caller` block or a
/// macro passed to it from there.
pub fn call(state: &mut State<'_, '_>, def: &MacroDef, args: &[Value]) -> Result<Value, Error> {
    record_if_called_by_the_node(state, &def.package, &def.name);
    RETURN_SLOTS.with(|slots| slots.borrow_mut().push(None));
    PACKAGE_STACK.with(|stack| stack.borrow_mut().push(def.package.clone()));
    let result = state.call_template_macro(&def.template, &def.name, args);
    PACKAGE_STACK.with(|stack| stack.borrow_mut().pop());
    let returned = RETURN_SLOTS.with(|slots| slots.borrow_mut().pop().flatten());
    match (returned, result) {
        (Some(value), _) => Ok(value),
        (None, Ok(value)) => Ok(value),
        (None, Err(error)) => {
            Err(Error::new(error.kind(), format!("in macro `{}`", def.name)).with_source(error))
        }
    }
}

/// dbt's `depends_on.macros`: a macro called by the node's own template (no macro is running)
/// is recorded; what macros call is not.
pub fn record_if_called_by_the_node(state: &State<'_, '_>, package: &str, name: &str) {
    let from_the_node = PACKAGE_STACK.with(|stack| stack.borrow().is_empty());
    if from_the_node && let Some(ctx) = NodeContext::current(state) {
        ctx.record_macro(package, name);
    }
}

/// A global name that calls the macro of that name visible from the caller's package.
#[derive(Debug)]
pub struct MacroFn {
    pub name: String,
    pub registry: Arc<MacroRegistry>,
}

impl Object for MacroFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let package = current_package(state, &self.registry);
        let node_package = node_package(state, &self.registry);
        match self.registry.resolve(&node_package, &package, &self.name) {
            Some(def) => call(state, def, args),
            None => {
                let owners: Vec<&str> = self
                    .registry
                    .packages()
                    .filter(|p| self.registry.get(p, &self.name).is_some())
                    .collect();
                Err(Error::new(
                    ErrorKind::UnknownFunction,
                    format!(
                        "macro `{}` is defined in package `{}`: call it as `{}.{}(...)`",
                        self.name, owners[0], owners[0], self.name
                    ),
                ))
            }
        }
    }
}

/// A macro pinned to one definition (`dbt_utils.star`, or what `adapter.dispatch` returns).
#[derive(Debug)]
pub struct MacroRef(pub Arc<MacroDef>);

impl Object for MacroRef {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        call(state, &self.0, args)
    }
}

/// A package name as a global: `dbt_utils.star(...)`.
#[derive(Debug)]
pub struct Namespace {
    pub package: String,
    pub registry: Arc<MacroRegistry>,
    /// For `dbt`: dbt's macros that Kiln has as functions (`dbt.run_query(...)`).
    pub functions: BTreeMap<&'static str, Value>,
}

impl Object for Namespace {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.registry.get(&self.package, name) {
            Some(def) => Some(Value::from_object(MacroRef(def.clone()))),
            None => self.functions.get(name).cloned(),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if let Some(def) = self.registry.get(&self.package, method) {
            return call(state, def, args);
        }
        // dbt's own macros that Kiln has as functions: `dbt.run_query(...)` is that function
        // even where a package defines a `run_query` of its own.
        match self.functions.get(method) {
            Some(function) => function.call(state, args),
            None => Err(Error::new(
                ErrorKind::UnknownFunction,
                format!("package `{}` has no macro `{method}`", self.package),
            )),
        }
    }
}

/// `adapter.dispatch(name, macro_namespace=None)`.
pub fn dispatch(
    state: &State<'_, '_>,
    registry: &MacroRegistry,
    args: &[Value],
) -> Result<Value, Error> {
    let (name, namespace, kwargs): (String, Option<String>, minijinja::value::Kwargs) =
        from_args(args)?;
    let namespace = namespace.or(kwargs.get::<Option<String>>("macro_namespace")?);
    kwargs.get::<Option<Value>>("packages")?;
    let package = current_package(state, registry);
    let node_package = node_package(state, registry);
    registry
        .dispatch(&name, namespace.as_deref(), &node_package, &package)
        .map(|def| Value::from_object(MacroRef(def.clone())))
        .map_err(|error| Error::new(ErrorKind::UnknownFunction, error.to_string()))
}
