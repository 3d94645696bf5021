//! The dependency graph of a project's nodes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};

use kiln_core::{Diagnostic, Diagnostics, Location, ResourceType};
use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};

/// What selection and ordering need to know about a node.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    pub unique_id: String,
    pub name: String,
    pub resource_type: ResourceType,
    pub package: String,
    pub fqn: Vec<String>,
    /// Relative to its package (dbt's `original_file_path`).
    pub path: String,
    /// Where to point in messages about this node.
    pub location: Location,
    pub tags: Vec<String>,
    /// The node's config, for `config.<key>:` selectors (serialized only when one is used).
    pub config: kiln_core::NodeConfig,
    /// For tests: the test's name (`unique`, `accepted_values`...), for `test_name:`.
    pub test_name: Option<String>,
    /// Unique ids of the nodes it depends on.
    pub depends_on: Vec<String>,
    /// For sources: the source's name (`stripe` of `source('stripe', 'charges')`).
    pub source_name: Option<String>,
    /// For tests: generic or singular, for `test_type:`.
    pub test_kind: Option<kiln_core::TestKind>,
}

/// The DAG of a project, with nodes in a stable order.
#[derive(Debug)]
pub struct Graph {
    graph: StableDiGraph<String, ()>,
    nodes: BTreeMap<String, GraphNode>,
    index: HashMap<String, NodeIndex>,
}

impl Graph {
    /// Builds the graph. Every dependency must name a node in `nodes`; a cycle is an error
    /// that names every node on it.
    pub fn build(nodes: Vec<GraphNode>) -> Result<Graph, Diagnostics> {
        let mut graph = StableDiGraph::new();
        let mut index = HashMap::new();
        let mut by_id = BTreeMap::new();
        for node in nodes {
            index.insert(
                node.unique_id.clone(),
                graph.add_node(node.unique_id.clone()),
            );
            by_id.insert(node.unique_id.clone(), node);
        }
        let mut errors = Vec::new();
        for node in by_id.values() {
            let child = index[&node.unique_id];
            for parent in &node.depends_on {
                match index.get(parent) {
                    Some(&parent) => {
                        graph.update_edge(parent, child, ());
                    }
                    None => errors.push(
                        Diagnostic::error(format!(
                            "{} depends on `{parent}`, which does not exist",
                            node.unique_id
                        ))
                        .at(node.location.clone()),
                    ),
                }
            }
        }
        let graph = Graph {
            graph,
            nodes: by_id,
            index,
        };
        errors.extend(graph.cycles());
        if errors.is_empty() {
            Ok(graph)
        } else {
            Err(Diagnostics(errors))
        }
    }

    fn cycles(&self) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for component in petgraph::algo::tarjan_scc(&self.graph) {
            let self_loop =
                component.len() == 1 && self.graph.contains_edge(component[0], component[0]);
            if component.len() < 2 && !self_loop {
                continue;
            }
            let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
            // Walk the cycle from its smallest id, always to the smallest next member.
            let start = *members
                .iter()
                .min_by_key(|&&i| &self.graph[i])
                .unwrap_or(&component[0]);
            let mut path = vec![start];
            let mut current = start;
            loop {
                let next = self
                    .graph
                    .neighbors_directed(current, Direction::Outgoing)
                    .filter(|n| members.contains(n))
                    .filter(|n| *n == start || !path.contains(n))
                    .min_by_key(|&n| (n != start, &self.graph[n]));
                match next {
                    Some(next) if next == start => break,
                    Some(next) => {
                        path.push(next);
                        current = next;
                    }
                    None => break,
                }
            }
            path.push(start);
            let names: Vec<&str> = path
                .iter()
                .map(|&i| self.nodes[&self.graph[i]].name.as_str())
                .collect();
            let first = &self.nodes[&self.graph[start]];
            let mut error = Diagnostic::error(format!("dependency cycle: {}", names.join(" -> ")))
                .at(first.location.clone())
                .help("a model cannot depend on itself, directly or through other models; remove one of these refs");
            for &i in &path[1..path.len() - 1] {
                let node = &self.nodes[&self.graph[i]];
                error = error.note(format!("{} is at {}", node.name, node.location));
            }
            errors.push(error);
        }
        errors
    }

    pub fn get(&self, unique_id: &str) -> Option<&GraphNode> {
        self.nodes.get(unique_id)
    }

    /// Every node, by unique id.
    pub fn nodes(&self) -> impl Iterator<Item = &GraphNode> {
        self.nodes.values()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Direct parents or children of a node.
    pub fn neighbors(&self, unique_id: &str, direction: Direction) -> Vec<&str> {
        let Some(&index) = self.index.get(unique_id) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(index, direction)
            .map(|i| self.graph[i].as_str())
            .collect();
        out.sort_unstable();
        out
    }

    /// Nodes reachable from `unique_id` in `direction` within `depth` steps (all if `None`),
    /// not including the node itself.
    pub fn reachable(
        &self,
        unique_id: &str,
        direction: Direction,
        depth: Option<usize>,
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let Some(&start) = self.index.get(unique_id) else {
            return seen;
        };
        let mut queue = VecDeque::from([(start, 0)]);
        while let Some((index, distance)) = queue.pop_front() {
            if depth.is_some_and(|d| distance >= d) {
                continue;
            }
            for next in self.graph.neighbors_directed(index, direction) {
                if seen.insert(self.graph[next].clone()) {
                    queue.push_back((next, distance + 1));
                }
            }
        }
        seen
    }

    /// All nodes in dependency order; among nodes that are ready at the same time, by name
    /// then unique id, so the order never changes between runs.
    pub fn topological_order(&self) -> Vec<&str> {
        let mut indegree: HashMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|i| {
                (
                    i,
                    self.graph
                        .neighbors_directed(i, Direction::Incoming)
                        .count(),
                )
            })
            .collect();
        let key = |i: NodeIndex| {
            let node = &self.nodes[&self.graph[i]];
            Reverse((node.name.clone(), node.unique_id.clone(), i))
        };
        let mut ready: BinaryHeap<_> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(&i, _)| key(i))
            .collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        while let Some(Reverse((_, _, index))) = ready.pop() {
            order.push(self.graph[index].as_str());
            for child in self.graph.neighbors_directed(index, Direction::Outgoing) {
                if let Some(d) = indegree.get_mut(&child) {
                    *d -= 1;
                    if *d == 0 {
                        ready.push(key(child));
                    }
                }
            }
        }
        order
    }
}

