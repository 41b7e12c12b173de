//! Store contract tests.
//!
//! `conformance` holds backend-independent test bodies: each takes `&dyn Store`,
//! assumes the store starts empty, and checks only what DESIGN.md §2 promises, so the
//! same bodies can later run against PostgreSQL and Redis by adding one more
//! `conformance_suite!` invocation with that backend's constructor. The `memory`
//! module tests what only the embedded backend has: the latency model and faults.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use joblock::clock::Clock;
use joblock::store::{MemoryConfig, MemoryStore, OpKind, Store, StoreError};
use serde_json::{Value, json};

/// Backend-independent bodies of the store contract.
mod conformance {
    use super::*;

    fn ids(docs: &[Value]) -> Vec<Value> {
        docs.iter().map(|d| d["_id"].clone()).collect()
    }

    fn all_ids(store: &dyn Store) -> Vec<Value> {
        ids(&store.find_many(&json!({})).unwrap())
    }

    fn is_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
        matches!(r, Err(StoreError::Invalid(_)))
    }

    fn seed(store: &dyn Store, docs: Value) {
        let Value::Array(docs) = docs else {
            panic!("seed takes an array")
        };
        for doc in docs {
            store.insert_one(doc).unwrap();
        }
    }

    pub fn insert_one_then_find_one_returns_the_document(store: &dyn Store) {
        let doc = json!({"_id": "a", "owner": "w1", "n": 3, "meta": {"x": [1, 2]}});
        store.insert_one(doc.clone()).unwrap();
        assert_eq!(store.find_one(&json!({"_id": "a"})).unwrap(), Some(doc));
    }

    pub fn insert_one_rejects_a_non_object_document(store: &dyn Store) {
        for bad in [json!([1]), json!("a"), json!(null), json!(7)] {
            assert!(is_invalid(store.insert_one(bad.clone())), "{bad}");
        }
        assert_eq!(store.count(&json!({})).unwrap(), 0);
    }

    pub fn insert_one_rejects_a_document_without_id(store: &dyn Store) {
        assert!(is_invalid(store.insert_one(json!({"owner": "w1"}))));
        assert_eq!(store.count(&json!({})).unwrap(), 0);
    }

    pub fn insert_one_of_an_existing_id_is_a_duplicate_key_and_changes_nothing(store: &dyn Store) {
        store.insert_one(json!({"_id": "a", "v": 1})).unwrap();
        assert_eq!(
            store.insert_one(json!({"_id": "a", "v": 2})),
            Err(StoreError::DuplicateKey("\"a\"".to_string()))
        );
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "v": 1})]
        );
    }

    pub fn ids_are_compared_as_json_values(store: &dyn Store) {
        store.insert_one(json!({"_id": 1})).unwrap();
        store.insert_one(json!({"_id": "1"})).unwrap();
        store.insert_one(json!({"_id": {"k": [1, "x"]}})).unwrap();
        assert!(matches!(
            store.insert_one(json!({"_id": 1})),
            Err(StoreError::DuplicateKey(_))
        ));
        assert!(matches!(
            store.insert_one(json!({"_id": {"k": [1, "x"]}})),
            Err(StoreError::DuplicateKey(_))
        ));
        assert_eq!(store.count(&json!({"_id": 1})).unwrap(), 1);
        assert_eq!(store.count(&json!({"_id": {"k": [1, "x"]}})).unwrap(), 1);
    }

    pub fn find_one_returns_none_when_nothing_matches(store: &dyn Store) {
        assert_eq!(store.find_one(&json!({})).unwrap(), None);
        seed(store, json!([{"_id": "a", "k": 1}]));
        assert_eq!(store.find_one(&json!({"k": 2})).unwrap(), None);
        assert_eq!(store.find_one(&json!({"_id": "b"})).unwrap(), None);
    }

    pub fn find_one_returns_the_first_match_in_insertion_order(store: &dyn Store) {
        seed(
            store,
            json!([{"_id": "z", "k": 0}, {"_id": "m", "k": 1}, {"_id": "a", "k": 1}]),
        );
        assert_eq!(
            store.find_one(&json!({"k": 1})).unwrap(),
            Some(json!({"_id": "m", "k": 1}))
        );
    }

    pub fn find_many_returns_every_match_in_insertion_order(store: &dyn Store) {
        seed(
            store,
            json!([
                {"_id": "c", "k": 1}, {"_id": "b", "k": 2}, {"_id": "a", "k": 1}, {"_id": "d", "k": 1}
            ]),
        );
        assert_eq!(
            ids(&store.find_many(&json!({"k": 1})).unwrap()),
            vec![json!("c"), json!("a"), json!("d")]
        );
        assert!(store.find_many(&json!({"k": 3})).unwrap().is_empty());
    }

    pub fn count_returns_how_many_documents_match(store: &dyn Store) {
        seed(
            store,
            json!([{"_id": 1, "k": "x"}, {"_id": 2, "k": "y"}, {"_id": 3, "k": "x"}]),
        );
        assert_eq!(store.count(&json!({"k": "x"})).unwrap(), 2);
        assert_eq!(store.count(&json!({"k": "z"})).unwrap(), 0);
        assert_eq!(store.count(&json!({"_id": 2})).unwrap(), 1);
        assert_eq!(store.count(&json!({"_id": 2, "k": "x"})).unwrap(), 0);
    }

    pub fn empty_filter_matches_every_document(store: &dyn Store) {
        seed(store, json!([{"_id": 1}, {"_id": 2, "owner": null}]));
        assert_eq!(store.count(&json!({})).unwrap(), 2);
        assert_eq!(all_ids(store), vec![json!(1), json!(2)]);
    }

    pub fn null_filter_matches_an_explicit_null_but_never_a_missing_key(store: &dyn Store) {
        seed(
            store,
            json!([{"_id": "missing"}, {"_id": "null", "owner": null}, {"_id": "set", "owner": "w"}]),
        );
        assert_eq!(
            ids(&store.find_many(&json!({"owner": null})).unwrap()),
            vec![json!("null")]
        );
    }

    pub fn every_filter_key_must_match(store: &dyn Store) {
        seed(
            store,
            json!([
                {"_id": "a", "owner": "w1", "gen": 1},
                {"_id": "b", "owner": "w1", "gen": 2},
                {"_id": "c", "owner": "w2", "gen": 1}
            ]),
        );
        assert_eq!(
            ids(&store.find_many(&json!({"owner": "w1", "gen": 1})).unwrap()),
            vec![json!("a")]
        );
        // An `_id` hit whose other fields differ is not a match.
        assert_eq!(
            store.find_one(&json!({"_id": "a", "gen": 2})).unwrap(),
            None
        );
        assert_eq!(store.count(&json!({"owner": "w1", "extra": 1})).unwrap(), 0);
    }

    pub fn every_filtering_operation_rejects_a_non_object_filter(store: &dyn Store) {
        seed(store, json!([{"_id": "a", "k": 1}]));
        for bad in [json!([1]), json!(null), json!("a"), json!(1)] {
            assert!(is_invalid(store.find_one(&bad)), "find_one {bad}");
            assert!(is_invalid(store.find_many(&bad)), "find_many {bad}");
            assert!(is_invalid(store.count(&bad)), "count {bad}");
            assert!(is_invalid(store.update_one(&bad, &json!({"k": 2}))));
            assert!(is_invalid(store.update_many(&bad, &json!({"k": 2}))));
            assert!(is_invalid(store.delete_one(&bad)), "delete_one {bad}");
            assert!(is_invalid(store.delete_many(&bad)), "delete_many {bad}");
        }
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "k": 1})]
        );
    }

    pub fn updates_reject_a_set_that_changes_id_or_is_not_an_object(store: &dyn Store) {
        seed(store, json!([{"_id": "a", "k": 1}]));
        for bad in [
            json!({"_id": "b"}),
            json!({"_id": "a"}),
            json!({"k": 2, "_id": "b"}),
        ] {
            assert!(is_invalid(store.update_one(&json!({}), &bad)), "{bad}");
            assert!(is_invalid(store.update_many(&json!({}), &bad)), "{bad}");
        }
        for bad in [json!([["k", 2]]), json!(null), json!(2)] {
            assert!(is_invalid(store.update_one(&json!({}), &bad)), "{bad}");
            assert!(is_invalid(store.update_many(&json!({}), &bad)), "{bad}");
        }
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "k": 1})]
        );
    }

    pub fn update_one_sets_fields_on_the_first_match_only_and_returns_it(store: &dyn Store) {
        seed(
            store,
            json!([
                {"_id": "c", "owner": null, "n": 1},
                {"_id": "a", "owner": null, "n": 2},
                {"_id": "b", "owner": null, "n": 3}
            ]),
        );
        let updated = store
            .update_one(&json!({"owner": null}), &json!({"owner": "w1", "since": 5}))
            .unwrap();
        assert_eq!(
            updated,
            Some(json!({"_id": "c", "owner": "w1", "n": 1, "since": 5}))
        );
        assert_eq!(
            store.find_one(&json!({"_id": "c"})).unwrap(),
            updated,
            "the returned document is what was stored"
        );
        assert_eq!(
            ids(&store.find_many(&json!({"owner": null})).unwrap()),
            vec![json!("a"), json!("b")]
        );
    }

    pub fn update_one_by_id_touches_only_that_document(store: &dyn Store) {
        seed(store, json!([{"_id": "a", "g": 1}, {"_id": "b", "g": 1}]));
        assert_eq!(
            store
                .update_one(&json!({"_id": "b", "g": 1}), &json!({"g": 2}))
                .unwrap(),
            Some(json!({"_id": "b", "g": 2}))
        );
        // The compare-and-set shape the lock relies on: a stale `g` matches nothing.
        assert_eq!(
            store
                .update_one(&json!({"_id": "b", "g": 1}), &json!({"g": 3}))
                .unwrap(),
            None
        );
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "g": 1}), json!({"_id": "b", "g": 2})]
        );
    }

    pub fn update_one_returns_none_and_creates_nothing_when_nothing_matches(store: &dyn Store) {
        seed(store, json!([{"_id": "a", "k": 1}]));
        assert_eq!(
            store
                .update_one(&json!({"_id": "zz"}), &json!({"k": 2}))
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .update_one(&json!({"k": 9}), &json!({"k": 2}))
                .unwrap(),
            None
        );
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "k": 1})]
        );
    }

    pub fn update_many_sets_fields_on_every_match_and_returns_the_count(store: &dyn Store) {
        seed(
            store,
            json!([{"_id": 1, "k": "x"}, {"_id": 2, "k": "y"}, {"_id": 3, "k": "x"}]),
        );
        assert_eq!(
            store
                .update_many(&json!({"k": "x"}), &json!({"done": true}))
                .unwrap(),
            2
        );
        assert_eq!(
            ids(&store.find_many(&json!({"done": true})).unwrap()),
            vec![json!(1), json!(3)]
        );
        assert_eq!(
            store.find_one(&json!({"_id": 2})).unwrap(),
            Some(json!({"_id": 2, "k": "y"}))
        );
        assert_eq!(
            store
                .update_many(&json!({"k": "none"}), &json!({"done": true}))
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .update_many(&json!({"_id": 2}), &json!({"k": "x"}))
                .unwrap(),
            1
        );
    }

    pub fn delete_one_deletes_only_the_first_match_and_keeps_the_order_of_the_rest(
        store: &dyn Store,
    ) {
        seed(
            store,
            json!([
                {"_id": "a", "k": 0}, {"_id": "b", "k": 1}, {"_id": "c", "k": 0},
                {"_id": "d", "k": 1}, {"_id": "e", "k": 0}
            ]),
        );
        assert_eq!(store.delete_one(&json!({"k": 1})).unwrap(), 1);
        assert_eq!(
            all_ids(store),
            vec![json!("a"), json!("c"), json!("d"), json!("e")]
        );
        assert_eq!(store.delete_one(&json!({"_id": "c"})).unwrap(), 1);
        assert_eq!(all_ids(store), vec![json!("a"), json!("d"), json!("e")]);
        assert_eq!(
            store.find_one(&json!({"k": 0})).unwrap(),
            Some(json!({"_id": "a", "k": 0}))
        );
    }

    pub fn delete_one_returns_zero_when_nothing_matches(store: &dyn Store) {
        seed(store, json!([{"_id": "a", "k": 0}]));
        assert_eq!(store.delete_one(&json!({"k": 1})).unwrap(), 0);
        assert_eq!(store.delete_one(&json!({"_id": "a", "k": 1})).unwrap(), 0);
        assert_eq!(store.delete_one(&json!({"_id": "b"})).unwrap(), 0);
        assert_eq!(store.count(&json!({})).unwrap(), 1);
    }

    pub fn delete_many_returns_the_count_and_keeps_the_order_of_the_rest(store: &dyn Store) {
        seed(
            store,
            json!([
                {"_id": "a", "k": 0}, {"_id": "b", "k": 1}, {"_id": "c", "k": 0},
                {"_id": "d", "k": 1}, {"_id": "e", "k": 0}
            ]),
        );
        assert_eq!(store.delete_many(&json!({"k": 0})).unwrap(), 3);
        assert_eq!(all_ids(store), vec![json!("b"), json!("d")]);
        assert_eq!(store.delete_many(&json!({"k": 0})).unwrap(), 0);
        assert_eq!(store.delete_many(&json!({"_id": "d"})).unwrap(), 1);
        assert_eq!(store.delete_many(&json!({})).unwrap(), 1);
        assert_eq!(store.count(&json!({})).unwrap(), 0);
    }

    pub fn a_deleted_id_can_be_inserted_again_and_then_comes_last(store: &dyn Store) {
        seed(store, json!([{"_id": "a"}, {"_id": "b"}]));
        assert_eq!(store.delete_one(&json!({"_id": "a"})).unwrap(), 1);
        store
            .insert_one(json!({"_id": "a", "again": true}))
            .unwrap();
        assert_eq!(all_ids(store), vec![json!("b"), json!("a")]);
    }

    pub fn insert_many_inserts_every_document_in_order(store: &dyn Store) {
        seed(store, json!([{"_id": "first"}]));
        store
            .insert_many(vec![
                json!({"_id": "x", "n": 1}),
                json!({"_id": "y", "n": 2}),
            ])
            .unwrap();
        assert_eq!(all_ids(store), vec![json!("first"), json!("x"), json!("y")]);
        assert_eq!(
            store.find_one(&json!({"_id": "y"})).unwrap(),
            Some(json!({"_id": "y", "n": 2}))
        );
    }

    pub fn insert_many_of_an_empty_batch_changes_nothing(store: &dyn Store) {
        store.insert_many(Vec::new()).unwrap();
        assert_eq!(store.count(&json!({})).unwrap(), 0);
    }

    pub fn insert_many_rolls_back_when_a_later_document_is_a_duplicate(store: &dyn Store) {
        seed(store, json!([{"_id": "b", "old": true}]));
        let batch = vec![
            json!({"_id": "x"}),
            json!({"_id": "y"}),
            json!({"_id": "b", "old": false}),
            json!({"_id": "z"}),
        ];
        assert_eq!(
            store.insert_many(batch),
            Err(StoreError::DuplicateKey("\"b\"".to_string()))
        );
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "b", "old": true})]
        );
        // The rolled-back ids are free again.
        store.insert_one(json!({"_id": "x"})).unwrap();
    }

    pub fn insert_many_rolls_back_when_the_batch_repeats_an_id(store: &dyn Store) {
        seed(store, json!([{"_id": "keep"}]));
        let batch = vec![
            json!({"_id": "p"}),
            json!({"_id": "q"}),
            json!({"_id": "p", "second": true}),
        ];
        assert_eq!(
            store.insert_many(batch),
            Err(StoreError::DuplicateKey("\"p\"".to_string()))
        );
        assert_eq!(all_ids(store), vec![json!("keep")]);
    }

    pub fn insert_many_rolls_back_when_a_document_is_invalid(store: &dyn Store) {
        seed(store, json!([{"_id": "keep"}]));
        for bad in [json!("not an object"), json!({"no_id": 1}), json!([1])] {
            let batch = vec![json!({"_id": "p"}), json!({"_id": "q"}), bad.clone()];
            assert!(is_invalid(store.insert_many(batch)), "{bad}");
            assert_eq!(all_ids(store), vec![json!("keep")], "{bad}");
        }
    }

    pub fn op_counts_count_every_call_by_kind_including_failed_ones(store: &dyn Store) {
        let before = store.op_counts();
        store.insert_one(json!({"_id": 1, "k": 0})).unwrap();
        store.insert_one(json!({"_id": 2, "k": 0})).unwrap();
        let _ = store.insert_one(json!({"_id": 1})); // duplicate
        let _ = store.insert_one(json!([])); // invalid
        store.insert_many(vec![json!({"_id": 3, "k": 1})]).unwrap();
        store.find_one(&json!({"_id": 1})).unwrap();
        let _ = store.find_one(&json!(null)); // invalid
        store.find_many(&json!({})).unwrap();
        store.count(&json!({"k": 0})).unwrap();
        store
            .update_one(&json!({"_id": 1}), &json!({"k": 5}))
            .unwrap();
        let _ = store.update_one(&json!({}), &json!({"_id": 9})); // invalid
        store
            .update_many(&json!({"k": 0}), &json!({"k": 6}))
            .unwrap();
        store.delete_one(&json!({"_id": 3})).unwrap();
        store.delete_many(&json!({"k": 6})).unwrap();
        store.delete_many(&json!({})).unwrap();
        let after = store.op_counts();
        let expected = [
            (OpKind::InsertOne, 4),
            (OpKind::InsertMany, 1),
            (OpKind::FindOne, 2),
            (OpKind::FindMany, 1),
            (OpKind::Count, 1),
            (OpKind::UpdateOne, 2),
            (OpKind::UpdateMany, 1),
            (OpKind::DeleteOne, 1),
            (OpKind::DeleteMany, 2),
        ];
        for (kind, n) in expected {
            assert_eq!(after.get(kind) - before.get(kind), n, "{}", kind.name());
        }
        assert_eq!(after.total() - before.total(), 15);
    }

    pub fn for_caller_handles_share_data_and_op_counts(store: &dyn Store) {
        let a = store.for_caller(1);
        let b = store.for_caller(2);
        assert_eq!(a.name(), store.name());
        let before = store.op_counts().total();
        a.insert_one(json!({"_id": "shared", "by": "a"})).unwrap();
        assert_eq!(
            b.find_one(&json!({"_id": "shared"})).unwrap(),
            Some(json!({"_id": "shared", "by": "a"}))
        );
        assert!(matches!(
            b.insert_one(json!({"_id": "shared"})),
            Err(StoreError::DuplicateKey(_))
        ));
        assert_eq!(b.delete_one(&json!({"_id": "shared"})).unwrap(), 1);
        assert_eq!(store.count(&json!({})).unwrap(), 0);
        // 4 calls on handles + the count above, visible from every handle.
        assert_eq!(store.op_counts().total() - before, 5);
        assert_eq!(a.op_counts(), b.op_counts());
        assert_eq!(a.op_counts(), store.op_counts());
    }

    pub fn racing_inserts_of_one_id_have_exactly_one_winner(store: &dyn Store) {
        const RACERS: usize = 32;
        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let handle = store.for_caller(i as u64 + 100);
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    handle.insert_one(json!({"_id": "job-lock", "owner": i}))
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<usize> = (0..RACERS).filter(|&i| results[i].is_ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for (i, r) in results.iter().enumerate() {
            if i != winners[0] {
                assert_eq!(
                    r,
                    &Err(StoreError::DuplicateKey("\"job-lock\"".to_string()))
                );
            }
        }
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "job-lock", "owner": winners[0]})],
            "the stored document is the winner's"
        );
    }
}

