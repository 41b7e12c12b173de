//! Checks of the memory store's internals: key canonicalisation, the latency draw,
//! and the clamping of the fault hooks' probability.

use std::sync::Mutex;
use std::time::Duration;

use rand::{SeedableRng, rngs::StdRng};
use serde_json::json;

use super::Faults;
use super::query::id_key;
use crate::clock::Clock;
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
fn fail_probability_is_clamped() {
    // Seen through the decision: a probability above 1 fails every operation, one
    // below 0 or NaN none, whatever the RNG draws.
    let (f, clock) = (Faults::default(), Clock::virtual_time());
    let rng = Mutex::new(StdRng::seed_from_u64(3));
    let failures = |p: f64| {
        f.set_fail_probability(p);
        (0..100).filter(|_| f.check(&clock, &rng).is_err()).count()
    };
    assert_eq!(failures(7.0), 100);
    assert_eq!(failures(-1.0), 0);
    assert_eq!(failures(f64::NAN), 0);
}
