//! A fault-injecting wrapper that works around any store.
//!
//! The memory store has its own fault hooks; this wrapper brings the ones a real
//! network adds to any backend, most importantly the **lost reply**: the operation
//! applied, but the caller only sees an error. A lock that retries blindly after a
//! lost reply can orphan itself; joblock's lock re-reads and recognises its own
//! owner id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use super::{OpCounts, Store, StoreError};

/// Fault knobs shared by every handle of one wrapper.
#[derive(Debug, Default)]
pub struct WrapperFaults {
    /// Operations still to fail before they apply.
    fail_next: AtomicU64,
    /// Operations still to apply and then report an error.
    lose_next: AtomicU64,
    /// Probability (f64 bits) that an operation applies and its reply is lost.
    lose_probability_bits: AtomicU64,
    /// Faults injected so far.
    injected: AtomicU64,
}

impl WrapperFaults {
    /// Makes the next `n` operations fail before applying.
    pub fn fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::Relaxed);
    }

    /// Makes the next `n` operations apply but report `Unavailable("reply lost")`.
    pub fn lose_next_replies(&self, n: u64) {
        self.lose_next.store(n, Ordering::Relaxed);
    }

    /// Makes each operation's reply get lost (after applying) with probability `p`.
    pub fn set_lose_probability(&self, p: f64) {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.lose_probability_bits
            .store(p.to_bits(), Ordering::Relaxed);
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn take(counter: &AtomicU64) -> bool {
        counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    fn before(&self) -> Result<(), StoreError> {
        if Self::take(&self.fail_next) {
            self.injected.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        Ok(())
    }

    fn after<T>(
        &self,
        result: Result<T, StoreError>,
        rng: &Mutex<StdRng>,
    ) -> Result<T, StoreError> {
        let p = f64::from_bits(self.lose_probability_bits.load(Ordering::Relaxed));
        let lose = Self::take(&self.lose_next)
            || (p > 0.0
                && rng
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .random::<f64>()
                    < p);
        if lose && result.is_ok() {
            self.injected.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Unavailable("reply lost".into()));
        }
        result
    }
}

/// Any store, with injectable faults.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Arc<WrapperFaults>,
    rng: Mutex<StdRng>,
}

impl FaultyStore {
    /// Wraps `inner`; `seed` seeds the probability draws of this handle.
    pub fn new(inner: Arc<dyn Store>, seed: u64) -> FaultyStore {
        FaultyStore {
            inner,
            faults: Arc::new(WrapperFaults::default()),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// The fault knobs (shared by every `for_caller` handle).
    pub fn faults(&self) -> &WrapperFaults {
        &self.faults
    }

    fn run<T>(
        &self,
        op: impl FnOnce(&dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.faults.before()?;
        let result = op(self.inner.as_ref());
        self.faults.after(result, &self.rng)
    }
}

impl Store for FaultyStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.run(|s| s.insert_one(doc))
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.run(|s| s.insert_many(docs))
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.run(|s| s.find_one(filter))
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.run(|s| s.find_many(filter))
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.run(|s| s.count(filter))
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.run(|s| s.update_one(filter, set))
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.run(|s| s.update_many(filter, set))
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.run(|s| s.delete_one(filter))
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.run(|s| s.delete_many(filter))
    }

    fn op_counts(&self) -> OpCounts {
        self.inner.op_counts()
    }

    fn notifies(&self) -> bool {
        self.inner.notifies()
    }

    fn wait_for_change(&self, id: &str, timeout: std::time::Duration) -> bool {
        self.inner.wait_for_change(id, timeout)
    }

    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(FaultyStore {
            inner: self.inner.for_caller(seed),
            faults: self.faults.clone(),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed)),
        })
    }
}
