//! The memory store's own fault hooks ([`MemoryStore::faults`](super::MemoryStore::faults)),
//! kept for the callers written before [`FaultyStore`](crate::store::FaultyStore)
//! could wrap any store.
//!
//! There is one fault injector, [`WrapperFaults`]: this type only gives its knobs
//! their older names and holds no decision of its own. What differs is *where* the
//! memory store consults it: inside the operation, after the request was validated
//! and counted and the latency slept, which is what these callers observe (an
//! injected failure is still an operation in `op_counts`, an invalid request is
//! refused as invalid). New code wraps the store in a `FaultyStore` instead.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;

use crate::clock::Clock;
use crate::store::{StoreError, WrapperFaults};

/// Runtime fault hooks, shared by every handle of one memory store.
///
/// All knobs are atomics so tests can flip them while jobs run, without a lock on
/// the hot path.
#[derive(Debug, Default)]
pub struct Faults {
    /// The one injector; the memory store never counts latency in it, so its tally
    /// is the number of failed operations.
    injector: WrapperFaults,
}

impl Faults {
    /// Adds a uniform `[0, max)` delay to every operation (zero turns it off).
    pub fn set_extra_latency(&self, max: Duration) {
        self.injector.set_latency(max);
    }

    /// Makes the next `n` operations fail before applying (replaces any pending count).
    pub fn fail_next(&self, n: u64) {
        self.injector.fail_next(n);
    }

    /// Makes each operation fail before applying with probability `p` (clamped to [0, 1]).
    pub fn set_fail_probability(&self, p: f64) {
        self.injector.set_fail_probability(p);
    }

    /// Fails every operation while scenario time is before `t` (`None` ends the outage).
    pub fn outage_until(&self, t: Option<Duration>) {
        self.injector.outage_until(t);
    }

    /// Turns every fault off; the [`injected`](Self::injected) tally is kept.
    pub fn clear(&self) {
        self.injector.clear();
    }

    /// How many operations faults have failed so far.
    pub fn injected(&self) -> u64 {
        self.injector.injected()
    }

    /// The maximum extra latency, which the memory store draws with its own latency.
    pub(super) fn extra_latency(&self, clock: &Clock) -> Duration {
        self.injector.latency_max(|| clock.now())
    }

    /// Whether the current operation fails; the injector's decision, drawn from the
    /// handle's latency RNG (so one seed fixes both).
    pub(super) fn check(&self, clock: &Clock, rng: &Mutex<StdRng>) -> Result<(), StoreError> {
        self.injector.fail_before(Some(clock), rng)
    }
}
