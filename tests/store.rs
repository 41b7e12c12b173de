//! Store contract tests on the memory backend, and the fault wrapper around it.
//!
//! The backend-independent contract lives in `support/conformance.rs` and runs here
//! against the memory store (and in `store_postgres.rs` / `store_redis.rs` against
//! the real engines). The `memory` module tests what only the embedded backend has:
//! its name and latency model. The `faulty` module tests joblock's one fault
//! injector, `FaultyStore`, wrapped around a memory store.

use std::sync::Arc;
use std::time::Duration;

mod support;

use joblock::clock::Clock;
use joblock::store::{
    FaultKind, FaultyStore, MemoryConfig, MemoryStore, OpKind, Store, StoreError,
};
use serde_json::json;

/// A fresh memory store with no latency, so the contract tests take no time.
fn quiet_memory_store() -> MemoryStore {
    MemoryStore::new(Clock::virtual_time(), MemoryConfig::default(), 1)
}

all_conformance_tests!(memory_conformance, quiet_memory_store());

const SECOND: Duration = Duration::from_secs(1);

/// Runs `op` on a participant thread and returns its result and the scenario time
/// it took. Participants are what let virtual time jump over a store's sleep.
fn timed<T: Send + 'static>(
    clock: &Clock,
    op: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let c = clock.clone();
    clock
        .spawn("timed-op".into(), move || {
            let start = c.now();
            let out = op();
            (out, c.now() - start)
        })
        .unwrap()
        .join()
        .unwrap()
}

/// Lets virtual time run to `t` (nobody else is running, so it jumps there).
fn advance_to(clock: &Clock, t: Duration) {
    let c = clock.clone();
    clock
        .spawn("advance".into(), move || {
            let now = c.now();
            c.sleep(t.saturating_sub(now));
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(clock.now(), t);
}

/// Scenario time taken by each of `n` inserts through `store`.
fn insert_delays(clock: &Clock, store: Arc<dyn Store>, n: u64) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let s = Arc::clone(&store);
            let (r, d) = timed(clock, move || s.insert_one(json!({"_id": i})));
            r.unwrap();
            d
        })
        .collect()
}

/// Every non-insert operation once, each returning whether it succeeded.
fn every_other_op(store: &dyn Store) -> Vec<Result<(), StoreError>> {
    let id = json!({"_id": "probe"});
    vec![
        store.find_one(&id).map(drop),
        store.find_many(&id).map(drop),
        store.count(&id).map(drop),
        store.update_one(&id, &json!({"k": 1})).map(drop),
        store.update_many(&id, &json!({"k": 2})).map(drop),
        store.delete_one(&json!({"_id": "nothing"})).map(drop),
        store.delete_many(&json!({"_id": "nothing"})).map(drop),
    ]
}

fn unavailable(why: &str) -> StoreError {
    StoreError::Unavailable(why.to_string())
}

/// What only the memory backend has: its name and latency model (the simulated network).
mod memory {
    use super::*;

    fn on_virtual_clock(config: MemoryConfig, seed: u64) -> (Clock, Arc<MemoryStore>) {
        let clock = Clock::virtual_time();
        let store = Arc::new(MemoryStore::new(clock.clone(), config, seed));
        (clock, store)
    }

    #[test]
    fn name_is_memory_and_config_is_what_it_was_built_with() {
        let config = MemoryConfig {
            insert_latency: SECOND,
            op_latency: Duration::from_millis(3),
        };
        let store = MemoryStore::new(Clock::virtual_time(), config, 0);
        assert_eq!(store.name(), "memory");
        assert_eq!(store.config().insert_latency, SECOND);
        assert_eq!(store.config().op_latency, Duration::from_millis(3));
        assert_eq!(store.for_caller(5).name(), "memory");
    }

    #[test]
    fn clones_share_data_and_counts() {
        let store = quiet_memory_store();
        let clone = store.clone();
        clone.insert_one(json!({"_id": "a"})).unwrap();
        assert_eq!(store.count(&json!({"_id": "a"})).unwrap(), 1);
        assert_eq!(store.op_counts(), clone.op_counts());
        assert_eq!(store.op_counts().total(), 2);
    }

