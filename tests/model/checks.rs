//! The ways the tests run the model: every property in every interleaving, the hunt
//! for given violations in a variant that must have them, the release-error check,
//! and the liveness check on the explicit state graph.

use std::time::Instant;

use stateright::{Checker, HasDiscoveries, Model};

use crate::explorer::{Explorer, StepPredicate};
use crate::lock_model::LockModel;
use crate::properties::{A, B, C1, C2, committed_is_finished_records};

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Explores every interleaving of `model`; prints the state counts under `name`.
fn explore_all(model: LockModel, name: &str) -> impl Checker<LockModel> {
    let start = Instant::now();
    let checker = model.checker().threads(threads()).spawn_bfs().join();
    println!(
        "{name}: {} unique states ({} generated, max depth {}) in {:?}",
        checker.unique_state_count(),
        checker.state_count(),
        checker.max_depth(),
        start.elapsed()
    );
    checker
}

/// Checks every property of `model` in every interleaving; prints the state counts.
pub fn check_all_properties(model: LockModel, name: &str) {
    explore_all(model, name).assert_properties();
}

/// Explores a variant that must break `properties` until it has broken all of them
/// (no further: a broken model's full state space is of no interest).
pub fn discover(model: LockModel, properties: &[&'static str]) -> impl Checker<LockModel> {
    model
        .checker()
        .threads(threads())
        .finish_when(HasDiscoveries::AllOf(properties.iter().copied().collect()))
        .spawn_bfs()
        .join()
}

/// With release errors (`by` says whose), no property that guards data may break:
/// (a), (b) and (c1). A committed record reported as fenced, (c2), is a reporting
/// gap, not a loss, so its shortest schedule is printed rather than failed on.
pub fn assert_release_errors_lose_no_record(model: LockModel, name: &str, by: &str) {
    let checker = explore_all(model, name);
    for p in [A, B, C1] {
        if let Some(path) = checker.discovery(p) {
            panic!("{p} broken by {by}:\n{path}");
        }
    }
    if checker.discovery(C2).is_some() {
        let schedule = Explorer::shortest(&model, |s| !committed_is_finished_records(s));
        println!(
            "{name}: a committed record reported as fenced:\n{}",
            schedule.expect("found by the explorer too")
        );
    }
}

/// Liveness: stateright's `eventually` ignores paths that end in a cycle, and the
/// waiters' polling makes this state graph cyclic. So check it directly: from every
/// reachable state (whatever faults led there), fault-free steps alone can still
/// bring every worker to an end state; no kill or crash wedges the lock. Returns how
/// many steps of the state graph `count` holds for.
pub fn assert_every_worker_can_still_end(
    model: &LockModel,
    name: &str,
    count: StepPredicate,
) -> usize {
    let start = Instant::now();
    let (explorer, _) = Explorer::explore(model, |_| false, count);
    println!(
        "{name} liveness: {} states in {:?}",
        explorer.states.len(),
        start.elapsed()
    );
    assert_eq!(explorer.stuck_state(), None);
    explorer.counted
}