/// Runs each named conformance body against a fresh store from `$make`.
macro_rules! conformance_suite {
    ($suite:ident, $make:expr, [$($name:ident),* $(,)?]) => {
        mod $suite {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let store = $make;
                    conformance::$name(&store);
                }
            )*
        }
    };
}

/// A fresh memory store with no latency, so the contract tests take no time.
fn quiet_memory_store() -> MemoryStore {
    MemoryStore::new(Clock::virtual_time(), MemoryConfig::default(), 1)
}

conformance_suite!(
    memory_conformance,
    quiet_memory_store(),
    [
        insert_one_then_find_one_returns_the_document,
        insert_one_rejects_a_non_object_document,
        insert_one_rejects_a_document_without_id,
        insert_one_of_an_existing_id_is_a_duplicate_key_and_changes_nothing,
        ids_are_compared_as_json_values,
        find_one_returns_none_when_nothing_matches,
        find_one_returns_the_first_match_in_insertion_order,
        find_many_returns_every_match_in_insertion_order,
        count_returns_how_many_documents_match,
        empty_filter_matches_every_document,
        null_filter_matches_an_explicit_null_but_never_a_missing_key,
        every_filter_key_must_match,
        every_filtering_operation_rejects_a_non_object_filter,
        updates_reject_a_set_that_changes_id_or_is_not_an_object,
        update_one_sets_fields_on_the_first_match_only_and_returns_it,
        update_one_by_id_touches_only_that_document,
        update_one_returns_none_and_creates_nothing_when_nothing_matches,
        update_many_sets_fields_on_every_match_and_returns_the_count,
        delete_one_deletes_only_the_first_match_and_keeps_the_order_of_the_rest,
        delete_one_returns_zero_when_nothing_matches,
        delete_many_returns_the_count_and_keeps_the_order_of_the_rest,
        a_deleted_id_can_be_inserted_again_and_then_comes_last,
        insert_many_inserts_every_document_in_order,
        insert_many_of_an_empty_batch_changes_nothing,
        insert_many_rolls_back_when_a_later_document_is_a_duplicate,
        insert_many_rolls_back_when_the_batch_repeats_an_id,
        insert_many_rolls_back_when_a_document_is_invalid,
        op_counts_count_every_call_by_kind_including_failed_ones,
        for_caller_handles_share_data_and_op_counts,
        racing_inserts_of_one_id_have_exactly_one_winner,
    ]
);

