//! `modules.itertools`: the functions dbt packages call, returning lists (Python returns
//! iterators; templates iterate them or turn them into lists, which lists support alike).

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Rest, Tuple, from_args};
use minijinja::{Error, State, Value};

use super::invalid;

#[derive(Debug)]
pub struct ItertoolsModule;

fn items(value: &Value) -> Result<Vec<Value>, Error> {
    Ok(value.try_iter()?.collect())
}

fn tuple(items: &[Value]) -> Value {
    Value::from(Tuple::from(items.to_vec()))
}

/// Every `r`-long selection of indices into `n` items, in Python's order.
fn combinations(n: usize, r: usize) -> Vec<Vec<usize>> {
    fn walk(start: usize, n: usize, r: usize, current: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if current.len() == r {
            out.push(current.clone());
            return;
        }
        for i in start..n {
            current.push(i);
            walk(i + 1, n, r, current, out);
            current.pop();
        }
    }
    let mut out = Vec::new();
    if r <= n {
        walk(0, n, r, &mut Vec::new(), &mut out);
    }
    out
}

fn permutations(n: usize, r: usize) -> Vec<Vec<usize>> {
    fn walk(n: usize, r: usize, current: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if current.len() == r {
            out.push(current.clone());
            return;
        }
        for i in 0..n {
            if !current.contains(&i) {
                current.push(i);
                walk(n, r, current, out);
                current.pop();
            }
        }
    }
    let mut out = Vec::new();
    if r <= n {
        walk(n, r, &mut Vec::new(), &mut out);
    }
    out
}

impl Object for ItertoolsModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "product" => {
                let (iterables, kwargs): (Rest<Value>, Kwargs) = from_args(args)?;
                let repeat = kwargs.get::<Option<usize>>("repeat")?.unwrap_or(1);
                kwargs.assert_all_used()?;
                let pools: Vec<Vec<Value>> =
                    iterables.iter().map(items).collect::<Result<_, _>>()?;
                let pools: Vec<&Vec<Value>> = (0..repeat).flat_map(|_| pools.iter()).collect();
                let mut result: Vec<Vec<Value>> = vec![Vec::new()];
                for pool in pools {
                    result = result
                        .into_iter()
                        .flat_map(|prefix| {
                            pool.iter().map(move |item| {
                                let mut next = prefix.clone();
                                next.push(item.clone());
                                next
                            })
                        })
                        .collect();
                }
                Ok(Value::from(
                    result.iter().map(|t| tuple(t)).collect::<Vec<_>>(),
                ))
            }
            "chain" => {
                let (iterables,): (Rest<Value>,) = from_args(args)?;
                let mut out = Vec::new();
                for iterable in iterables.iter() {
                    out.extend(items(iterable)?);
                }
                Ok(Value::from(out))
            }
            "combinations" | "permutations" => {
                let (iterable, r): (Value, Option<usize>) = from_args(args)?;
                let pool = items(&iterable)?;
                let indices = if method == "combinations" {
                    let r = r.ok_or_else(|| invalid("combinations() needs r"))?;
                    combinations(pool.len(), r)
                } else {
                    permutations(pool.len(), r.unwrap_or(pool.len()))
                };
                Ok(Value::from(
                    indices
                        .iter()
                        .map(|ix| tuple(&ix.iter().map(|i| pool[*i].clone()).collect::<Vec<_>>()))
                        .collect::<Vec<_>>(),
                ))
            }
            "groupby" => {
                // Consecutive equal items grouped, as Python's groupby without a key.
                let (iterable,): (Value,) = from_args(args)?;
                let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
                for item in items(&iterable)? {
                    match groups.last_mut() {
                        Some((key, members)) if *key == item => members.push(item),
                        _ => groups.push((item.clone(), vec![item])),
                    }
                }
                Ok(Value::from(
                    groups
                        .into_iter()
                        .map(|(key, members)| tuple(&[key, Value::from(members)]))
                        .collect::<Vec<_>>(),
                ))
            }
            "islice" => {
                let (iterable, a, b, step): (Value, Option<usize>, Option<usize>, Option<usize>) =
                    from_args(args)?;
                let (start, stop) = match b {
                    Some(stop) => (a.unwrap_or(0), stop),
                    None => (0, a.unwrap_or(usize::MAX)),
                };
                let step = step.unwrap_or(1).max(1);
                Ok(Value::from(
                    items(&iterable)?
                        .into_iter()
                        .take(stop)
                        .skip(start)
                        .step_by(step)
                        .collect::<Vec<_>>(),
                ))
            }
            "repeat" => {
                let (item, times): (Value, usize) = from_args(args)?;
                Ok(Value::from(vec![item; times]))
            }
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }
}
