//! Node selection with dbt's syntax: `-s/--select` and `--exclude`.
//!
//! A selection is a list of selectors (each `-s` value split on spaces): their union. A
//! selector joined with commas is an intersection. Each part is a method and a value
//! (`tag:nightly`, `path:models/staging`, `config.materialized:table`, `source:stripe.charges`,
//! `resource_type:model`, `package:x`, `fqn:x`, `test_type:generic`, `test_name:unique`, or a bare
//! name, which matches a node's name or its fqn, with `*` wildcards) with graph operators around
//! it: `+x` (ancestors), `2+x` (ancestors within two steps), `x+`, `x+1`, `@x` (`x`, its
//! descendants and their ancestors).

use std::collections::{BTreeMap, BTreeSet};

use kiln_core::{Diagnostic, ResourceType};
use petgraph::Direction;

use crate::graph::{Graph, GraphNode};

/// One part of a selector, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Criterion {
    parents: Option<Option<usize>>,
    children: Option<Option<usize>>,
    at: bool,
    method: Method,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Method {
    /// Bare value: name or fqn.
    Default,
    Fqn,
    Tag,
    Path,
    Config(String),
    Source,
    Exposure,
    Group,
    ResourceType,
    Package,
    TestType,
    TestName,
    /// `state:new`, `state:modified[.body|.configs|...]`: against `--state`.
    State,
    /// `result:error`: the node's status in the `--state` run's run_results.json.
    Result,
    /// `source_status:fresher`: loaded since the `--state` run's sources.json.
    SourceStatus,
}

impl Method {
    /// Whether the method reads `--state`.
    fn needs_state(&self) -> bool {
        matches!(self, Method::State | Method::Result | Method::SourceStatus)
    }
}

/// What `--state` says about the nodes, for `state:`, `result:` and `source_status:`.
#[derive(Debug, Clone, Default)]
pub struct StateFacts {
    /// Unique id → its labels: `new`, `modified`, `modified.body`, `modified.configs`,
    /// `modified.relation`, `modified.persisted_descriptions`, `modified.macros`.
    pub labels: BTreeMap<String, BTreeSet<String>>,
    /// Unique id → its status in the state run's run_results.json.
    pub results: BTreeMap<String, String>,
    /// Sources loaded more recently than the state's sources.json recorded.
    pub fresher: BTreeSet<String>,
}

const METHODS: &[&str] = &[
    "fqn",
    "tag",
    "path",
    "config.<key>",
    "source",
    "exposure",
    "group",
    "resource_type",
    "package",
    "test_type",
    "test_name",
    "state",
    "result",
    "source_status",
];

/// Why a selector is not valid syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum SelectorError {
    #[error("`{0}` is not a depth")]
    Depth(String),
    #[error("`@` cannot be combined with `+`")]
    AtWithPlus,
    #[error("unknown selector method `{0}`; methods are {methods}", methods = METHODS.join(", "))]
    UnknownMethod(String),
    #[error("selector `{0}` has no value")]
    NoValue(String),
}

fn parse_depth(digits: &str) -> Result<Option<usize>, SelectorError> {
    if digits.is_empty() {
        Ok(None)
    } else {
        digits
            .parse()
            .map(Some)
            .map_err(|_| SelectorError::Depth(digits.to_owned()))
    }
}

fn parse_criterion(text: &str) -> Result<Criterion, SelectorError> {
    let mut rest = text;
    let at = rest.starts_with('@');
    if at {
        rest = &rest[1..];
    }
    let mut parents = None;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if rest[digits_end..].starts_with('+') {
        parents = Some(parse_depth(&rest[..digits_end])?);
        rest = &rest[digits_end + 1..];
    }
    let mut children = None;
    if let Some(plus) = rest.rfind('+') {
        let depth = &rest[plus + 1..];
        if depth.chars().all(|c| c.is_ascii_digit()) {
            children = Some(parse_depth(depth)?);
            rest = &rest[..plus];
        }
    }
    if at && (parents.is_some() || children.is_some()) {
        return Err(SelectorError::AtWithPlus);
    }
    let (method, value) = match rest.split_once(':') {
        Some((method, value)) => {
            let method = match method {
                "fqn" => Method::Fqn,
                "tag" => Method::Tag,
                "path" | "file" => Method::Path,
                "source" => Method::Source,
                "exposure" => Method::Exposure,
                "group" => Method::Group,
                "resource_type" => Method::ResourceType,
                "package" => Method::Package,
                "test_type" => Method::TestType,
                "test_name" => Method::TestName,
                "state" => Method::State,
                "result" => Method::Result,
                "source_status" => Method::SourceStatus,
                other => match other.strip_prefix("config.") {
                    Some(key) if !key.is_empty() => Method::Config(key.to_owned()),
                    _ => {
                        return Err(SelectorError::UnknownMethod(other.to_owned()));
                    }
                },
            };
            (method, value)
        }
        None => (Method::Default, rest),
    };
    if value.is_empty() {
        return Err(SelectorError::NoValue(text.to_owned()));
    }
    Ok(Criterion {
        parents,
        children,
        at,
        method,
        value: value.to_owned(),
    })
}

