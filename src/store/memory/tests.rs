//! Checks of the memory store's internals: key canonicalisation and the latency
//! draw.

use std::time::Duration;

use rand::{SeedableRng, rngs::StdRng};
use serde_json::json;

use super::query::id_key;
use crate::store::faulty::uniform;

#[test]
fn equal_ids_get_equal_keys() {
    assert_eq!(id_key(&json!(-0.0)), id_key(&json!(0.0)));
    assert_eq!(
        id_key(&json!([{"b": 1, "a": -0.0}])),
        id_key(&json!([{"a": 0.0, "b": 1}]))
    );
    assert_eq!(id_key(&json!("x")), "\"x\"");
}

#[test]
fn different_ids_get_different_keys() {
    assert_ne!(id_key(&json!(1)), id_key(&json!(1.0)));
    assert_ne!(id_key(&json!("1")), id_key(&json!(1)));
}

#[test]
fn uniform_draw_stays_below_its_maximum() {
    let mut rng = StdRng::seed_from_u64(1);
    assert_eq!(uniform(&mut rng, Duration::ZERO), Duration::ZERO);
    for _ in 0..1000 {
        assert!(uniform(&mut rng, Duration::from_nanos(3)) < Duration::from_nanos(3));
    }
}

#[test]
fn a_watched_document_signals_its_owner_changes_but_not_its_heartbeats() {
    use crate::clock::Clock;
    use crate::store::{MemoryConfig, MemoryStore, Store};
    let store = MemoryStore::new(Clock::virtual_time(), MemoryConfig::default(), 1);
    let signal = store
        .change_signal("lock:k", &["owner", "fence"])
        .expect("the memory store notifies");
    let id = json!({ "_id": "lock:k" });
    store
        .insert_one(json!({ "_id": "lock:k", "owner": "a", "fence": 1, "heartbeat": 0 }))
        .unwrap();
    assert_eq!(signal.raised(), 1, "an insert is a change");
    store.update_one(&id, &json!({ "heartbeat": 1 })).unwrap();
    assert_eq!(signal.raised(), 1, "a heartbeat wakes nobody");
    store.update_one(&id, &json!({ "owner": "a" })).unwrap();
    assert_eq!(signal.raised(), 1, "setting the same owner is no change");
    store.update_one(&id, &json!({ "owner": null })).unwrap();
    assert_eq!(signal.raised(), 2, "a release is a change");
    store
        .update_many(&json!({ "owner": null }), &json!({ "fence": 2 }))
        .unwrap();
    assert_eq!(signal.raised(), 3, "update_many notifies too");
    // Another handle of the same store shares the signal.
    let other = store.for_caller(7);
    other.delete_many(&json!({ "fence": 2 })).unwrap();
    assert_eq!(signal.raised(), 4, "a delete is a change");
    store
        .insert_many(vec![json!({ "_id": "lock:k" }), json!({ "_id": "other" })])
        .unwrap();
    assert_eq!(signal.raised(), 5, "only the watched document counts");
    other.delete_one(&id).unwrap();
    assert_eq!(signal.raised(), 6);
}
