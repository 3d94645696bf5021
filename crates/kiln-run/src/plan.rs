//! Planning: which jobs a run has and which wait for which, from the project's graph.

use std::collections::{BTreeMap, BTreeSet};

use kiln_compile::Parsed;
use kiln_core::{Node, ResourceType};

use crate::scheduler::Job;

/// The jobs for `selected`: models (not ephemeral ones), seeds, snapshots and tests, each waiting for the
/// nearest selected nodes it depends on (through ephemeral or unselected nodes too).
pub fn plan(parsed: &Parsed, selected: &BTreeSet<String>) -> Vec<Job> {
    let runnable = |id: &str| {
        parsed.nodes.get(id).is_some_and(|n| match n.resource_type {
            ResourceType::Model => !n.is_ephemeral(),
            ResourceType::Seed
            | ResourceType::Test
            | ResourceType::Snapshot
            | ResourceType::UnitTest => true,
            _ => false,
        })
    };
    let in_plan: BTreeSet<&str> = selected
        .iter()
        .map(String::as_str)
        .filter(|id| runnable(id))
        .collect();
    // A source that one of this run's seeds loads (same schema and name): its readers wait
    // for the seed, so `kiln build` can load raw data and build on it in one go.
    let relation_key = |n: &Node| {
        (
            n.relation.schema.clone().unwrap_or_default(),
            n.relation.identifier.clone(),
        )
    };
    let seeds_by_relation: BTreeMap<(String, String), &str> = in_plan
        .iter()
        .filter_map(|id| parsed.nodes.get(*id))
        .filter(|n| n.resource_type == ResourceType::Seed)
        .map(|n| (relation_key(n), n.unique_id.as_str()))
        .collect();
    let jobs = parsed
        .graph
        .topological_order()
        .into_iter()
        .filter(|id| in_plan.contains(id))
        .map(|id| {
            let mut parents = BTreeSet::new();
            // A unit test reads its model's inputs (for their column types), not the model.
            let reads = match &parsed.nodes[id].unit_test {
                Some(spec) => &parsed.nodes[&spec.model].depends_on,
                None => &parsed.nodes[id].depends_on,
            };
            let mut stack: Vec<&str> = reads.iter().map(String::as_str).collect();
            let mut seen = BTreeSet::new();
            while let Some(parent) = stack.pop() {
                if !seen.insert(parent) {
                    continue;
                }
                if in_plan.contains(parent) {
                    parents.insert(parent.to_owned());
                } else if let Some(node) = parsed.nodes.get(parent) {
                    if node.resource_type == ResourceType::Source
                        && let Some(seed) = seeds_by_relation.get(&relation_key(node))
                    {
                        parents.insert((*seed).to_owned());
                    }
                    stack.extend(node.depends_on.iter().map(String::as_str));
                }
            }
            Job {
                id: id.to_owned(),
                parents,
            }
        })
        .collect();
    wait_for_unit_tests(parsed, wait_for_tests(parsed, jobs))
}

/// A model waits for its unit tests, so that one failing skips the model (and what depends on
/// it); each unit test is placed just before its model, so it runs as early as it can.
fn wait_for_unit_tests(parsed: &Parsed, mut jobs: Vec<Job>) -> Vec<Job> {
    let mut tests_of: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    jobs.retain(|job| match &parsed.nodes[&job.id].unit_test {
        Some(spec) => {
            tests_of
                .entry(spec.model.clone())
                .or_default()
                .push(job.clone());
            false
        }
        None => true,
    });
    let mut out = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        if let Some(tests) = tests_of.remove(&job.id) {
            job.parents.extend(tests.iter().map(|t| t.id.clone()));
            out.extend(tests);
        }
        out.push(job);
    }
    // Unit tests of models this run does not build (`kiln test`).
    out.extend(tests_of.into_values().flatten());
    out
}

/// In a build, what depends on a model waits for the model's tests (those declared on it, its
/// "attached" tests, as in dbt), so that a failing test stops bad data from flowing downstream.
/// A test that itself depends on the waiting node (a relationships test pointing downstream) is
/// left out, and if waiting would still make a cycle, multi-parent tests do not hold anything.
fn wait_for_tests(parsed: &Parsed, jobs: Vec<Job>) -> Vec<Job> {
    let tests: Vec<(&str, &str, bool)> = jobs
        .iter()
        .filter_map(|j| {
            let node = parsed.nodes.get(&j.id)?;
            let attached = node.test.as_ref()?.attached_node.as_deref()?;
            Some((j.id.as_str(), attached, j.parents.len() > 1))
        })
        .collect();
    let plan = |only_single_parent: bool| -> Vec<Job> {
        let mut jobs = jobs.clone();
        for job in jobs.iter_mut().filter(|j| !j.id.starts_with("test.")) {
            for (test, attached, multi_parent) in &tests {
                if only_single_parent && *multi_parent {
                    continue;
                }
                let depends_on_job = parsed
                    .graph
                    .reachable(test, kiln_graph::Direction::Incoming, None)
                    .contains(&job.id);
                if job.parents.contains(*attached) && !depends_on_job {
                    job.parents.insert((*test).to_owned());
                }
            }
        }
        jobs
    };
    let waiting = plan(false);
    let edges = waiting.iter().flat_map(|job| {
        job.parents
            .iter()
            .map(move |parent| (parent.as_str(), job.id.as_str()))
    });
    if kiln_graph::has_cycle(edges) {
        plan(true)
    } else {
        waiting
    }
}
