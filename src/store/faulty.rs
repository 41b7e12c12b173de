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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{OpCounter, OpCounts, OpKind, Store, StoreError};
use crate::clock::Clock;

/// Kinds of store fault, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Extra latency drawn on an operation.
    Latency,
    /// A yield or tiny sleep around an operation.
    Jitter,
    /// An operation failed before applying.
    Fail,
    /// An operation applied but its reply was lost.
    LostReply,
    /// An operation failed during an outage.
    Outage,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Latency,
        FaultKind::Jitter,
        FaultKind::Fail,
        FaultKind::LostReply,
        FaultKind::Outage,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Jitter => "jitter",
            FaultKind::Fail => "fail",
            FaultKind::LostReply => "lost reply",
            FaultKind::Outage => "outage",
        }
    }
}

/// A duration in nanoseconds, saturating (u64 nanoseconds last 584 years).
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Locks a mutex, ignoring poisoning: an RNG or a map left by a panicking thread is
/// still consistent, so a panic elsewhere is no reason to refuse service.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A duration drawn uniformly from `[0, max)`; no draw at all when `max` is zero, so
/// turning a latency off does not shift the rest of the RNG sequence.
pub(super) fn uniform(rng: &mut StdRng, max: Duration) -> Duration {
    match nanos(max) {
        0 => Duration::ZERO,
        // Integer nanoseconds keep the upper bound exclusive; scaling a float in
        // [0, 1) by `max` can round up to exactly `max`.
        n => Duration::from_nanos(rng.random_range(0..n)),
    }
}

/// Whether an event happens whose probability is stored as `f64` bits. Draws only
/// when the outcome is uncertain, so p = 0 or 1 leaves the RNG sequence as it is.
fn draw(rng: &Mutex<StdRng>, prob: &AtomicU64) -> bool {
    let p = f64::from_bits(prob.load(Ordering::Relaxed));
    p > 0.0 && (p >= 1.0 || lock(rng).random::<f64>() < p)
}

fn set_prob(bits: &AtomicU64, p: f64) {
    // NaN would make every comparison false; treat it as "off" rather than guess.
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    bits.store(p.to_bits(), Ordering::Relaxed);
}

/// Fault knobs shared by every handle of one wrapper; all settable while jobs run.
///
/// This is joblock's one fault injector: [`FaultyStore`] consults it around any
/// store (the memory store included, which has only its latency model).
#[derive(Debug, Default)]
pub struct WrapperFaults {
    /// Maximum extra latency per operation (ns of scenario time; 0: off).
    latency_nanos: AtomicU64,
    /// Maximum extra latency during a spike (ns) ...
    spike_nanos: AtomicU64,
    /// ... until this scenario time (ns).
    spike_until_nanos: AtomicU64,
    /// Probability of a yield / tiny sleep around an operation (f64 bits).
    jitter_bits: AtomicU64,
    /// Operations still to fail before they apply.
    fail_next: AtomicU64,
    /// Probability that an operation fails before applying (f64 bits).
    fail_bits: AtomicU64,
    /// Operations still to apply and then report an error.
    lose_next: AtomicU64,
    /// Probability that an operation applies and its reply is lost (f64 bits).
    lose_bits: AtomicU64,
    /// Scenario time (ns) until which every operation fails; 0: none.
    outage_until_nanos: AtomicU64,
    /// Faults injected so far, by kind (indexed like `FaultKind::ALL`).
    injected: [AtomicU64; 5],
}

impl WrapperFaults {
    /// Adds uniform `[0, max)` latency to every operation (zero: off).
    pub fn set_latency(&self, max: Duration) {
        self.latency_nanos.store(nanos(max), Ordering::Relaxed);
    }

    /// Adds uniform `[0, max)` latency to every operation until scenario time `until`.
    pub fn spike(&self, max: Duration, until: Duration) {
        self.spike_nanos.store(nanos(max), Ordering::Relaxed);
        self.spike_until_nanos
            .store(nanos(until), Ordering::Relaxed);
    }

    /// Yields or sleeps a few microseconds around an operation with probability `p`.
    pub fn set_jitter(&self, p: f64) {
        set_prob(&self.jitter_bits, p);
    }

    /// Makes the next `n` operations fail before applying.
    pub fn fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::Relaxed);
    }

    /// Makes each operation fail before applying with probability `p`.
    pub fn set_fail_probability(&self, p: f64) {
        set_prob(&self.fail_bits, p);
    }

    /// Makes the next `n` operations apply but report `Unavailable("reply lost")`.
    pub fn lose_next_replies(&self, n: u64) {
        self.lose_next.store(n, Ordering::Relaxed);
    }

    /// Makes each operation's reply get lost (after applying) with probability `p`.
    pub fn set_lose_probability(&self, p: f64) {
        set_prob(&self.lose_bits, p);
    }

    /// Fails every operation until scenario time `until` (`None`: end the outage).
    pub fn outage_until(&self, until: Option<Duration>) {
        self.outage_until_nanos
            .store(until.map_or(0, nanos), Ordering::Relaxed);
    }

    /// Turns every fault off (the tallies are kept).
    pub fn clear(&self) {
        self.set_latency(Duration::ZERO);
        self.spike(Duration::ZERO, Duration::ZERO);
        self.set_jitter(0.0);
        self.fail_next(0);
        self.set_fail_probability(0.0);
        self.lose_next_replies(0);
        self.set_lose_probability(0.0);
        self.outage_until(None);
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }

    /// Faults injected so far, by kind.
    pub fn injected_by_kind(&self) -> Vec<(FaultKind, u64)> {
        FaultKind::ALL
            .iter()
            .zip(&self.injected)
            .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
            .collect()
    }

    fn count(&self, kind: FaultKind) {
        let i = FaultKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.injected[i].fetch_add(1, Ordering::Relaxed);
    }

    fn take(counter: &AtomicU64) -> bool {
        counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// The maximum extra latency of an operation now: the steady latency, or a
    /// spike's while one lasts. `now` is only asked while a spike is set, because
    /// reading the clock takes its mutex.
    fn latency_max(&self, now: impl FnOnce() -> Duration) -> Duration {
        let mut max = self.latency_nanos.load(Ordering::Relaxed);
        let spike_until = self.spike_until_nanos.load(Ordering::Relaxed);
        if spike_until > 0 && nanos(now()) < spike_until {
            max = max.max(self.spike_nanos.load(Ordering::Relaxed));
        }
        Duration::from_nanos(max)
    }

    /// Decides whether an operation fails before it applies: an outage first (only
    /// with a clock to time it), then a pending `fail_next`, then the probability,
    /// drawn from `rng`. A `fail_next` is only consumed by an operation that would
    /// otherwise have gone through, so "fail the next 2" means two failures the
    /// caller can observe as such.
    fn fail_before(&self, clock: Option<&Clock>, rng: &Mutex<StdRng>) -> Result<(), StoreError> {
        let until = self.outage_until_nanos.load(Ordering::Relaxed);
        // Reading the clock takes its mutex; only do it while an outage is set.
        if until > 0
            && let Some(clock) = clock
            && nanos(clock.now()) < until
        {
            self.count(FaultKind::Outage);
            return Err(StoreError::Unavailable("outage".into()));
        }
        if WrapperFaults::take(&self.fail_next) || draw(rng, &self.fail_bits) {
            self.count(FaultKind::Fail);
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        Ok(())
    }
}

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
