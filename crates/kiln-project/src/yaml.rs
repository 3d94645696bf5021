//! YAML files as trees that remember the line of every value.
//!
//! A file is parsed once (serde-saphyr, which reports the line and column of syntax errors)
//! into a [`Node`] tree. Typed structs are then read from any node with [`Node::deserialize`],
//! which turns type errors into diagnostics at the offending line and reports keys that the
//! struct does not know as warnings with the YAML path, the line and the closest known key.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use kiln_core::diagnostic::{Diagnostic, Location, closest};

/// A YAML value with the line it starts on (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Keys in file order; each key keeps its own line.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A JSON value as YAML, every part at `line`.
    pub fn from_json(json: &serde_json::Value, line: usize) -> Node {
        use serde_json::Value as Json;
        let value = match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or_default()),
            },
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => {
                Value::Seq(items.iter().map(|i| Node::from_json(i, line)).collect())
            }
            Json::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| {
                        let key = Node {
                            line,
                            value: Value::String(k.clone()),
                        };
                        (key, Node::from_json(v, line))
                    })
                    .collect(),
            ),
        };
        Node { line, value }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The key node for `key` in a map (its line is where the key is written).
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k)
    }

    /// The line of the value at a serde path such as `models[3].columns[0].tests` (for the last
    /// segment of a key, the line the key is written on), as deep as the path exists.
    fn line_at<'a>(&'a self, path: impl Iterator<Item = PathSegment<'a>>) -> usize {
        let mut node = self;
        let mut line = self.line;
        for segment in path {
            let next = match segment {
                PathSegment::Key(key) => node.key_node(key).zip(node.get(key)),
                PathSegment::Index(i) => {
                    node.as_seq().and_then(|items| items.get(i)).map(|n| (n, n))
                }
            };
            match next {
                Some((key, value)) => {
                    line = key.line;
                    node = value;
                }
                None => break,
            }
        }
        line
    }

    /// The value as JSON: the form configs, vars and Jinja see.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_string(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A map key as a string (`1` and `true` are valid YAML keys too).
    pub fn key_string(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Seq(_) | Value::Map(_) => self.to_json().to_string(),
        }
    }

    /// Reads a typed struct from this node.
    ///
    /// Keys the struct ignores become warnings (with `known_keys` used for the suggestion);
    /// a value of the wrong type is an error at its line.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        file: &Path,
        known_keys: &[&str],
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<T, Diagnostic> {
        let json = self.to_json();
        let mut ignored: Vec<String> = Vec::new();
        let result: Result<T, _> = {
            let mut record = |path: serde_ignored::Path<'_>| ignored.push(path.to_string());
            let ignoring = serde_ignored::Deserializer::new(&json, &mut record);
            serde_path_to_error::deserialize(ignoring)
        };
        match result {
            Ok(value) => {
                for path in ignored {
                    let line = self.line_at(parse_path(&path));
                    let key = path.rsplit(['.', '[']).next().unwrap_or(&path);
                    let mut warning =
                        Diagnostic::warning(format!("unknown key `{}`", display_path(&path)))
                            .at(Location::new(file, line));
                    if let Some(known) = closest(key, known_keys.iter().copied()) {
                        warning = warning.help(format!("did you mean `{known}`?"));
                    } else {
                        warning = warning.help("Kiln ignores this key");
                    }
                    warnings.push(warning);
                }
                Ok(value)
            }
            Err(error) => {
                let path = error.path().to_string();
                let line = self.line_at(parse_path(&path));
                let inner = error.into_inner().to_string();
                let message = if path == "." {
                    format!("invalid YAML content: {inner}")
                } else {
                    format!("invalid value at `{path}`: {inner}")
                };
                Err(Diagnostic::error(message).at(Location::new(file, line)))
            }
        }
    }
}

enum PathSegment<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits a serde path (`a.b[2].c`) into segments.
fn parse_path(path: &str) -> impl Iterator<Item = PathSegment<'_>> {
    path.split('.')
        .filter(|part| !part.is_empty() && *part != "?")
        .flat_map(|part| {
            let mut segments = Vec::new();
            let mut rest = part;
            if let Some(bracket) = rest.find('[') {
                if bracket > 0 {
                    segments.push(PathSegment::Key(&rest[..bracket]));
                }
                rest = &rest[bracket..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let end = stripped.find(']').unwrap_or(stripped.len());
                    if let Ok(index) = stripped[..end].parse() {
                        segments.push(PathSegment::Index(index));
                    }
                    rest = stripped.get(end + 1..).unwrap_or("");
                }
            } else if let Ok(index) = rest.parse() {
                segments.push(PathSegment::Index(index));
            } else {
                segments.push(PathSegment::Key(rest));
            }
            segments
        })
}

