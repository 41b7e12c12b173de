//! The store contract's backend-independent test bodies (docs/PROTOCOL.md §2).
//!
//! Each body takes `&dyn Store`, assumes the store starts empty, and checks only what
//! the contract promises. `all_conformance_tests!(suite, make_store())` turns every
//! body into a `#[test]` against a fresh store from the given expression, so memory,
//! PostgreSQL and Redis run the very same suite.

use std::sync::{Arc, Barrier};
use std::thread;

use joblock::store::{OpKind, Store, StoreError};
use serde_json::{Value, json};

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

pub fn delete_one_deletes_only_the_first_match_and_keeps_the_order_of_the_rest(store: &dyn Store) {
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

/// A document with `n` fields `f0000`.. besides `_id`, each holding `value(i)`.
fn wide_doc(id: &str, n: usize, value: impl Fn(usize) -> Value) -> Value {
    let mut doc = serde_json::Map::new();
    doc.insert("_id".into(), json!(id));
    for i in 0..n {
        doc.insert(format!("f{i:04}"), value(i));
    }
    Value::Object(doc)
}

pub fn documents_filters_and_updates_with_thousands_of_fields_work(store: &dyn Store) {
    // Past any batching a backend does internally (e.g. arguments per server call).
    let doc = wide_doc("wide", 2500, |i| json!(i));
    store
        .insert_many(vec![
            doc.clone(),
            wide_doc("other", 1200, |i| json!(-(i as i64))),
        ])
        .unwrap();
    assert_eq!(
        store.find_one(&json!({"_id": "wide"})).unwrap(),
        Some(doc.clone())
    );
    // A filter of 1,200 fields matches; the same with its last field wrong does not.
    let filter = wide_doc("wide", 1200, |i| json!(i));
    let Value::Object(mut without_id) = filter.clone() else {
        unreachable!()
    };
    without_id.remove("_id");
    assert_eq!(
        store.find_one(&Value::Object(without_id.clone())).unwrap(),
        Some(doc)
    );
    without_id.insert("f1199".into(), json!("wrong"));
    assert_eq!(store.find_one(&Value::Object(without_id)).unwrap(), None);
    // An update of 1,500 fields through a 1,200-field filter.
    let mut set = wide_doc("x", 1500, |i| json!(format!("v{i}")));
    if let Value::Object(m) = &mut set {
        m.remove("_id");
    }
    let updated = store
        .update_one(&filter, &set)
        .unwrap()
        .expect("the filter matches");
    assert_eq!(updated["f0000"], json!("v0"));
    assert_eq!(updated["f1499"], json!("v1499"));
    assert_eq!(updated["f1500"], json!(1500));
    assert_eq!(updated["f2499"], json!(2499));
    assert_eq!(updated.as_object().map(|m| m.len()), Some(2501));
    assert_eq!(
        store.find_one(&json!({"_id": "wide"})).unwrap(),
        Some(updated)
    );
    // The old values no longer match.
    assert_eq!(store.update_one(&filter, &set).unwrap(), None);
    assert_eq!(store.count(&json!({})).unwrap(), 2);
}

/// Runs every conformance body as a test against a fresh store from `$make`.
#[macro_export]
macro_rules! all_conformance_tests {
    ($suite:ident, $make:expr) => {
        mod $suite {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn insert_one_then_find_one_returns_the_document() {
                let store = $make;
                $crate::support::conformance::insert_one_then_find_one_returns_the_document(&store);
            }
            #[test]
            fn insert_one_rejects_a_non_object_document() {
                let store = $make;
                $crate::support::conformance::insert_one_rejects_a_non_object_document(&store);
            }
            #[test]
            fn insert_one_rejects_a_document_without_id() {
                let store = $make;
                $crate::support::conformance::insert_one_rejects_a_document_without_id(&store);
            }
            #[test]
            fn insert_one_of_an_existing_id_is_a_duplicate_key_and_changes_nothing() {
                let store = $make;
                $crate::support::conformance::insert_one_of_an_existing_id_is_a_duplicate_key_and_changes_nothing(&store);
            }
            #[test]
            fn ids_are_compared_as_json_values() {
                let store = $make;
                $crate::support::conformance::ids_are_compared_as_json_values(&store);
            }
            #[test]
            fn find_one_returns_none_when_nothing_matches() {
                let store = $make;
                $crate::support::conformance::find_one_returns_none_when_nothing_matches(&store);
            }
            #[test]
            fn find_one_returns_the_first_match_in_insertion_order() {
                let store = $make;
                $crate::support::conformance::find_one_returns_the_first_match_in_insertion_order(&store);
            }
            #[test]
            fn find_many_returns_every_match_in_insertion_order() {
                let store = $make;
                $crate::support::conformance::find_many_returns_every_match_in_insertion_order(&store);
            }
            #[test]
            fn count_returns_how_many_documents_match() {
                let store = $make;
                $crate::support::conformance::count_returns_how_many_documents_match(&store);
            }
            #[test]
            fn empty_filter_matches_every_document() {
                let store = $make;
                $crate::support::conformance::empty_filter_matches_every_document(&store);
            }
            #[test]
            fn null_filter_matches_an_explicit_null_but_never_a_missing_key() {
                let store = $make;
                $crate::support::conformance::null_filter_matches_an_explicit_null_but_never_a_missing_key(&store);
            }
            #[test]
            fn every_filter_key_must_match() {
                let store = $make;
                $crate::support::conformance::every_filter_key_must_match(&store);
            }
            #[test]
            fn every_filtering_operation_rejects_a_non_object_filter() {
                let store = $make;
                $crate::support::conformance::every_filtering_operation_rejects_a_non_object_filter(&store);
            }
            #[test]
            fn updates_reject_a_set_that_changes_id_or_is_not_an_object() {
                let store = $make;
                $crate::support::conformance::updates_reject_a_set_that_changes_id_or_is_not_an_object(&store);
            }
            #[test]
            fn update_one_sets_fields_on_the_first_match_only_and_returns_it() {
                let store = $make;
                $crate::support::conformance::update_one_sets_fields_on_the_first_match_only_and_returns_it(&store);
            }
            #[test]
            fn update_one_by_id_touches_only_that_document() {
                let store = $make;
                $crate::support::conformance::update_one_by_id_touches_only_that_document(&store);
            }
            #[test]
            fn update_one_returns_none_and_creates_nothing_when_nothing_matches() {
                let store = $make;
                $crate::support::conformance::update_one_returns_none_and_creates_nothing_when_nothing_matches(&store);
            }
            #[test]
            fn update_many_sets_fields_on_every_match_and_returns_the_count() {
                let store = $make;
                $crate::support::conformance::update_many_sets_fields_on_every_match_and_returns_the_count(&store);
            }
            #[test]
            fn delete_one_deletes_only_the_first_match_and_keeps_the_order_of_the_rest() {
                let store = $make;
                $crate::support::conformance::delete_one_deletes_only_the_first_match_and_keeps_the_order_of_the_rest(&store);
            }
            #[test]
            fn delete_one_returns_zero_when_nothing_matches() {
                let store = $make;
                $crate::support::conformance::delete_one_returns_zero_when_nothing_matches(&store);
            }
            #[test]
            fn delete_many_returns_the_count_and_keeps_the_order_of_the_rest() {
                let store = $make;
                $crate::support::conformance::delete_many_returns_the_count_and_keeps_the_order_of_the_rest(&store);
            }
            #[test]
            fn a_deleted_id_can_be_inserted_again_and_then_comes_last() {
                let store = $make;
                $crate::support::conformance::a_deleted_id_can_be_inserted_again_and_then_comes_last(&store);
            }
            #[test]
            fn insert_many_inserts_every_document_in_order() {
                let store = $make;
                $crate::support::conformance::insert_many_inserts_every_document_in_order(&store);
            }
            #[test]
            fn insert_many_of_an_empty_batch_changes_nothing() {
                let store = $make;
                $crate::support::conformance::insert_many_of_an_empty_batch_changes_nothing(&store);
            }
            #[test]
            fn insert_many_rolls_back_when_a_later_document_is_a_duplicate() {
                let store = $make;
                $crate::support::conformance::insert_many_rolls_back_when_a_later_document_is_a_duplicate(&store);
            }
            #[test]
            fn insert_many_rolls_back_when_the_batch_repeats_an_id() {
                let store = $make;
                $crate::support::conformance::insert_many_rolls_back_when_the_batch_repeats_an_id(&store);
            }
            #[test]
            fn insert_many_rolls_back_when_a_document_is_invalid() {
                let store = $make;
                $crate::support::conformance::insert_many_rolls_back_when_a_document_is_invalid(&store);
            }
            #[test]
            fn op_counts_count_every_call_by_kind_including_failed_ones() {
                let store = $make;
                $crate::support::conformance::op_counts_count_every_call_by_kind_including_failed_ones(&store);
            }
            #[test]
            fn for_caller_handles_share_data_and_op_counts() {
                let store = $make;
                $crate::support::conformance::for_caller_handles_share_data_and_op_counts(&store);
            }
            #[test]
            fn documents_filters_and_updates_with_thousands_of_fields_work() {
                let store = $make;
                $crate::support::conformance::documents_filters_and_updates_with_thousands_of_fields_work(&store);
            }
            #[test]
            fn racing_inserts_of_one_id_have_exactly_one_winner() {
                let store = $make;
                $crate::support::conformance::racing_inserts_of_one_id_have_exactly_one_winner(&store);
            }
        }
    };
}
