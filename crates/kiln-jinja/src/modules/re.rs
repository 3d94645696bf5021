//! `modules.re`: Python's regular expressions on the `regex` crate. Patterns in Python's
//! syntax that the crate also reads (nearly all that SQL templates use; not look-around or
//! back-references), Python's replacement syntax (`\1`, `\g<1>`, `\g<name>`), Python's flags.

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Tuple, from_args};
use minijinja::{Error, State, Value};
// fancy-regex: Python's look-around and back-references, the rest delegated to `regex`.
use fancy_regex::{Captures, Regex, RegexBuilder};

use super::invalid;

const IGNORECASE: i64 = 2;
const MULTILINE: i64 = 8;
const DOTALL: i64 = 16;
const VERBOSE: i64 = 64;

/// `modules.re`.
#[derive(Debug)]
pub struct ReModule;

/// A compiled pattern (`re.compile`).
#[derive(Debug)]
pub struct Pattern {
    source: String,
    flags: i64,
    regex: Regex,
}

/// A match (`re.match`, `re.search`, `re.fullmatch`).
#[derive(Debug)]
pub struct Match {
    groups: Vec<Option<(usize, usize, String)>>,
    names: Vec<Option<String>>,
}

/// A Python pattern in the syntax of the `regex` crate: a brace that starts no repetition is a
/// literal brace in Python (`{{\s*ref`) and is escaped; `{,n}` is `{0,n}`.
fn rust_pattern(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.get(i + 1) {
                    out.push(*next);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => {
                let close = chars[i..].iter().position(|&c| c == '}').map(|n| i + n);
                let quantifier: Option<String> = close.and_then(|close| {
                    let inner: String = chars[i + 1..close].iter().collect();
                    let (low, high) = match inner.split_once(',') {
                        Some((low, high)) => (low, Some(high)),
                        None => (inner.as_str(), None),
                    };
                    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
                    let valid = digits(low)
                        && high.is_none_or(digits)
                        && (!low.is_empty() || high.is_some_and(|h| !h.is_empty()));
                    valid.then(|| match high {
                        Some(high) if low.is_empty() => format!("{{0,{high}}}"),
                        _ => format!("{{{inner}}}"),
                    })
                });
                match (quantifier, close) {
                    (Some(quantifier), Some(close)) => {
                        out.push_str(&quantifier);
                        i = close + 1;
                    }
                    _ => {
                        out.push_str("\\{");
                        i += 1;
                    }
                }
                continue;
            }
            '}' if !in_class => {
                out.push_str("\\}");
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

fn compile(source: &str, flags: i64, anchor: Anchor) -> Result<Regex, Error> {
    let source = rust_pattern(source);
    // Python's flags as inline flags, which apply to the whole pattern.
    let inline: String = [
        (IGNORECASE, 'i'),
        (MULTILINE, 'm'),
        (DOTALL, 's'),
        (VERBOSE, 'x'),
    ]
    .iter()
    .filter(|(flag, _)| flags & flag != 0)
    .map(|(_, letter)| *letter)
    .collect();
    let inline = if inline.is_empty() {
        String::new()
    } else {
        format!("(?{inline})")
    };
    // In verbose mode a comment runs to the end of its line: the pattern ends on a new line so
    // that the group closed after it is not commented out.
    let verbose = flags & VERBOSE != 0
        || source
            .strip_prefix("(?")
            .and_then(|rest| rest.split_once(')'))
            .is_some_and(|(group, _)| {
                group.chars().all(|c| c.is_ascii_alphabetic()) && group.contains('x')
            });
    let end = if verbose { "\n" } else { "" };
    let pattern = match anchor {
        Anchor::None => format!("{inline}{source}"),
        Anchor::Start => format!("{inline}\\A(?:{source}{end})"),
        Anchor::Full => format!("{inline}\\A(?:{source}{end})\\z"),
    };
    RegexBuilder::new(&pattern)
        .build()
        .map_err(|e| invalid(format!("re.error: {e}")))
}

/// A matching failure (a backtracking limit reached) as Python's `re` would raise it.
fn failed(error: fancy_regex::Error) -> Error {
    invalid(format!("re.error: {error}"))
}

#[derive(Clone, Copy)]
enum Anchor {
    None,
    Start,
    Full,
}

impl Pattern {
    fn new(source: &str, flags: i64) -> Result<Pattern, Error> {
        Ok(Pattern {
            source: source.to_owned(),
            flags,
            regex: compile(source, flags, Anchor::None)?,
        })
    }

    fn find(&self, text: &str, anchor: Anchor) -> Result<Value, Error> {
        let regex = match anchor {
            Anchor::None => self.regex.clone(),
            anchor => compile(&self.source, self.flags, anchor)?,
        };
        Ok(regex
            .captures(text)
            .map_err(failed)?
            .map_or(Value::from(()), |caps| {
                Value::from_object(Match::new(&regex, &caps))
            }))
    }

    fn findall(&self, text: &str) -> Result<Value, Error> {
        let groups = self.regex.captures_len() - 1;
        let mut items = Vec::new();
        for caps in self.regex.captures_iter(text) {
            let caps = caps.map_err(failed)?;
            let group = |i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
            items.push(match groups {
                0 => group(0),
                1 => group(1),
                n => Value::from(Tuple::from((1..=n).map(group).collect::<Vec<_>>())),
            });
        }
        Ok(Value::from(items))
    }

    fn split(&self, text: &str, maxsplit: usize) -> Result<Value, Error> {
        let mut parts = Vec::new();
        let mut last = 0;
        for (n, caps) in self.regex.captures_iter(text).enumerate() {
            if maxsplit > 0 && n >= maxsplit {
                break;
            }
            let caps = caps.map_err(failed)?;
            let Some(whole) = caps.get(0) else { continue };
            parts.push(Value::from(&text[last..whole.start()]));
            for group in caps.iter().skip(1) {
                parts.push(group.map_or(Value::from(()), |m| Value::from(m.as_str())));
            }
            last = whole.end();
        }
        parts.push(Value::from(&text[last..]));
        Ok(Value::from(parts))
    }

    fn sub(&self, replacement: &str, text: &str, count: usize) -> Result<(String, usize), Error> {
        let template = python_replacement(replacement);
        let mut replaced = 0;
        let out = self
            .regex
            .try_replacen(text, count, |caps: &Captures<'_>| {
                replaced += 1;
                let mut out = String::new();
                caps.expand(&template, &mut out);
                out
            })
            .map_err(failed)?
            .into_owned();
        Ok((out, replaced))
    }
}

impl Match {
    fn new(regex: &Regex, caps: &Captures<'_>) -> Match {
        Match {
            groups: caps
                .iter()
                .map(|m| m.map(|m| (m.start(), m.end(), m.as_str().to_owned())))
                .collect(),
            names: regex
                .capture_names()
                .map(|n| n.map(str::to_owned))
                .collect(),
        }
    }

    fn group_index(&self, key: &Value) -> Result<usize, Error> {
        if let Some(name) = key.as_str() {
            return self
                .names
                .iter()
                .position(|n| n.as_deref() == Some(name))
                .ok_or_else(|| invalid("IndexError: no such group"));
        }
        usize::try_from(key.clone())
            .ok()
            .filter(|i| *i < self.groups.len())
            .ok_or_else(|| invalid("IndexError: no such group"))
    }

    fn group(&self, key: &Value) -> Result<Value, Error> {
        let index = self.group_index(key)?;
        Ok(self.groups[index]
            .as_ref()
            .map_or(Value::from(()), |(_, _, text)| Value::from(text.clone())))
    }
}

impl Object for Match {
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
            "group" => {
                let keys: Vec<Value> = args.to_vec();
                match keys.as_slice() {
                    [] => self.group(&Value::from(0)),
                    [key] => self.group(key),
                    keys => Ok(Value::from(Tuple::from(
                        keys.iter()
                            .map(|k| self.group(k))
                            .collect::<Result<Vec<_>, _>>()?,
                    ))),
                }
            }
            "groups" => Ok(Value::from(Tuple::from(
                self.groups
                    .iter()
                    .skip(1)
                    .map(|g| {
                        g.as_ref()
                            .map_or(Value::from(()), |(_, _, t)| Value::from(t.clone()))
                    })
                    .collect::<Vec<_>>(),
            ))),
            "groupdict" => {
                let entries: serde_json::Map<String, serde_json::Value> = self
                    .names
                    .iter()
                    .zip(&self.groups)
                    .filter_map(|(name, group)| {
                        let value = group.as_ref().map_or(serde_json::Value::Null, |(_, _, t)| {
                            serde_json::Value::from(t.clone())
                        });
                        name.clone().map(|n| (n, value))
                    })
                    .collect();
                Ok(crate::to_value(entries))
            }
            "start" | "end" | "span" => {
                let (key,): (Option<Value>,) = from_args(args)?;
                let index = self.group_index(&key.unwrap_or(Value::from(0)))?;
                let (start, end) = self.groups[index]
                    .as_ref()
                    .map_or((-1, -1), |(s, e, _)| (*s as i64, *e as i64));
                Ok(match method {
                    "start" => Value::from(start),
                    "end" => Value::from(end),
                    _ => Value::from(Tuple::from([Value::from(start), Value::from(end)])),
                })
            }
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }
}

/// Python's replacement template as the regex crate's: `\1` and `\g<1>` -> `${1}`,
/// `\g<name>` -> `${name}`, `\n` -> newline, `$` -> `$$`.
fn python_replacement(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let mut number = d.to_string();
                    if let Some(&e) = chars.peek().filter(|e| e.is_ascii_digit()) {
                        number.push(e);
                        chars.next();
                    }
                    out.push_str(&format!("${{{number}}}"));
                }
                Some('g') if chars.peek() == Some(&'<') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// Python's `re.escape`: every character but ASCII letters, digits and `_` escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `(text, flags)` or `(text, count, flags)` arguments after a pattern.
fn flags_of(kwargs: &Kwargs) -> Result<i64, Error> {
    Ok(kwargs.get::<Option<i64>>("flags")?.unwrap_or(0))
}

/// Methods shared by the module (`re.search(p, s)`) and patterns (`p.search(s)`).
fn call(pattern: &Pattern, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "match" | "search" | "fullmatch" => {
            let (text, _flags, kwargs): (String, Option<i64>, Kwargs) = from_args(args)?;
            flags_of(&kwargs)?;
            kwargs.assert_all_used()?;
            let anchor = match method {
                "match" => Anchor::Start,
                "fullmatch" => Anchor::Full,
                _ => Anchor::None,
            };
            pattern.find(&text, anchor)
        }
        "findall" => {
            let (text, _flags, kwargs): (String, Option<i64>, Kwargs) = from_args(args)?;
            flags_of(&kwargs)?;
            kwargs.assert_all_used()?;
            pattern.findall(&text)
        }
        "split" => {
            let (text, maxsplit, kwargs): (String, Option<usize>, Kwargs) = from_args(args)?;
            let maxsplit = maxsplit.or(kwargs.get("maxsplit")?).unwrap_or(0);
            flags_of(&kwargs)?;
            kwargs.assert_all_used()?;
            pattern.split(&text, maxsplit)
        }
        "sub" | "subn" => {
            let (replacement, text, count, kwargs): (Value, String, Option<usize>, Kwargs) =
                from_args(args)?;
            let count = count.or(kwargs.get("count")?).unwrap_or(0);
            flags_of(&kwargs)?;
            kwargs.assert_all_used()?;
            let replacement = replacement
                .as_str()
                .ok_or_else(|| invalid("re.sub() takes a string replacement"))?;
            let (out, n) = pattern.sub(replacement, &text, count)?;
            Ok(if method == "sub" {
                Value::from(out)
            } else {
                Value::from(Tuple::from([Value::from(out), Value::from(n)]))
            })
        }
        _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
    }
}