    #[test]
    fn racing_inserts_with_real_insert_latency_still_have_exactly_one_winner() {
        // 1 s of scenario latency at speed 1000 is up to 1 ms of real time: enough to
        // interleave the racers without making the test slow.
        let store = MemoryStore::new(
            Clock::real(1000.0),
            MemoryConfig {
                insert_latency: SECOND,
                op_latency: Duration::ZERO,
            },
            3,
        );
        support::conformance::racing_inserts_of_one_id_have_exactly_one_winner(&store);
    }

    #[test]
    fn insert_latency_delays_inserts_by_less_than_its_maximum_and_nothing_else() {
        let config = MemoryConfig {
            insert_latency: SECOND,
            op_latency: Duration::ZERO,
        };
        let (clock, store) = on_virtual_clock(config, 7);
        let delays = insert_delays(&clock, store.clone(), 5);
        assert!(delays.iter().all(|d| *d < SECOND), "{delays:?}");
        assert!(delays.iter().any(|d| !d.is_zero()), "{delays:?}");

        let s = Arc::clone(&store);
        let (r, d) = timed(&clock, move || {
            s.insert_many(vec![json!({"_id": "m1"}), json!({"_id": "m2"})])
        });
        r.unwrap();
        assert!(d < SECOND);

        let s = Arc::clone(&store);
        let (found, d) = timed(&clock, move || s.find_one(&json!({"_id": 0})));
        assert!(found.unwrap().is_some());
        assert_eq!(d, Duration::ZERO);

        let s = Arc::clone(&store);
        let (results, d) = timed(&clock, move || every_other_op(&*s));
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(d, Duration::ZERO);
    }

    #[test]
    fn op_latency_delays_every_other_operation_but_not_inserts() {
        let config = MemoryConfig {
            insert_latency: Duration::ZERO,
            op_latency: SECOND,
        };
        let (clock, store) = on_virtual_clock(config, 7);
        assert_eq!(
            insert_delays(&clock, store.clone(), 3),
            vec![Duration::ZERO; 3]
        );
        let mut total = Duration::ZERO;
        for _ in 0..5 {
            let s = Arc::clone(&store);
            let (found, d) = timed(&clock, move || s.find_one(&json!({"_id": 1})));
            assert!(found.unwrap().is_some());
            assert!(d < SECOND, "{d:?}");
            total += d;
        }
        assert!(!total.is_zero());
        let s = Arc::clone(&store);
        let (results, d) = timed(&clock, move || every_other_op(&*s));
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert!(d < 7 * SECOND, "seven operations, each under 1 s: {d:?}");
    }

    #[test]
    fn latency_draws_are_reproducible_from_the_seed() {
        let config = MemoryConfig {
            insert_latency: SECOND,
            op_latency: SECOND,
        };
        let draws = |seed| {
            let (clock, store) = on_virtual_clock(config, seed);
            insert_delays(&clock, store, 6)
        };
        assert_eq!(draws(42), draws(42));
        assert_ne!(draws(42), draws(43));
    }

    #[test]
    fn a_for_caller_handle_draws_like_a_fresh_store_with_that_seed() {
        let config = MemoryConfig {
            insert_latency: SECOND,
            op_latency: Duration::ZERO,
        };
        let (clock_a, store_a) = on_virtual_clock(config, 1);
        let handle = store_a.for_caller(99);
        let (clock_b, store_b) = on_virtual_clock(config, 99);
        assert_eq!(
            insert_delays(&clock_a, handle, 6),
            insert_delays(&clock_b, store_b, 6)
        );
    }
}

/// The fault wrapper around a memory store: joblock's one fault injector.
mod faulty {
    use super::*;

    /// A memory store with no latency of its own on a virtual clock, wrapped for
    /// fault injection (`seed` seeds the wrapper's fault draws), and the store inside.
    fn faulty_store(seed: u64) -> (Clock, Arc<FaultyStore>, Arc<MemoryStore>) {
        let clock = Clock::virtual_time();
        let memory = Arc::new(MemoryStore::new(clock.clone(), MemoryConfig::default(), 1));
        let store = FaultyStore::new(memory.clone(), seed).with_clock(clock.clone());
        (clock, Arc::new(store), memory)
    }