/// Shell-style matching with `*` and `?`.
fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// dbt's fqn match: the selector's dot-separated parts equal the start of the fqn (with or
/// without the package name), or the selector is the node's name.
fn fqn_matches(node: &GraphNode, value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    let matches_prefix =
        |fqn: &[String]| parts.len() <= fqn.len() && parts.iter().zip(fqn).all(|(p, f)| glob(p, f));
    matches_prefix(&node.fqn) || matches_prefix(node.fqn.get(1..).unwrap_or_default())
}

fn matches(node: &GraphNode, criterion: &Criterion, state: &StateFacts) -> bool {
    let value = criterion.value.as_str();
    match &criterion.method {
        Method::State => state
            .labels
            .get(&node.unique_id)
            .is_some_and(|labels| labels.contains(value)),
        Method::Result => state
            .results
            .get(&node.unique_id)
            .is_some_and(|status| glob(value, status)),
        Method::SourceStatus => value == "fresher" && state.fresher.contains(&node.unique_id),
        Method::Default => {
            if value.contains('/') || value.ends_with(".sql") || value.ends_with(".csv") {
                path_matches(node, value)
            } else {
                node.resource_type != ResourceType::Source
                    && (glob(value, &node.name) || fqn_matches(node, value))
            }
        }
        Method::Fqn => fqn_matches(node, value),
        Method::Tag => node.tags.iter().any(|t| glob(value, t)),
        Method::Path => path_matches(node, value),
        Method::Config(key) => match node.config.to_json().get(key) {
            Some(serde_json::Value::String(s)) => glob(value, s),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .any(|i| i.as_str().is_some_and(|s| glob(value, s))),
            Some(serde_json::Value::Bool(b)) => value == b.to_string(),
            Some(serde_json::Value::Number(n)) => value == n.to_string(),
            _ => false,
        },
        Method::Source => {
            node.resource_type == ResourceType::Source && {
                let source = node.source_name.as_deref().unwrap_or("");
                match value.split_once('.') {
                    Some((s, t)) => glob(s, source) && glob(t, &node.name),
                    None => glob(value, source),
                }
            }
        }
        // `exposure:name` or `exposure:package.name`, as dbt.
        Method::Exposure => {
            node.resource_type == ResourceType::Exposure
                && match value.split_once('.') {
                    Some((package, name)) => glob(package, &node.package) && glob(name, &node.name),
                    None => glob(value, &node.name),
                }
        }
        Method::Group => node
            .config
            .other
            .get("group")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|group| glob(value, group)),
        Method::ResourceType => ResourceType::parse(value) == Some(node.resource_type),
        Method::Package => glob(value, &node.package),
        Method::TestType => node.test_kind.is_some_and(|kind| {
            kind.as_str() == value || (value == "data" && kind != kiln_core::TestKind::Unit)
        }),
        Method::TestName => node.test_name.as_deref().is_some_and(|n| glob(value, n)),
    }
}

fn path_matches(node: &GraphNode, value: &str) -> bool {
    let value = value.trim_end_matches('/');
    let path = node.path.as_str();
    glob(value, path) || path.starts_with(&format!("{value}/"))
}

fn select_criterion(graph: &Graph, criterion: &Criterion, state: &StateFacts) -> BTreeSet<String> {
    let matched: BTreeSet<String> = graph
        .nodes()
        .filter(|n| matches(n, criterion, state))
        .map(|n| n.unique_id.clone())
        .collect();
    let mut selected = matched.clone();
    for id in &matched {
        if criterion.at {
            let descendants = graph.reachable(id, Direction::Outgoing, None);
            for d in &descendants {
                selected.extend(graph.reachable(d, Direction::Incoming, None));
            }
            selected.extend(descendants);
        }
        if let Some(depth) = criterion.parents {
            selected.extend(graph.reachable(id, Direction::Incoming, depth));
        }
        if let Some(depth) = criterion.children {
            selected.extend(graph.reachable(id, Direction::Outgoing, depth));
        }
    }
    selected
}