/// Whether `edges` (parent, child) contain a cycle: for plans that add their own edges to the
/// project's graph, such as a build's "wait for the model's tests".
pub fn has_cycle<'a>(edges: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let mut graph: StableDiGraph<(), ()> = StableDiGraph::new();
    let mut index: HashMap<&str, NodeIndex> = HashMap::new();
    for (parent, child) in edges {
        let mut node = |name: &'a str| *index.entry(name).or_insert_with(|| graph.add_node(()));
        let (from, to) = (node(parent), node(child));
        graph.add_edge(from, to, ());
    }
    petgraph::algo::is_cyclic_directed(&graph)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::NodeConfig;

    fn model(name: &str, deps: &[&str]) -> GraphNode {
        GraphNode {
            unique_id: format!("model.shop.{name}"),
            name: name.to_owned(),
            resource_type: ResourceType::Model,
            package: "shop".to_owned(),
            fqn: vec!["shop".to_owned(), name.to_owned()],
            path: format!("models/{name}.sql"),
            location: Location::new(format!("models/{name}.sql"), 1),
            tags: Vec::new(),
            config: NodeConfig::default_for(ResourceType::Model),
            test_name: None,
            depends_on: deps.iter().map(|d| format!("model.shop.{d}")).collect(),
            source_name: None,
            test_kind: None,
        }
    }

    #[test]
    fn order_is_topological_with_ties_broken_by_name() {
        let graph = Graph::build(vec![
            model("zeta", &[]),
            model("alpha", &[]),
            model("mart", &["zeta", "alpha"]),
            model("beta", &["alpha"]),
        ])
        .unwrap();
        let names: Vec<&str> = graph
            .topological_order()
            .into_iter()
            .map(|id| graph.get(id).unwrap().name.as_str())
            .collect();
        assert_eq!(names, ["alpha", "beta", "zeta", "mart"]);
    }

    #[test]
    fn a_cycle_names_every_node_on_it_with_its_file() {
        let errors = Graph::build(vec![
            model("a", &["c"]),
            model("b", &["a"]),
            model("c", &["b"]),
            model("free", &[]),
        ])
        .unwrap_err();
        assert_eq!(errors.0.len(), 1);
        let message = errors.0[0].to_string();
        assert!(
            message.contains("dependency cycle: a -> b -> c -> a"),
            "{message}"
        );
        assert!(message.contains("--> models/a.sql:1"), "{message}");
        assert!(message.contains("b is at models/b.sql:1"), "{message}");
        assert!(message.contains("c is at models/c.sql:1"), "{message}");
    }

    #[test]
    fn a_model_that_refs_itself_is_a_cycle() {
        let errors = Graph::build(vec![model("loop", &["loop"])]).unwrap_err();
        assert!(errors.0[0].message.contains("loop -> loop"), "{errors}");
    }

    #[test]
    fn a_missing_dependency_is_an_error_at_the_node() {
        let errors = Graph::build(vec![model("a", &["ghost"])]).unwrap_err();
        let message = errors.0[0].to_string();
        assert!(message.contains("model.shop.ghost"), "{message}");
        assert!(message.contains("models/a.sql:1"), "{message}");
    }

    #[test]
    fn reachability_respects_direction_and_depth() {
        let graph = Graph::build(vec![
            model("a", &[]),
            model("b", &["a"]),
            model("c", &["b"]),
        ])
        .unwrap();
        let downstream = graph.reachable("model.shop.a", Direction::Outgoing, None);
        assert_eq!(
            downstream.into_iter().collect::<Vec<_>>(),
            ["model.shop.b", "model.shop.c"]
        );
        let one_up = graph.reachable("model.shop.c", Direction::Incoming, Some(1));
        assert_eq!(one_up.into_iter().collect::<Vec<_>>(), ["model.shop.b"]);
    }

    #[test]
    fn extra_edges_are_checked_for_cycles() {
        assert!(!has_cycle([("a", "b"), ("b", "c"), ("a", "c")]));
        assert!(has_cycle([("a", "b"), ("b", "c"), ("c", "a")]));
    }
}