    #[test]
    fn failed_operations_never_reach_the_store_but_are_still_counted() {
        let (_, store, memory) = faulty_store(5);
        let handle = store.for_caller(2);
        store.faults().fail_next(3);
        assert!(store.insert_one(json!({"_id": 1})).is_err());
        assert!(handle.find_one(&json!({})).is_err());
        assert!(store.delete_many(&json!({})).is_err());
        assert_eq!(memory.op_counts().total(), 0, "the store saw none of them");
        // Issued all the same, and a store counts the calls that failed: the run
        // summary's store operations include them, whichever handle issued them.
        for counts in [store.op_counts(), handle.op_counts()] {
            assert_eq!(counts.get(OpKind::InsertOne), 1);
            assert_eq!(counts.get(OpKind::FindOne), 1);
            assert_eq!(counts.get(OpKind::DeleteMany), 1);
            assert_eq!(counts.total(), 3);
        }
        // An operation that goes through is counted once, by the store.
        assert_eq!(handle.count(&json!({})), Ok(0));
        assert_eq!(memory.op_counts().total(), 1);
        assert_eq!(store.op_counts().total(), 4);
        assert_eq!(store.op_counts().get(OpKind::Count), 1);
    }

    /// How many faults of `kind` the wrapper injected.
    fn injected(store: &FaultyStore, kind: FaultKind) -> u64 {
        let by_kind = store.faults().injected_by_kind();
        by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    #[test]
    fn latency_delays_every_operation_and_zero_turns_it_off() {
        let (clock, store, _) = faulty_store(11);
        store.faults().set_latency(SECOND);
        let mut delays = insert_delays(&clock, store.clone(), 4);
        assert!(delays.iter().all(|d| *d < SECOND), "{delays:?}");
        assert!(delays.iter().any(|d| !d.is_zero()), "{delays:?}");
        for _ in 0..4 {
            let s = Arc::clone(&store);
            let (r, d) = timed(&clock, move || s.count(&json!({})));
            assert_eq!(r.unwrap(), 4);
            assert!(d < SECOND);
            delays.push(d);
        }
        assert!(delays[4..].iter().any(|d| !d.is_zero()), "{delays:?}");
        // Latency is a fault kind of the wrapper's: each delayed operation counts.
        let delayed = delays.iter().filter(|d| !d.is_zero()).count() as u64;
        assert_eq!(injected(&store, FaultKind::Latency), delayed);
        assert_eq!(store.faults().injected(), delayed);

        store.faults().set_latency(Duration::ZERO);
        let s = Arc::clone(&store);
        let (_, d) = timed(&clock, move || every_other_op(&*s));
        assert_eq!(d, Duration::ZERO);
        assert_eq!(store.faults().injected(), delayed);
    }

    #[test]
    fn fail_next_fails_exactly_that_many_operations_without_applying_them() {
        let (_, store, _) = faulty_store(1);
        store.faults().fail_next(2);
        assert_eq!(
            store.insert_one(json!({"_id": "a"})),
            Err(unavailable("injected failure"))
        );
        assert_eq!(
            store.insert_many(vec![json!({"_id": "b"})]),
            Err(unavailable("injected failure"))
        );
        store.insert_one(json!({"_id": "c"})).unwrap();
        assert_eq!(store.find_one(&json!({"_id": "a"})).unwrap(), None);
        assert_eq!(store.find_one(&json!({"_id": "b"})).unwrap(), None);
        assert_eq!(store.count(&json!({})).unwrap(), 1);
        assert_eq!(store.faults().injected(), 2);
    }

    #[test]
    fn injected_failures_of_updates_and_deletes_leave_the_data_unchanged() {
        let (_, store, _) = faulty_store(1);
        store.insert_one(json!({"_id": "a", "k": 0})).unwrap();
        store.faults().fail_next(4);
        let set = json!({"k": 1});
        assert!(store.update_one(&json!({"_id": "a"}), &set).is_err());
        assert!(store.update_many(&json!({}), &set).is_err());
        assert!(store.delete_one(&json!({"_id": "a"})).is_err());
        assert!(store.delete_many(&json!({})).is_err());
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "k": 0})]
        );
        assert_eq!(store.faults().injected(), 4);
    }

    #[test]
    fn outage_fails_every_operation_until_its_end_in_scenario_time() {
        let (clock, store, _) = faulty_store(5);
        store.faults().outage_until(Some(10 * SECOND));
        assert_eq!(
            store.insert_one(json!({"_id": "a"})),
            Err(unavailable("outage"))
        );
        assert!(
            every_other_op(&*store)
                .iter()
                .all(|r| *r == Err(unavailable("outage")))
        );
        advance_to(&clock, 5 * SECOND);
        assert_eq!(store.count(&json!({})), Err(unavailable("outage")));
        advance_to(&clock, 10 * SECOND);
        assert_eq!(
            store.count(&json!({})),
            Ok(0),
            "the failed insert left nothing"
        );
        store.insert_one(json!({"_id": "a"})).unwrap();
        assert_eq!(injected(&store, FaultKind::Outage), 9);
        assert_eq!(store.faults().injected(), 9);
    }

    #[test]
    fn outage_until_none_ends_an_outage_early() {
        let (_, store, _) = faulty_store(1);
        store.faults().outage_until(Some(3600 * SECOND));
        assert!(store.count(&json!({})).is_err());
        store.faults().outage_until(None);
        assert_eq!(store.count(&json!({})), Ok(0));
    }

    #[test]
    fn fail_probability_one_fails_everything_and_zero_nothing() {
        let (_, store, _) = faulty_store(1);
        store.faults().set_fail_probability(1.0);
        assert!(store.insert_one(json!({"_id": 1})).is_err());
        assert!(
            every_other_op(&*store)
                .iter()
                .all(|r| *r == Err(unavailable("injected failure")))
        );
        store.faults().set_fail_probability(0.0);
        store.insert_one(json!({"_id": 1})).unwrap();
        assert!(every_other_op(&*store).iter().all(Result::is_ok));
        assert_eq!(store.faults().injected(), 8);
    }

    #[test]
    fn fail_probability_is_clamped_to_zero_and_one_and_nan_is_off() {
        let (_, store, _) = faulty_store(3);
        store.faults().set_fail_probability(5.0);
        assert!(every_other_op(&*store).iter().all(Result::is_err));
        store.faults().set_fail_probability(-5.0);
        assert!(every_other_op(&*store).iter().all(Result::is_ok));
        store.faults().set_fail_probability(f64::NAN);
        assert!(every_other_op(&*store).iter().all(Result::is_ok));
    }

    #[test]
    fn fail_probability_between_fails_some_operations_reproducibly() {
        let failures = |seed| {
            let (_, store, _) = faulty_store(seed);
            store.faults().set_fail_probability(0.5);
            let pattern: Vec<bool> = (0..200).map(|_| store.count(&json!({})).is_err()).collect();
            let failed = pattern.iter().filter(|f| **f).count() as u64;
            assert_eq!(store.faults().injected(), failed);
            pattern
        };
        let pattern = failures(21);
        let failed = pattern.iter().filter(|f| **f).count();
        assert!(failed > 0 && failed < 200, "{failed}");
        assert_eq!(failures(21), pattern, "same seed, same failures");
    }

    #[test]
    fn clear_turns_every_fault_off_but_keeps_the_injected_tally() {
        let (clock, store, _) = faulty_store(5);
        let faults = store.faults();
        faults.set_latency(SECOND);
        faults.fail_next(10);
        faults.set_fail_probability(1.0);
        faults.outage_until(Some(3600 * SECOND));
        assert_eq!(store.count(&json!({})), Err(unavailable("outage")));
        // The outage strikes first; the latency drawn before it is a fault too.
        let tally = faults.injected();
        assert_eq!(injected(&store, FaultKind::Outage), 1);
        assert_eq!(injected(&store, FaultKind::Fail), 0);
        assert_eq!(tally, 1 + injected(&store, FaultKind::Latency));
        faults.clear();
        let s = Arc::clone(&store);
        let (results, d) = timed(&clock, move || every_other_op(&*s));
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(d, Duration::ZERO, "latency is off");
        assert_eq!(faults.injected(), tally);
    }

    #[test]
    fn faults_reach_every_for_caller_handle() {
        let (_, store, _) = faulty_store(1);
        let handle = store.for_caller(8);
        store.faults().fail_next(1);
        assert_eq!(
            handle.insert_one(json!({"_id": "x"})),
            Err(unavailable("injected failure"))
        );
        assert_eq!(store.count(&json!({})), Ok(0));
        assert_eq!(store.faults().injected(), 1);
    }
}