/// Nodes matched by a list of selectors (each possibly holding several space-separated ones).
fn evaluate(
    graph: &Graph,
    selectors: &[String],
    flag: &str,
    state: Option<&StateFacts>,
) -> Result<BTreeSet<String>, Diagnostic> {
    let no_state = StateFacts::default();
    let mut union = BTreeSet::new();
    for selector in selectors.iter().flat_map(|s| s.split_whitespace()) {
        let mut intersection: Option<BTreeSet<String>> = None;
        for part in selector.split(',') {
            let criterion = parse_criterion(part).map_err(|message| {
                Diagnostic::error(format!("invalid {flag} `{selector}`: {message}"))
                    .help("see `kiln ls --help` for the selection syntax")
            })?;
            if criterion.method.needs_state() && state.is_none() {
                return Err(Diagnostic::error(format!(
                    "{flag} `{part}` compares with another run, but no --state was given"
                ))
                .help("add --state <dir>: the target directory (with manifest.json) of the run to compare with"));
            }
            let selected = select_criterion(graph, &criterion, state.unwrap_or(&no_state));
            // A selector that names nothing in the project is a typo or a stale name: dbt
            // only warns, but a scheduler that builds nothing must not stay green. (Nothing
            // modified since the last run is no typo.)
            if selected.is_empty()
                && flag == "--select"
                && !graph.is_empty()
                && !criterion.method.needs_state()
            {
                return Err(matches_nothing(graph, &criterion, part));
            }
            intersection = Some(match intersection {
                None => selected,
                Some(previous) => previous.intersection(&selected).cloned().collect(),
            });
        }
        union.extend(intersection.unwrap_or_default());
    }
    Ok(union)
}

/// The error for a `--select` criterion that matches no node, with the closest name.
fn matches_nothing(graph: &Graph, criterion: &Criterion, part: &str) -> Diagnostic {
    let candidates: BTreeSet<&str> = match criterion.method {
        Method::Default | Method::Fqn => graph.nodes().map(|n| n.name.as_str()).collect(),
        Method::Tag => graph
            .nodes()
            .flat_map(|n| n.tags.iter().map(String::as_str))
            .collect(),
        Method::Package => graph.nodes().map(|n| n.package.as_str()).collect(),
        Method::Source => graph
            .nodes()
            .filter_map(|n| n.source_name.as_deref())
            .collect(),
        Method::TestName => graph
            .nodes()
            .filter_map(|n| n.test_name.as_deref())
            .collect(),
        _ => BTreeSet::new(),
    };
    let error = Diagnostic::error(format!("--select `{part}` matches no node"));
    match kiln_core::diagnostic::closest(&criterion.value, candidates.iter().copied()) {
        Some(close) if close != criterion.value => error.help(format!("did you mean `{close}`?")),
        _ => error.help("check the name; `kiln ls` lists every node"),
    }
}

/// Which tests come along with the nodes a selection picks (dbt's `--indirect-selection`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IndirectSelection {
    /// A test is selected when any node it depends on is (dbt's default).
    #[default]
    Eager,
    /// Only when every node it depends on is.
    Cautious,
    /// When every node it depends on is selected or upstream of a selected node.
    Buildable,
    /// Only tests selected themselves.
    Empty,
}

/// The unique ids selected by `--select` minus `--exclude`; every node when nothing is
/// selected. Tests come along with what they test, as dbt's default (eager) indirect
/// selection does: a test is selected when any node it depends on is, unless it is excluded.
pub fn select(
    graph: &Graph,
    select: &[String],
    exclude: &[String],
) -> Result<BTreeSet<String>, Diagnostic> {
    select_with_state(graph, select, exclude, None, IndirectSelection::Eager)
}

