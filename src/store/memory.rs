//! The embedded backend: an insertion-ordered map behind one mutex, with the
//! scenario's latency model and injectable faults.
//!
//! Every operation runs in four steps: count it, validate the request, sleep the
//! drawn latency (never holding the data mutex, so a slow call cannot serialise the
//! others and hide races), apply faults, then act under a single acquisition of the
//! data mutex, which is what makes each operation atomic.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indexmap::IndexMap;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::{Map, Value};

use super::canonical::canonical_text;
use super::filter::{check_batch, keyed_document, matches, validate_filter, validate_set};
use super::{OpCounter, OpCounts, OpKind, Store, StoreError};
use crate::clock::Clock;

/// Documents in insertion order, keyed by the canonical JSON text of their `_id`.
type Docs = IndexMap<String, Map<String, Value>>;

/// Latency model of the memory store, in scenario time.
///
/// Both fields are the *maximum* of a uniform draw: an operation sleeps a duration
/// drawn from `[0, max)` before acting. Zero means no sleep and no draw.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryConfig {
    /// Maximum delay of `insert_one` and `insert_many` (the classic mock's only delay).
    pub insert_latency: Duration,
    /// Maximum delay of every other operation (a real network delays every call).
    pub op_latency: Duration,
}

/// Runtime fault hooks, shared by every handle of one store.
///
/// All knobs are atomics so tests and the dashboard can flip them while jobs run,
/// without a lock on the hot path.
#[derive(Debug, Default)]
pub struct Faults {
    /// Maximum extra latency added to every operation, in nanoseconds (0: off).
    extra_latency_nanos: AtomicU64,
    /// Operations still to fail with "injected failure".
    fail_next: AtomicU64,
    /// Per-operation failure probability, as `f64` bits (0.0 has all bits zero, so
    /// `Default` means off).
    fail_probability_bits: AtomicU64,
    /// Scenario time, in nanoseconds, until which every operation fails. 0 means no
    /// outage, which is also what an outage "until t=0" amounts to.
    outage_until_nanos: AtomicU64,
    /// Operations failed by any of the above so far.
    injected: AtomicU64,
}

/// A duration in nanoseconds, saturating (u64 nanoseconds last 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A duration drawn uniformly from `[0, max)`; no draw at all when `max` is zero, so
/// turning a latency off does not shift the rest of the RNG sequence.
fn uniform(rng: &mut StdRng, max: Duration) -> Duration {
    match nanos(max) {
        0 => Duration::ZERO,
        // Integer nanoseconds keep the upper bound exclusive; scaling a float in
        // [0, 1) by `max` can round up to exactly `max`.
        n => Duration::from_nanos(rng.random_range(0..n)),
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves the data
/// consistent at each step, so a panic elsewhere is no reason to refuse service.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Faults {
    /// Adds a uniform `[0, max)` delay to every operation (zero turns it off).
    pub fn set_extra_latency(&self, max: Duration) {
        self.extra_latency_nanos
            .store(nanos(max), Ordering::Relaxed);
    }

    /// Makes the next `n` operations fail before applying (replaces any pending count).
    pub fn fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::Relaxed);
    }

    /// Makes each operation fail before applying with probability `p` (clamped to [0, 1]).
    pub fn set_fail_probability(&self, p: f64) {
        // NaN would make every comparison false; treat it as "off" rather than guess.
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.fail_probability_bits
            .store(p.to_bits(), Ordering::Relaxed);
    }

    /// Fails every operation while scenario time is before `t` (`None` ends the outage).
    pub fn outage_until(&self, t: Option<Duration>) {
        self.outage_until_nanos
            .store(t.map_or(0, nanos), Ordering::Relaxed);
    }

    /// Turns every fault off; the [`injected`](Self::injected) tally is kept.
    pub fn clear(&self) {
        self.set_extra_latency(Duration::ZERO);
        self.fail_next(0);
        self.set_fail_probability(0.0);
        self.outage_until(None);
    }

    /// How many operations faults have failed so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn extra_latency(&self) -> Duration {
        Duration::from_nanos(self.extra_latency_nanos.load(Ordering::Relaxed))
    }

    fn fail_probability(&self) -> f64 {
        f64::from_bits(self.fail_probability_bits.load(Ordering::Relaxed))
    }

    fn inject(&self, why: &str) -> Result<(), StoreError> {
        self.injected.fetch_add(1, Ordering::Relaxed);
        Err(StoreError::Unavailable(why.to_string()))
    }

    /// Decides whether the current operation fails: an outage first, then a pending
    /// `fail_next`, then the probability. A `fail_next` is only consumed by an
    /// operation that would otherwise have gone through, so "fail the next 2" means
    /// two failures the caller can observe as such.
    fn check(&self, clock: &Clock, rng: &Mutex<StdRng>) -> Result<(), StoreError> {
        let until = self.outage_until_nanos.load(Ordering::Relaxed);
        // Reading the clock takes its mutex; only do it while an outage is set.
        if until > 0 && nanos(clock.now()) < until {
            return self.inject("outage");
        }
        if self
            .fail_next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            return self.inject("injected failure");
        }
        let p = self.fail_probability();
        // Draw only when the outcome is uncertain, so p = 0 or 1 leaves the latency
        // sequence exactly as it would be without faults.
        if p >= 1.0 || (p > 0.0 && lock(rng).random::<f64>() < p) {
            return self.inject("injected failure");
        }
        Ok(())
    }
}

