//! Kiln patch: lists and dicts that templates can change in place, as Python's are in the
//! Jinja2 that dbt runs.
//!
//! List literals (`[...]`), dict literals (`{...}`), `dict()`, the `list` filter and `+` on two
//! sequences produce these. A value is a handle: `{% set b = a %}{% do b.append(1) %}` changes
//! `a` too, as do mutations inside a macro of a list passed in, or of a list held by a
//! `namespace`. The methods are Python's: `append`, `extend`, `insert`, `pop`, `remove`,
//! `index`, `count`, `sort`, `reverse`, `clear`, `copy` on lists; `update`, `pop`,
//! `setdefault`, `get`, `items`, `keys`, `values`, `popitem`, `clear`, `copy` on dicts.
//!
//! Every method copies what it reads out of the lock before comparing or iterating, so that
//! `xs.extend(xs)` or `xs.count(xs)` cannot deadlock.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::{Error, ErrorKind};
use crate::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr, Value, ValueMap};
use crate::vm::State;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn none() -> Value {
    Value::from(())
}

fn python_error(kind: &str, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{kind}: {message}"))
}

/// A Python list: a shared, mutable sequence of values.
#[derive(Debug, Default)]
pub struct MutableList(Mutex<Vec<Value>>);

impl MutableList {
    /// A new list value holding `items`.
    pub fn new_value(items: Vec<Value>) -> Value {
        Value::from_object(MutableList(Mutex::new(items)))
    }

    /// The items now (a copy of the handles, not of the values they point to).
    pub fn snapshot(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }
}

