//! Runs jobs of a DAG on `threads` workers: a job starts when every job it depends on has
//! succeeded; a failure skips the jobs that depend on it (directly or not) and nothing else.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use kiln_adapter::Canceller;

use crate::results::{NodeResult, Status};

/// Stops a run: no new job starts, and queries in flight are cancelled on the server.
#[derive(Debug, Default)]
pub struct Cancel {
    cancelled: AtomicBool,
    interrupted: AtomicBool,
    in_flight: Mutex<BTreeMap<usize, Box<dyn Canceller>>>,
}

impl Cancel {
    pub fn new() -> Arc<Cancel> {
        Arc::new(Cancel::default())
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    pub fn was_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Ctrl-C.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.cancel();
    }

    /// `--fail-fast` after a failure, or an interrupt.
    pub fn cancel(&self) {
        if self.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        let in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for canceller in in_flight.values() {
            canceller.cancel();
        }
    }

    /// Registers the canceller of worker `worker`'s connection.
    pub fn register(&self, worker: usize, canceller: Box<dyn Canceller>) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(worker, canceller);
    }
}

/// A job of the run, in the order it may start.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    /// Jobs of this run it waits for.
    pub parents: BTreeSet<String>,
}

struct State {
    ready: BinaryHeap<Reverse<(usize, String)>>,
    waiting: BTreeMap<String, usize>,
    children: BTreeMap<String, Vec<String>>,
    order: BTreeMap<String, usize>,
    finished: BTreeSet<String>,
    running: usize,
    started: usize,
    results: Vec<NodeResult>,
}

/// What a worker is told to do with a job: `index` is its start number (1-based).
pub trait Execute: Sync {
    fn start(&self, worker: usize, index: usize, id: &str);
    fn execute(&self, worker: usize, id: &str) -> NodeResult;
    fn finish(&self, index: usize, result: &NodeResult);
    /// A job that will not run (its parent failed, or the run was cancelled).
    fn skipped(&self, result: &NodeResult);
}

/// Runs `jobs` (in a valid order) on `threads` workers.
pub fn run(
    jobs: &[Job],
    threads: usize,
    fail_fast: bool,
    cancel: &Cancel,
    executor: &dyn Execute,
) -> Vec<NodeResult> {
    let mut state = State {
        ready: BinaryHeap::new(),
        waiting: BTreeMap::new(),
        children: BTreeMap::new(),
        order: BTreeMap::new(),
        finished: BTreeSet::new(),
        running: 0,
        started: 0,
        results: Vec::new(),
    };
    for (position, job) in jobs.iter().enumerate() {
        state.order.insert(job.id.clone(), position);
        state.waiting.insert(job.id.clone(), job.parents.len());
        for parent in &job.parents {
            state
                .children
                .entry(parent.clone())
                .or_default()
                .push(job.id.clone());
        }
        if job.parents.is_empty() {
            state.ready.push(Reverse((position, job.id.clone())));
        }
    }
    let shared = (Mutex::new(state), Condvar::new());
    let total = jobs.len();
    std::thread::scope(|scope| {
        for worker in 0..threads.max(1).min(total.max(1)) {
            let shared = &shared;
            scope.spawn(move || work(worker, shared, total, fail_fast, cancel, executor));
        }
    });
    let (state, _) = shared;
    let mut state = state.into_inner().unwrap_or_else(PoisonError::into_inner);
    // Whatever never started is skipped when the run was stopped; otherwise it waited for
    // something that never finished, which must not pass unnoticed.
    for job in jobs {
        if !state.finished.contains(&job.id) {
            let result = if cancel.is_cancelled() {
                NodeResult::new(&job.id, Status::Skipped, "skipped: the run was stopped")
            } else {
                NodeResult::new(
                    &job.id,
                    Status::Error,
                    "never started: it waits for nodes that never finished",
                )
            };
            executor.skipped(&result);
            state.results.push(result);
        }
    }
    state.results
}

