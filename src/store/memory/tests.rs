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
