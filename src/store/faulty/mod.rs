//! A fault-injecting wrapper that works around any store.
//!
//! It brings the faults a real network and a busy server add to any backend, and the
//! engine wraps every store in it so faults can be injected at runtime:
//!
//! * latency on **every** operation (latency on inserts alone hides check-then-act
//!   races), and latency spikes for a while;
//! * scheduling jitter: random yields and tiny sleeps around an operation, to shake
//!   the interleavings of threads;
//! * an operation that fails before it applies;
//! * an operation that applies but whose reply is lost (the caller sees an error). A
//!   lock that retries blindly after a lost reply can orphan itself; joblock's lock
//!   re-reads and recognises its own owner id;
//! * an outage: every operation fails until a given scenario time.
//!
//! An operation failed here never reaches the store, yet [`Store::op_counts`] counts
//! it: it was issued, and every store counts a call that failed.
//!
//! Sleeps go through the scenario clock, so faults work on the virtual clock too.

mod knobs;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use knobs::draw;
pub use knobs::{FaultKind, WrapperFaults};
pub(super) use knobs::{lock, uniform};

use super::{OpCounter, OpCounts, OpKind, Store, StoreError};
use crate::clock::Clock;

/// Any store, with injectable faults.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Arc<WrapperFaults>,
    /// Operations failed here before they reached `inner` (shared by every handle).
    refused: Arc<OpCounter>,
    clock: Option<Clock>,
    rng: Mutex<StdRng>,
}

impl FaultyStore {
    /// Wraps `inner`; `seed` seeds this handle's fault draws. Without a clock, only
    /// the faults that need no time (fail, lost reply) work.
    pub fn new(inner: Arc<dyn Store>, seed: u64) -> FaultyStore {
        FaultyStore {
            inner,
            faults: Arc::new(WrapperFaults::default()),
            refused: Arc::new(OpCounter::default()),
            clock: None,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// Times latency, spikes and outages on `clock`.
    pub fn with_clock(mut self, clock: Clock) -> FaultyStore {
        self.clock = Some(clock);
        self
    }

    /// The fault knobs (shared by every `for_caller` handle).
    pub fn faults(&self) -> &WrapperFaults {
        &self.faults
    }

    /// The fault knobs, shareable.
    pub fn faults_arc(&self) -> Arc<WrapperFaults> {
        self.faults.clone()
    }

    fn jitter(&self) {
        let f = &self.faults;
        if !draw(&self.rng, &f.jitter_bits) {
            return;
        }
        f.count(FaultKind::Jitter);
        // A real yield shakes the OS schedule; a tiny scenario sleep shakes the
        // order of operations even on the virtual clock.
        thread::yield_now();
        if let Some(clock) = &self.clock {
            clock.sleep(uniform(&mut lock(&self.rng), Duration::from_micros(50)));
        }
    }

    /// Latency, jitter and faults that strike before the operation applies.
    fn before(&self) -> Result<(), StoreError> {
        let f = &self.faults;
        self.jitter();
        if let Some(clock) = &self.clock {
            let delay = uniform(&mut lock(&self.rng), f.latency_max(|| clock.now()));
            if !delay.is_zero() {
                f.count(FaultKind::Latency);
                clock.sleep(delay);
            }
        }
        f.fail_before(self.clock.as_ref(), &self.rng)
    }

    /// Faults that strike after the operation applied: the reply is lost.
    fn after<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let f = &self.faults;
        self.jitter();
        let lose =
            result.is_ok() && (WrapperFaults::take(&f.lose_next) || draw(&self.rng, &f.lose_bits));
        if lose {
            f.count(FaultKind::LostReply);
            return Err(StoreError::Unavailable("reply lost".into()));
        }
        result
    }

    fn run<T>(
        &self,
        kind: OpKind,
        op: impl FnOnce(&dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Err(e) = self.before() {
            self.refused.record(kind);
            return Err(e);
        }
        let result = op(self.inner.as_ref());
        self.after(result)
    }
}

impl Store for FaultyStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.run(OpKind::InsertOne, |s| s.insert_one(doc))
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.run(OpKind::InsertMany, |s| s.insert_many(docs))
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.run(OpKind::FindOne, |s| s.find_one(filter))
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.run(OpKind::FindMany, |s| s.find_many(filter))
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.run(OpKind::Count, |s| s.count(filter))
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.run(OpKind::UpdateOne, |s| s.update_one(filter, set))
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.run(OpKind::UpdateMany, |s| s.update_many(filter, set))
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.run(OpKind::DeleteOne, |s| s.delete_one(filter))
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.run(OpKind::DeleteMany, |s| s.delete_many(filter))
    }

    /// What the inner store counted, plus the operations failed here before they
    /// reached it.
    fn op_counts(&self) -> OpCounts {
        let mut counts = self.inner.op_counts();
        for (kind, n) in self.refused.snapshot().0 {
            *counts.0.entry(kind).or_insert(0) += n;
        }
        counts
    }

    fn notifies(&self) -> bool {
        self.inner.notifies()
    }

    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        self.inner.wait_for_change(id, timeout)
    }

    fn change_signal(&self, id: &str, fields: &[&str]) -> Option<crate::clock::Signal> {
        self.inner.change_signal(id, fields)
    }

    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(FaultyStore {
            inner: self.inner.for_caller(seed),
            faults: self.faults.clone(),
            refused: self.refused.clone(),
            clock: self.clock.clone(),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_fa17)),
        })
    }
}