/// Python's index normalisation: negative counts from the end.
fn normalize(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { index + len } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

impl Object for MutableList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = lock(&self.0);
        let index = normalize(i64::try_from(key.clone()).ok()?, items.len())?;
        items.get(index).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "append" => {
                let (item,): (Value,) = from_args(args)?;
                lock(&self.0).push(item);
                Ok(none())
            }
            "extend" => {
                let (items,): (Value,) = from_args(args)?;
                let items: Vec<Value> = items.try_iter()?.collect();
                lock(&self.0).extend(items);
                Ok(none())
            }
            "insert" => {
                let (index, item): (i64, Value) = from_args(args)?;
                let mut items = lock(&self.0);
                let len = items.len() as i64;
                let at = if index < 0 { (index + len).max(0) } else { index.min(len) };
                items.insert(at as usize, item);
                Ok(none())
            }
            "pop" => {
                let (index,): (Option<i64>,) = from_args(args)?;
                let mut items = lock(&self.0);
                if items.is_empty() {
                    return Err(python_error("IndexError", "pop from empty list"));
                }
                let at = normalize(index.unwrap_or(-1), items.len())
                    .ok_or_else(|| python_error("IndexError", "pop index out of range"))?;
                Ok(items.remove(at))
            }
            "remove" => {
                let (item,): (Value,) = from_args(args)?;
                let at = self.snapshot().iter().position(|x| *x == item);
                let at = at.ok_or_else(|| {
                    python_error("ValueError", "list.remove(x): x not in list")
                })?;
                let mut items = lock(&self.0);
                if at < items.len() {
                    items.remove(at);
                }
                Ok(none())
            }
            "index" => {
                let (item, start, end): (Value, Option<i64>, Option<i64>) = from_args(args)?;
                let items = self.snapshot();
                let len = items.len() as i64;
                let clamp = |i: i64| (if i < 0 { i + len } else { i }).clamp(0, len) as usize;
                let (start, end) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
                items
                    .get(start..end.max(start))
                    .and_then(|slice| slice.iter().position(|x| *x == item))
                    .map(|i| Value::from(i + start))
                    .ok_or_else(|| python_error("ValueError", format!("{item} is not in list")))
            }
            "count" => {
                let (item,): (Value,) = from_args(args)?;
                Ok(Value::from(
                    self.snapshot().iter().filter(|x| **x == item).count(),
                ))
            }
            "sort" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let reverse: Option<bool> = kwargs.get("reverse")?;
                kwargs.assert_all_used()?;
                let mut items = self.snapshot();
                items.sort();
                if reverse.unwrap_or(false) {
                    items.reverse();
                }
                *lock(&self.0) = items;
                Ok(none())
            }
            "reverse" => {
                from_args::<()>(args)?;
                lock(&self.0).reverse();
                Ok(none())
            }
            "clear" => {
                from_args::<()>(args)?;
                lock(&self.0).clear();
                Ok(none())
            }
            "copy" => {
                from_args::<()>(args)?;
                Ok(MutableList::new_value(self.snapshot()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A Python dict: a shared, mutable mapping that keeps insertion order.
#[derive(Debug, Default)]
pub struct MutableMap(Mutex<ValueMap>);

impl MutableMap {
    /// A new dict value holding `map`.
    pub fn new_value(map: ValueMap) -> Value {
        Value::from_object(MutableMap(Mutex::new(map)))
    }

    /// The entries now.
    pub fn snapshot(&self) -> Vec<(Value, Value)> {
        lock(&self.0)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The (key, value) pairs of a mapping, or of an iterable of pairs, for `dict.update()`.
fn pairs_of(value: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if let Some(object) = value.as_object() {
        if object.repr() == ObjectRepr::Map {
            return Ok(object
                .try_iter_pairs()
                .map(|pairs| pairs.collect())
                .unwrap_or_default());
        }
    }
    value
        .try_iter()?
        .map(|pair| {
            let mut parts = pair.try_iter()?;
            match (parts.next(), parts.next(), parts.next()) {
                (Some(key), Some(value), None) => Ok((key, value)),
                _ => Err(python_error(
                    "ValueError",
                    "dictionary update sequence element has not length 2",
                )),
            }
        })
        .collect()
}

impl Object for MutableMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::KeyValueIter(Box::new(self.snapshot().into_iter()))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "update" => {
                let (other, kwargs): (Option<Value>, Kwargs) = from_args(args)?;
                let mut entries = match &other {
                    Some(other) if !other.is_undefined() && !other.is_none() => pairs_of(other)?,
                    _ => Vec::new(),
                };
                for key in kwargs.args() {
                    entries.push((Value::from(key), kwargs.get::<Value>(key)?));
                }
                let mut map = lock(&self.0);
                for (key, value) in entries {
                    map.insert(key, value);
                }
                Ok(none())
            }
            "pop" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                #[cfg(feature = "preserve_order")]
                let removed = lock(&self.0).shift_remove(&key);
                #[cfg(not(feature = "preserve_order"))]
                let removed = lock(&self.0).remove(&key);
                removed
                    .or(default)
                    .ok_or_else(|| python_error("KeyError", key))
            }
            "popitem" => {
                from_args::<()>(args)?;
                #[cfg(feature = "preserve_order")]
                let last = lock(&self.0).pop();
                #[cfg(not(feature = "preserve_order"))]
                let last = lock(&self.0).pop_last();
                last.map(|(k, v)| Value::from(crate::value::Tuple::from([k, v])))
                    .ok_or_else(|| python_error("KeyError", "popitem(): dictionary is empty"))
            }
            "setdefault" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                let mut map = lock(&self.0);
                Ok(map
                    .entry(key)
                    .or_insert_with(|| default.unwrap_or_else(none))
                    .clone())
            }
            "get" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                Ok(lock(&self.0)
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| default.unwrap_or_else(none)))
            }
            "items" => {
                from_args::<()>(args)?;
                Ok(Value::from(
                    self.snapshot()
                        .into_iter()
                        .map(|(k, v)| Value::from(crate::value::Tuple::from([k, v])))
                        .collect::<Vec<_>>(),
                ))
            }
            "keys" => {
                from_args::<()>(args)?;
                Ok(Value::from(
                    self.snapshot().into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
                ))
            }
            "values" => {
                from_args::<()>(args)?;
                Ok(Value::from(
                    self.snapshot().into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
                ))
            }
            "clear" => {
                from_args::<()>(args)?;
                lock(&self.0).clear();
                Ok(none())
            }
            // `to_dict()`: dbt's objects (a run result's node and timing, configs) are dicts in
            // Kiln; packages call their `to_dict()` to get one (Kiln patch, as `copy`).
            "copy" | "to_dict" => {
                from_args::<()>(args)?;
                Ok(MutableMap::new_value(lock(&self.0).clone()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