/// `models.0.columns.1.name` (serde_ignored's form) as `models[0].columns[1].name`.
fn display_path(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.') {
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// Parses a YAML document. An empty file is `Null`.
pub fn parse(file: &Path, text: &str) -> Result<Node, Diagnostic> {
    if text.trim().is_empty() {
        return Ok(Node {
            line: 1,
            value: Value::Null,
        });
    }
    serde_saphyr::from_str::<Spanned<Value>>(text)
        .map(spanned_node)
        .map_err(|error| yaml_error(file, text, &error))
}

/// Parses schema YAML as dbt does (PyYAML): a key given twice in one mapping keeps its last
/// value. Kiln says so with a warning, since the first value is lost.
pub fn parse_as_dbt(
    file: &Path,
    text: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Node, Diagnostic> {
    match parse(file, text) {
        Err(error) if error.message.starts_with("duplicate key") => {
            let mut options = serde_saphyr::Options::default();
            options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::LastWins;
            let node = serde_saphyr::from_str_with_options::<Spanned<Value>>(text, options)
                .map(spanned_node)
                .map_err(|error| yaml_error(file, text, &error))?;
            warnings.push(Diagnostic {
                severity: kiln_core::Severity::Warning,
                help: Some("remove one of them; as in dbt, the last one is used".to_owned()),
                ..error
            });
            Ok(node)
        }
        other => other,
    }
}

/// A YAML error in Kiln's words, at the right line.
fn yaml_error(file: &Path, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let message = first_line(&error.to_string()).to_owned();
    let mut location = Location::new(file, 0);
    if let Some(at) = error.location() {
        location = Location::new(file, at.line() as usize).with_col(at.column() as usize);
    }
    if let Some(key) = message
        .strip_prefix("duplicate mapping key: ")
        .and_then(|rest| rest.split(',').next())
    {
        return Diagnostic::error(format!("duplicate key `{}` in one mapping", key.trim()))
            .at(location)
            .help("remove one of them");
    }
    if message.contains("found a tab") {
        // The parser reports the line before the tab; point at the tab itself.
        if let Some((index, line)) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.trim_start_matches(' ').starts_with('\t') || l.contains(":\t"))
        {
            let column = line.find('\t').map_or(1, |c| c + 1);
            return Diagnostic::error("a tab in the indentation: YAML indents with spaces")
                .at(Location::new(file, index + 1).with_col(column))
                .help("replace the tab with spaces");
        }
    }
    Diagnostic::error(format!("invalid YAML: {message}"))
        .at(location)
        .help("check the indentation and quoting around this line")
}

/// The first line of serde-saphyr's message, without the `error: line N column M:` prefix that
/// the location already says.
fn first_line(message: &str) -> &str {
    let line = message
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(message)
        .trim();
    let line = line.strip_prefix("error:").map_or(line, str::trim);
    match line
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((position, rest)) if position.contains("column") => rest,
        _ => line,
    }
}

fn spanned_node(spanned: Spanned<Value>) -> Node {
    Node {
        line: spanned.referenced.line() as usize,
        value: spanned.value,
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(spanned_node(item));
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Value>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((spanned_node(key), spanned_node(value)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_remember_their_lines() {
        let text = "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n";
        let root = parse(Path::new("schema.yml"), text).unwrap();
        let models = root.get("models").unwrap().as_seq().unwrap();
        assert_eq!(models[0].line, 3);
        let columns = models[0].get("columns").unwrap().as_seq().unwrap();
        assert_eq!(columns[0].get("name").unwrap().line, 5);
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let error = parse(Path::new("bad.yml"), "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(error.location.as_ref().unwrap().line >= 2, "{error}");
    }

    #[derive(Debug, Deserialize)]
    struct Entry {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        description: Option<String>,
    }

    #[test]
    fn unknown_keys_warn_with_line_and_suggestion() {
        let text = "name: orders\ndescripton: typo\n";
        let root = parse(Path::new("s.yml"), text).unwrap();
        let mut warnings = Vec::new();
        let _: Entry = root
            .deserialize(Path::new("s.yml"), &["name", "description"], &mut warnings)
            .unwrap();
        assert_eq!(warnings.len(), 1);
        let warning = warnings[0].to_string();
        assert!(warning.contains("s.yml:2"), "{warning}");
        assert!(warning.contains("unknown key `descripton`"), "{warning}");
        assert!(warning.contains("did you mean `description`"), "{warning}");
    }

    #[test]
    fn unknown_keys_in_lists_point_at_their_entry() {
        let text = "models:\n  - name: a\n  - name: b\n    descripton: typo\n";
        let root = parse(Path::new("s.yml"), text).unwrap();
        let mut warnings = Vec::new();
        #[derive(Debug, Deserialize)]
        struct File {
            #[allow(dead_code)]
            models: Vec<Entry>,
        }
        let _: File = root
            .deserialize(Path::new("s.yml"), &["description"], &mut warnings)
            .unwrap();
        let warning = warnings[0].to_string();
        assert!(warning.contains("`models[1].descripton`"), "{warning}");
        assert!(warning.contains("s.yml:4"), "{warning}");
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let text = "name:\n  - not\n  - a string\n";
        let root = parse(Path::new("s.yml"), text).unwrap();
        let error = root
            .deserialize::<Entry>(Path::new("s.yml"), &[], &mut Vec::new())
            .unwrap_err();
        assert_eq!(error.location.unwrap().line, 1, "{}", error.message);
    }
}