/// State shared by every handle of one store.
struct Shared {
    clock: Clock,
    config: MemoryConfig,
    docs: Mutex<Docs>,
    ops: OpCounter,
    faults: Faults,
}

/// The in-process document store; clones and [`Store::for_caller`] handles share the data.
///
/// Each handle owns its latency RNG, so a caller's latency draws depend only on its
/// seed and its own calls, never on how threads interleave.
pub struct MemoryStore {
    shared: Arc<Shared>,
    rng: Mutex<StdRng>,
}

impl Clone for MemoryStore {
    /// Shares the data, counters and faults; the clone's RNG is seeded from a draw of
    /// this handle's RNG, so clones are independent yet still reproducible from the
    /// original seed. (`StdRng` is not `Clone` in rand 0.10, and copying its state
    /// would only make the two handles draw identical latencies.)
    fn clone(&self) -> Self {
        MemoryStore {
            shared: Arc::clone(&self.shared),
            rng: Mutex::new(StdRng::seed_from_u64(lock(&self.rng).random::<u64>())),
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("config", &self.shared.config)
            .field("faults", &self.shared.faults)
            .finish_non_exhaustive()
    }
}

/// The map key for an `_id`: its canonical JSON text (see [`super::canonical`]).
fn id_key(id: &Value) -> String {
    canonical_text(id)
}

/// Index of the first match in insertion order.
///
/// With `_id` in the filter at most one document can match, so it is looked up
/// directly: the lock always filters on `_id`, and a scan would make every lock
/// operation linear in the number of documents.
fn first_match(docs: &Docs, filter: &Map<String, Value>) -> Option<usize> {
    match filter.get("_id") {
        Some(id) => docs
            .get_full(&id_key(id))
            .filter(|(_, _, doc)| matches(doc, filter))
            .map(|(i, _, _)| i),
        None => docs.values().position(|doc| matches(doc, filter)),
    }
}

/// Indices of every match, in insertion order.
fn all_matches(docs: &Docs, filter: &Map<String, Value>) -> Vec<usize> {
    if filter.contains_key("_id") {
        first_match(docs, filter).into_iter().collect()
    } else {
        docs.values()
            .enumerate()
            .filter(|(_, doc)| matches(doc, filter))
            .map(|(i, _)| i)
            .collect()
    }
}

fn apply(doc: &mut Map<String, Value>, set: &Map<String, Value>) {
    for (key, value) in set {
        doc.insert(key.clone(), value.clone());
    }
}

impl MemoryStore {
    /// An empty store on `clock` with the given latency model and RNG seed.
    pub fn new(clock: Clock, config: MemoryConfig, seed: u64) -> MemoryStore {
        MemoryStore {
            shared: Arc::new(Shared {
                clock,
                config,
                docs: Mutex::new(Docs::new()),
                ops: OpCounter::default(),
                faults: Faults::default(),
            }),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// The fault hooks shared by every handle of this store.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The latency model this store was built with.
    pub fn config(&self) -> MemoryConfig {
        self.shared.config
    }

    fn docs(&self) -> MutexGuard<'_, Docs> {
        lock(&self.shared.docs)
    }

    /// Sleeps the drawn latency, then applies faults; called after validation and
    /// before taking the data mutex.
    fn delay_and_faults(&self, kind: OpKind) -> Result<(), StoreError> {
        let base = match kind {
            OpKind::InsertOne | OpKind::InsertMany => self.shared.config.insert_latency,
            _ => self.shared.config.op_latency,
        };
        let extra = self.shared.faults.extra_latency();
        if !(base.is_zero() && extra.is_zero()) {
            let delay = {
                let mut rng = lock(&self.rng);
                uniform(&mut rng, base) + uniform(&mut rng, extra)
            };
            if !delay.is_zero() {
                self.shared.clock.sleep(delay);
            }
        }
        self.shared.faults.check(&self.shared.clock, &self.rng)
    }

    /// Counts, validates the filter, delays and checks faults: the common prologue.
    fn prologue<'f>(
        &self,
        kind: OpKind,
        filter: &'f Value,
    ) -> Result<&'f Map<String, Value>, StoreError> {
        self.shared.ops.record(kind);
        let filter = validate_filter(filter)?;
        self.delay_and_faults(kind)?;
        Ok(filter)
    }
}