/// [`select`], with what `--state` says for `state:`, `result:` and `source_status:`, and the
/// tests that come along chosen by `indirect`.
pub fn select_with_state(
    graph: &Graph,
    select: &[String],
    exclude: &[String],
    state: Option<&StateFacts>,
    indirect: IndirectSelection,
) -> Result<BTreeSet<String>, Diagnostic> {
    let mut selected = if select.iter().all(|s| s.trim().is_empty()) {
        graph.nodes().map(|n| n.unique_id.clone()).collect()
    } else {
        let mut selected = evaluate(graph, select, "--select", state)?;
        let upstream: BTreeSet<String> = match indirect {
            IndirectSelection::Buildable => selected
                .iter()
                .flat_map(|id| graph.reachable(id, Direction::Incoming, None))
                .collect(),
            _ => BTreeSet::new(),
        };
        let comes_along = |parents: &[String]| {
            let any = parents.iter().any(|p| selected.contains(p));
            match indirect {
                IndirectSelection::Eager => any,
                IndirectSelection::Cautious => any && parents.iter().all(|p| selected.contains(p)),
                IndirectSelection::Buildable => {
                    any && parents
                        .iter()
                        .all(|p| selected.contains(p) || upstream.contains(p))
                }
                IndirectSelection::Empty => false,
            }
        };
        let tests: Vec<String> = graph
            .nodes()
            .filter(|n| {
                matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest)
                    && !selected.contains(&n.unique_id)
            })
            .filter(|n| comes_along(&n.depends_on))
            .map(|n| n.unique_id.clone())
            .collect();
        selected.extend(tests);
        selected
    };
    if !exclude.is_empty() {
        let excluded = evaluate(graph, exclude, "--exclude", state)?;
        selected.retain(|id| !excluded.contains(id));
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::Location;

    fn node(id: &str, folder: &str, deps: &[&str], tags: &[&str], materialized: &str) -> GraphNode {
        GraphNode {
            unique_id: format!("model.shop.{id}"),
            name: id.to_owned(),
            resource_type: ResourceType::Model,
            package: "shop".to_owned(),
            fqn: vec!["shop".to_owned(), folder.to_owned(), id.to_owned()],
            path: format!("models/{folder}/{id}.sql"),
            location: Location::new(format!("models/{folder}/{id}.sql"), 1),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            config: kiln_core::RawConfig {
                materialized: Some(materialized.to_owned()),
                ..Default::default()
            }
            .resolve(ResourceType::Model, &kiln_core::CliFlags::default())
            .unwrap(),
            test_name: None,
            depends_on: deps.iter().map(|d| format!("model.shop.{d}")).collect(),
            source_name: None,
            test_kind: None,
        }
    }

    fn graph() -> Graph {
        Graph::build(vec![
            node("stg_a", "staging", &[], &["daily"], "view"),
            node("stg_b", "staging", &[], &[], "view"),
            node(
                "int_ab",
                "intermediate",
                &["stg_a", "stg_b"],
                &[],
                "ephemeral",
            ),
            node("mart_x", "marts", &["int_ab"], &["daily"], "table"),
            node("mart_y", "marts", &["stg_b"], &[], "table"),
        ])
        .unwrap()
    }

    fn names(graph: &Graph, select_: &[&str], exclude: &[&str]) -> Vec<String> {
        let s: Vec<String> = select_.iter().map(|s| (*s).to_owned()).collect();
        let e: Vec<String> = exclude.iter().map(|s| (*s).to_owned()).collect();
        select(graph, &s, &e)
            .unwrap()
            .into_iter()
            .map(|id| id.rsplit('.').next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn graph_operators() {
        let g = graph();
        assert_eq!(names(&g, &["+int_ab"], &[]), ["int_ab", "stg_a", "stg_b"]);
        assert_eq!(
            names(&g, &["stg_b+"], &[]),
            ["int_ab", "mart_x", "mart_y", "stg_b"]
        );
        assert_eq!(names(&g, &["stg_b+1"], &[]), ["int_ab", "mart_y", "stg_b"]);
        assert_eq!(names(&g, &["1+mart_x"], &[]), ["int_ab", "mart_x"]);
        assert_eq!(
            names(&g, &["@stg_a"], &[]),
            ["int_ab", "mart_x", "stg_a", "stg_b"]
        );
    }

    #[test]
    fn methods_unions_and_intersections() {
        let g = graph();
        assert_eq!(names(&g, &["tag:daily"], &[]), ["mart_x", "stg_a"]);
        assert_eq!(names(&g, &["staging"], &[]), ["stg_a", "stg_b"]);
        assert_eq!(names(&g, &["path:models/marts"], &[]), ["mart_x", "mart_y"]);
        assert_eq!(
            names(&g, &["config.materialized:table,tag:daily"], &[]),
            ["mart_x"]
        );
        assert_eq!(names(&g, &["stg_a mart_y"], &[]), ["mart_y", "stg_a"]);
        assert_eq!(names(&g, &["stg_*"], &["stg_b"]), ["stg_a"]);
        assert_eq!(names(&g, &["shop.marts.*"], &[]), ["mart_x", "mart_y"]);
    }

    #[test]
    fn bad_selectors_are_errors() {
        let g = graph();
        let error = select(&g, &["colour:red".to_owned()], &[]).unwrap_err();
        assert!(
            error.message.contains("unknown selector method `colour`"),
            "{}",
            error.message
        );
    }

    #[test]
    fn topological_order_is_stable_and_breaks_ties_by_name() {
        let g = graph();
        let order: Vec<&str> = g
            .topological_order()
            .into_iter()
            .map(|id| id.rsplit('.').next().unwrap())
            .collect();
        assert_eq!(order, ["stg_a", "stg_b", "int_ab", "mart_x", "mart_y"]);
    }

    #[test]
    fn cycles_name_every_node() {
        let error = Graph::build(vec![
            node("a", "x", &["c"], &[], "view"),
            node("b", "x", &["a"], &[], "view"),
            node("c", "x", &["b"], &[], "view"),
        ])
        .unwrap_err();
        assert!(
            error.0[0].message.contains("a -> b -> c -> a"),
            "{}",
            error.0[0].message
        );
    }
}