/// What only the memory backend has: its name, latency model and fault hooks.
mod memory {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn on_virtual_clock(config: MemoryConfig, seed: u64) -> (Clock, Arc<MemoryStore>) {
        let clock = Clock::virtual_time();
        let store = Arc::new(MemoryStore::new(clock.clone(), config, seed));
        (clock, store)
    }

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
    fn clones_share_data_counts_and_faults() {
        let store = quiet_memory_store();
        let clone = store.clone();
        clone.insert_one(json!({"_id": "a"})).unwrap();
        assert_eq!(store.count(&json!({"_id": "a"})).unwrap(), 1);
        store.faults().fail_next(1);
        assert_eq!(
            clone.count(&json!({})),
            Err(unavailable("injected failure"))
        );
        assert_eq!(store.op_counts(), clone.op_counts());
        assert_eq!(clone.faults().injected(), 1);
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
        conformance::racing_inserts_of_one_id_have_exactly_one_winner(&store);
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

    #[test]
    fn extra_latency_delays_every_operation_and_zero_turns_it_off() {
        let (clock, store) = on_virtual_clock(MemoryConfig::default(), 11);
        store.faults().set_extra_latency(SECOND);
        let delays = insert_delays(&clock, store.clone(), 4);
        assert!(delays.iter().all(|d| *d < SECOND), "{delays:?}");
        assert!(delays.iter().any(|d| !d.is_zero()), "{delays:?}");
        let mut total = Duration::ZERO;
        for _ in 0..4 {
            let s = Arc::clone(&store);
            let (r, d) = timed(&clock, move || s.count(&json!({})));
            assert_eq!(r.unwrap(), 4);
            assert!(d < SECOND);
            total += d;
        }
        assert!(!total.is_zero());

        store.faults().set_extra_latency(Duration::ZERO);
        let s = Arc::clone(&store);
        let (_, d) = timed(&clock, move || every_other_op(&*s));
        assert_eq!(d, Duration::ZERO);
    }

    #[test]
    fn fail_next_fails_exactly_that_many_operations_without_applying_them() {
        let store = quiet_memory_store();
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
        let store = quiet_memory_store();
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
    fn failed_operations_are_still_counted() {
        let store = quiet_memory_store();
        store.faults().fail_next(3);
        let _ = store.insert_one(json!({"_id": 1}));
        let _ = store.find_one(&json!({}));
        let _ = store.delete_many(&json!({}));
        let counts = store.op_counts();
        assert_eq!(counts.get(OpKind::InsertOne), 1);
        assert_eq!(counts.get(OpKind::FindOne), 1);
        assert_eq!(counts.get(OpKind::DeleteMany), 1);
        assert_eq!(counts.total(), 3);
    }

    #[test]
    fn outage_fails_every_operation_until_its_end_in_scenario_time() {
        let (clock, store) = on_virtual_clock(MemoryConfig::default(), 5);
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
        assert_eq!(store.faults().injected(), 9);
    }

    #[test]
    fn outage_until_none_ends_an_outage_early() {
        let store = quiet_memory_store();
        store.faults().outage_until(Some(3600 * SECOND));
        assert!(store.count(&json!({})).is_err());
        store.faults().outage_until(None);
        assert_eq!(store.count(&json!({})), Ok(0));
    }

    #[test]
    fn fail_probability_one_fails_everything_and_zero_nothing() {
        let store = quiet_memory_store();
        store.faults().set_fail_probability(1.0);
        assert!(store.insert_one(json!({"_id": 1})).is_err());
        assert!(
            every_other_op(&store)
                .iter()
                .all(|r| *r == Err(unavailable("injected failure")))
        );
        store.faults().set_fail_probability(0.0);
        store.insert_one(json!({"_id": 1})).unwrap();
        assert!(every_other_op(&store).iter().all(Result::is_ok));
        assert_eq!(store.faults().injected(), 8);
    }

    #[test]
    fn fail_probability_is_clamped_to_zero_and_one() {
        let store = quiet_memory_store();
        store.faults().set_fail_probability(5.0);
        assert!(every_other_op(&store).iter().all(Result::is_err));
        store.faults().set_fail_probability(-5.0);
        assert!(every_other_op(&store).iter().all(Result::is_ok));
    }

    #[test]
    fn fail_probability_between_fails_some_operations_reproducibly() {
        let failures = |seed| {
            let store = MemoryStore::new(Clock::virtual_time(), MemoryConfig::default(), seed);
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
        let (clock, store) = on_virtual_clock(MemoryConfig::default(), 5);
        let faults = store.faults();
        faults.set_extra_latency(SECOND);
        faults.fail_next(10);
        faults.set_fail_probability(1.0);
        faults.outage_until(Some(3600 * SECOND));
        assert!(store.count(&json!({})).is_err());
        faults.clear();
        let s = Arc::clone(&store);
        let (results, d) = timed(&clock, move || every_other_op(&*s));
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(d, Duration::ZERO, "extra latency is off");
        assert_eq!(faults.injected(), 1);
    }

    #[test]
    fn faults_reach_every_for_caller_handle() {
        let store = quiet_memory_store();
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