impl Store for MemoryStore {
    fn name(&self) -> &str {
        "memory"
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertOne);
        let (key, fields) = keyed_document(doc, "document")?;
        self.delay_and_faults(OpKind::InsertOne)?;
        let mut docs = self.docs();
        if docs.contains_key(&key) {
            return Err(StoreError::DuplicateKey(key));
        }
        docs.insert(key, fields);
        Ok(())
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertMany);
        // Shape errors are found before touching the data, so they insert nothing.
        let batch = check_batch(docs, keyed_document)?;
        self.delay_and_faults(OpKind::InsertMany)?;
        let mut docs = self.docs();
        // New documents are appended, so rolling back is truncating to the old length;
        // doing it under the same lock means no one ever sees a partial batch.
        let before = docs.len();
        for (key, fields) in batch {
            if docs.contains_key(&key) {
                docs.truncate(before);
                return Err(StoreError::DuplicateKey(key));
            }
            docs.insert(key, fields);
        }
        Ok(())
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        let filter = self.prologue(OpKind::FindOne, filter)?;
        let docs = self.docs();
        Ok(first_match(&docs, filter)
            .and_then(|i| docs.get_index(i))
            .map(|(_, doc)| Value::Object(doc.clone())))
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        let filter = self.prologue(OpKind::FindMany, filter)?;
        let docs = self.docs();
        Ok(all_matches(&docs, filter)
            .into_iter()
            .filter_map(|i| docs.get_index(i))
            .map(|(_, doc)| Value::Object(doc.clone()))
            .collect())
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        let filter = self.prologue(OpKind::Count, filter)?;
        let docs = self.docs();
        let n = if filter.contains_key("_id") {
            usize::from(first_match(&docs, filter).is_some())
        } else {
            docs.values().filter(|doc| matches(doc, filter)).count()
        };
        Ok(n as u64)
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::UpdateOne);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.delay_and_faults(OpKind::UpdateOne)?;
        let mut docs = self.docs();
        let Some(i) = first_match(&docs, filter) else {
            return Ok(None);
        };
        Ok(docs.get_index_mut(i).map(|(_, doc)| {
            apply(doc, set);
            Value::Object(doc.clone())
        }))
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::UpdateMany);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.delay_and_faults(OpKind::UpdateMany)?;
        let mut docs = self.docs();
        let hits = all_matches(&docs, filter);
        for &i in &hits {
            if let Some((_, doc)) = docs.get_index_mut(i) {
                apply(doc, set);
            }
        }
        Ok(hits.len() as u64)
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        let filter = self.prologue(OpKind::DeleteOne, filter)?;
        let mut docs = self.docs();
        // `shift_remove` keeps the remaining documents in insertion order, which
        // "first match" depends on.
        let removed = first_match(&docs, filter).and_then(|i| docs.shift_remove_index(i));
        Ok(u64::from(removed.is_some()))
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        let filter = self.prologue(OpKind::DeleteMany, filter)?;
        let mut docs = self.docs();
        let before = docs.len();
        if filter.contains_key("_id") {
            if let Some(i) = first_match(&docs, filter) {
                docs.shift_remove_index(i);
            }
        } else {
            // `retain` visits in order and keeps the survivors' order.
            docs.retain(|_, doc| !matches(doc, filter));
        }
        Ok((before - docs.len()) as u64)
    }

    fn op_counts(&self) -> OpCounts {
        self.shared.ops.snapshot()
    }

    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(MemoryStore {
            shared: Arc::clone(&self.shared),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let f = Faults::default();
        f.set_fail_probability(7.0);
        assert_eq!(f.fail_probability(), 1.0);
        f.set_fail_probability(-1.0);
        assert_eq!(f.fail_probability(), 0.0);
        f.set_fail_probability(f64::NAN);
        assert_eq!(f.fail_probability(), 0.0);
    }
}