fn work(
    worker: usize,
    shared: &(Mutex<State>, Condvar),
    total: usize,
    fail_fast: bool,
    cancel: &Cancel,
    executor: &dyn Execute,
) {
    let (lock, ready) = shared;
    loop {
        let (id, index) = {
            let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if cancel.is_cancelled() || state.finished.len() == total {
                    ready.notify_all();
                    return;
                }
                if let Some(Reverse((_, id))) = state.ready.pop() {
                    state.running += 1;
                    state.started += 1;
                    break (id, state.started);
                }
                if state.running == 0 {
                    // Nothing runs and nothing is ready: every remaining job was skipped.
                    return;
                }
                state = ready.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        };
        executor.start(worker, index, &id);
        let result = executor.execute(worker, &id);
        executor.finish(index, &result);
        let failed = result.status.is_failure();
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        state.running -= 1;
        state.finished.insert(id.clone());
        state.results.push(result);
        if failed {
            skip_descendants(&mut state, &id, executor);
            if fail_fast {
                cancel.cancel();
            }
        } else {
            for child in state.children.get(&id).cloned().unwrap_or_default() {
                if state.finished.contains(&child) {
                    continue;
                }
                let remaining = state.waiting.entry(child.clone()).or_insert(1);
                *remaining -= 1;
                if *remaining == 0 {
                    let position = state.order[&child];
                    state.ready.push(Reverse((position, child)));
                }
            }
        }
        ready.notify_all();
    }
}

fn skip_descendants(state: &mut State, failed: &str, executor: &dyn Execute) {
    let mut stack = state.children.get(failed).cloned().unwrap_or_default();
    while let Some(id) = stack.pop() {
        if !state.finished.insert(id.clone()) {
            continue;
        }
        let parent = failed.rsplit('.').next().unwrap_or(failed);
        let result = NodeResult::new(
            &id,
            Status::Skipped,
            format!("skipped because {parent} failed"),
        );
        executor.skipped(&result);
        state.results.push(result);
        stack.extend(state.children.get(&id).cloned().unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        failing: &'static str,
        log: Mutex<Vec<String>>,
    }

    impl Execute for Fake {
        fn start(&self, _worker: usize, _index: usize, _id: &str) {}
        fn execute(&self, _worker: usize, id: &str) -> NodeResult {
            self.log.lock().unwrap().push(id.to_owned());
            if id == self.failing {
                NodeResult::new(id, Status::Error, "boom")
            } else {
                NodeResult::new(id, Status::Success, "OK")
            }
        }
        fn finish(&self, _index: usize, _result: &NodeResult) {}
        fn skipped(&self, _result: &NodeResult) {}
    }

    fn job(id: &str, parents: &[&str]) -> Job {
        Job {
            id: id.to_owned(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn a_failure_skips_descendants_only() {
        let jobs = [
            job("a", &[]),
            job("b", &["a"]),
            job("c", &["b"]),
            job("d", &[]),
            job("e", &["d"]),
        ];
        let fake = Fake {
            failing: "b",
            log: Mutex::new(Vec::new()),
        };
        let results = run(&jobs, 2, false, &Cancel::default(), &fake);
        let status = |id: &str| results.iter().find(|r| r.unique_id == id).unwrap().status;
        assert_eq!(status("a"), Status::Success);
        assert_eq!(status("b"), Status::Error);
        assert_eq!(status("c"), Status::Skipped);
        assert_eq!(status("d"), Status::Success);
        assert_eq!(status("e"), Status::Success);
        assert_eq!(results.len(), 5);
    }

    #[test]
    fn parents_finish_before_children_start() {
        let jobs = [
            job("a", &[]),
            job("b", &[]),
            job("c", &["a", "b"]),
            job("d", &["c"]),
        ];
        let fake = Fake {
            failing: "",
            log: Mutex::new(Vec::new()),
        };
        run(&jobs, 4, false, &Cancel::default(), &fake);
        let log = fake.log.into_inner().unwrap();
        let at = |id: &str| log.iter().position(|x| x == id).unwrap();
        assert!(
            at("c") > at("a") && at("c") > at("b") && at("d") > at("c"),
            "{log:?}"
        );
    }

    #[test]
    fn fail_fast_stops_new_work() {
        let jobs = [job("a", &[]), job("b", &["a"]), job("c", &["b"])];
        let fake = Fake {
            failing: "a",
            log: Mutex::new(Vec::new()),
        };
        let cancel = Cancel::default();
        let results = run(&jobs, 1, true, &cancel, &fake);
        assert!(cancel.is_cancelled());
        assert_eq!(fake.log.into_inner().unwrap(), ["a"]);
        assert_eq!(
            results
                .iter()
                .filter(|r| r.status == Status::Skipped)
                .count(),
            2
        );
    }
}
