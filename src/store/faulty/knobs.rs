//! The fault knobs ([`WrapperFaults`]): what to inject, set at runtime from any
//! thread, the decisions drawn from them, and the tally by kind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::store::StoreError;

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
pub(in crate::store) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Locks a mutex, ignoring poisoning: an RNG or a map left by a panicking thread is
/// still consistent, so a panic elsewhere is no reason to refuse service.
pub(in crate::store) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A duration drawn uniformly from `[0, max)`; no draw at all when `max` is zero, so
/// turning a latency off does not shift the rest of the RNG sequence.
pub(in crate::store) fn uniform(rng: &mut StdRng, max: Duration) -> Duration {
    match nanos(max) {
        0 => Duration::ZERO,
        // Integer nanoseconds keep the upper bound exclusive; scaling a float in
        // [0, 1) by `max` can round up to exactly `max`.
        n => Duration::from_nanos(rng.random_range(0..n)),
    }
}

/// Whether an event happens whose probability is stored as `f64` bits. Draws only
/// when the outcome is uncertain, so p = 0 or 1 leaves the RNG sequence as it is.
pub(super) fn draw(rng: &Mutex<StdRng>, prob: &AtomicU64) -> bool {
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
    pub(super) jitter_bits: AtomicU64,
    /// Operations still to fail before they apply.
    fail_next: AtomicU64,
    /// Probability that an operation fails before applying (f64 bits).
    fail_bits: AtomicU64,
    /// Operations still to apply and then report an error.
    pub(super) lose_next: AtomicU64,
    /// Probability that an operation applies and its reply is lost (f64 bits).
    pub(super) lose_bits: AtomicU64,
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

    pub(super) fn count(&self, kind: FaultKind) {
        let i = FaultKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.injected[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn take(counter: &AtomicU64) -> bool {
        counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// The maximum extra latency of an operation now: the steady latency, or a
    /// spike's while one lasts. `now` is only asked while a spike is set, because
    /// reading the clock takes its mutex.
    pub(super) fn latency_max(&self, now: impl FnOnce() -> Duration) -> Duration {
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
    pub(super) fn fail_before(
        &self,
        clock: Option<&Clock>,
        rng: &Mutex<StdRng>,
    ) -> Result<(), StoreError> {
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