impl Object for Pattern {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "pattern" => Some(Value::from(self.source.clone())),
            "flags" => Some(Value::from(self.flags)),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        call(self, method, args)
    }
}

impl Object for ReModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "I" | "IGNORECASE" => IGNORECASE,
            "M" | "MULTILINE" => MULTILINE,
            "S" | "DOTALL" => DOTALL,
            "X" | "VERBOSE" => VERBOSE,
            "A" | "ASCII" => 256,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "escape" => {
                let (text,): (String,) = from_args(args)?;
                Ok(Value::from(escape(&text)))
            }
            "compile" => {
                let (source, flags): (String, Option<i64>) = from_args(args)?;
                Ok(Value::from_object(Pattern::new(
                    &source,
                    flags.unwrap_or(0),
                )?))
            }
            _ => {
                let Some((source, rest)) = args.split_first() else {
                    return Err(invalid(format!("re.{method}() takes a pattern")));
                };
                // Python reads flags from the last position (or `flags=`).
                let flags = match method {
                    "sub" | "subn" => rest.get(3),
                    "split" => rest.get(2),
                    _ => rest.get(1),
                }
                .and_then(|v| i64::try_from(v.clone()).ok())
                .or_else(|| {
                    rest.last()
                        .and_then(|v| v.get_attr("flags").ok())
                        .and_then(|v| i64::try_from(v).ok())
                })
                .unwrap_or(0);
                let pattern = match source.downcast_object_ref::<Pattern>() {
                    Some(pattern) => Pattern::new(&pattern.source, pattern.flags | flags)?,
                    None => Pattern::new(&source.to_string(), flags)?,
                };
                call(&pattern, method, rest)
            }
        }
    }
}
