//! Jinja2's filters where MiniJinja's differ or are missing, so that templates render as they
//! do in dbt: `int` and `float` fall back to a default instead of failing, `replace` takes a
//! count, `length` of an undefined value is 0, `pprint` is Python's repr, and `truncate`,
//! `center`, `wordcount`, `striptags` and `urlencode` exist. Each follows Jinja2 3.1's source.

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value};

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("int", int);
    env.add_filter("float", float);
    env.add_filter("replace", replace);
    env.add_filter("length", length);
    env.add_filter("count", length);
    env.add_filter("pprint", pprint);
    env.add_filter("truncate", truncate);
    env.add_filter("center", center);
    env.add_filter("wordcount", wordcount);
    env.add_filter("striptags", striptags);
    env.add_filter("urlencode", urlencode);
}

/// `int(value, default=0, base=10)`: strings are parsed (as a float when they are not an
/// integer); anything that cannot be read gives the default.
fn int(value: Value, default: Option<Value>, base: Option<u32>) -> Value {
    let default = default.unwrap_or(Value::from(0));
    match value.kind() {
        ValueKind::Number | ValueKind::Bool => {
            if let Ok(i) = i64::try_from(value.clone()) {
                Value::from(i)
            } else {
                f64::try_from(value).map_or(default, |f| Value::from(f.trunc() as i64))
            }
        }
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().trim().replace('_', "");
            let base = base.unwrap_or(10);
            i64::from_str_radix(&text, base)
                .map(Value::from)
                .or_else(|_| text.parse::<f64>().map(|f| Value::from(f.trunc() as i64)))
                .unwrap_or(default)
        }
        _ => default,
    }
}

/// `float(value, default=0.0)`.
fn float(value: Value, default: Option<Value>) -> Value {
    let default = default.unwrap_or(Value::from(0.0));
    match value.kind() {
        ValueKind::Number | ValueKind::Bool => f64::try_from(value).map_or(default, Value::from),
        ValueKind::String => value
            .as_str()
            .unwrap_or_default()
            .trim()
            .parse::<f64>()
            .map_or(default, Value::from),
        _ => default,
    }
}

/// `replace(old, new, count=None)`.
fn replace(value: String, old: String, new: String, count: Option<usize>) -> String {
    match count {
        Some(count) => value.replacen(&old, &new, count),
        None => value.replace(&old, &new),
    }
}

/// `length`: 0 for an undefined value (Jinja2's `Undefined` has length 0).
fn length(value: Value) -> Result<Value, Error> {
    if value.is_undefined() {
        return Ok(Value::from(0));
    }
    value.len().map(Value::from).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot calculate length of value of type {}", value.kind()),
        )
    })
}

/// `pprint`: Python's repr (short values fit on one line, as the cases dbt code prints do).
fn pprint(value: Value) -> String {
    match value.as_str() {
        Some(text) => python_str_repr(text),
        None => value.to_string(),
    }
}

/// Python's `repr` of a string: single quotes unless the text holds one and no double quote.
pub fn python_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `truncate(length=255, killwords=False, end='...', leeway=None)`.
fn truncate(
    value: String,
    length: Option<usize>,
    killwords: Option<bool>,
    end: Option<String>,
    leeway: Option<usize>,
) -> String {
    let length = length.unwrap_or(255);
    let end = end.unwrap_or_else(|| "...".to_owned());
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= length + leeway.unwrap_or(5) {
        return value;
    }
    let keep: String = chars[..length.saturating_sub(end.chars().count())]
        .iter()
        .collect();
    if killwords.unwrap_or(false) {
        return keep + &end;
    }
    let words = keep
        .rsplit_once(' ')
        .map_or(keep.as_str(), |(head, _)| head);
    format!("{words}{end}")
}

/// `center(width=80)`: Python's `str.center`.
fn center(value: String, width: Option<usize>) -> String {
    let width = width.unwrap_or(80);
    let len = value.chars().count();
    if width <= len {
        return value;
    }
    let margin = width - len;
    let left = margin / 2 + (margin & width & 1);
    format!("{}{value}{}", " ".repeat(left), " ".repeat(margin - left))
}

/// `wordcount`: runs of word characters.
fn wordcount(value: String) -> usize {
    value
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
        .count()
}

/// `striptags`: markup tags and comments removed, whitespace collapsed, entities decoded.
fn striptags(value: String) -> String {
    let mut text = String::with_capacity(value.len());
    let mut rest = value.as_str();
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = if tail.starts_with("<!--") {
            tail.find("-->").map(|i| i + 3)
        } else {
            tail.find('>').map(|i| i + 1)
        };
        match end {
            Some(end) => rest = &tail[end..],
            None => {
                text.push_str(tail);
                rest = "";
            }
        }
    }
    text.push_str(rest);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `urlencode`: a string percent-encoded (`/` kept), or a mapping as a query string.
fn urlencode(value: Value) -> Result<String, Error> {
    fn quote(text: &str, safe: &[u8], plus_for_space: bool) -> String {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(byte as char)
                }
                b' ' if plus_for_space => out.push('+'),
                b if safe.contains(&b) => out.push(b as char),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
    if value.kind() == ValueKind::Map {
        let pairs: Vec<String> = value
            .try_iter()?
            .map(|key| {
                let item = value.get_item(&key).unwrap_or_default();
                format!(
                    "{}={}",
                    quote(&key.to_string(), b"", true),
                    quote(&item.to_string(), b"", true)
                )
            })
            .collect();
        return Ok(pairs.join("&"));
    }
    Ok(quote(&value.to_string(), b"/", false))
}
