//! The lock protocol (DESIGN §3), built on the store's operations alone.
//!
//! * The very first acquisition of a key is an `insert_one`; `DuplicateKey` means the
//!   document exists. There is no find-then-insert.
//! * Every later change is a compare-and-set: `update_one` filtered on the exact
//!   owner, fence and heartbeat the caller observed. `None` back means it lost.
//! * Each acquisition sets `fence` to one more than the document's fence. The
//!   document is never deleted, so fences grow for the key's whole life.
//! * Renewal and release filter on the caller's owner *and* fence ([`Lease`]).
//! * Expiry never compares clocks across processes: a waiter that sees the same
//!   (fence, heartbeat) for a whole lease on its own monotonic clock may take over
//!   with a CAS on exactly those values.
//! * A waiter gives up after `give_up` and leaves nothing behind (it only read).

mod doc;
mod lease;
mod presence;
mod queue;

pub use doc::{LockDoc, OutputBinding, lock_key, new_incarnation};
pub use lease::{Lease, Renewal};
pub use presence::Presence;
pub use queue::LocalQueue;

use queue::{Handoff, Offer, Place, Turn};

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;

use crate::clock::{Clock, Wake};
use crate::store::{Store, StoreError};

/// Errors the lock reports to its caller.
#[derive(Debug, Clone, Error)]
pub enum LockError {
    /// The lock document exists but does not look like one.
    #[error("malformed lock document: {0}")]
    Malformed(String),
    /// The lock document commits to another output file: acquiring it and
    /// "repairing" this one to its committed length would destroy records.
    #[error(
        "{key} commits to the output {bound_path} (id {bound_id}), not to {ours_path} (id {ours_id}): another run or fleet uses this key; give this one its own --namespace (or the same --output)"
    )]
    OtherOutput {
        /// The lock key.
        key: String,
        /// The output the document is bound to.
        bound_path: String,
        /// Its id.
        bound_id: String,
        /// The caller's output.
        ours_path: String,
        /// Its id.
        ours_id: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Timing of the protocol, in scenario time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockConfig {
    /// How long a holder's heartbeat may stand still before a waiter may take over.
    pub lease: Duration,
    /// Pause between a waiter's attempts.
    pub retry: Duration,
    /// How long a waiter tries before it gives up.
    pub give_up: Duration,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            lease: Duration::from_secs(3),
            retry: Duration::from_millis(100),
            give_up: Duration::from_secs(2000),
        }
    }
}

/// What one acquisition attempt saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Somebody holds the lock with this fence and heartbeat.
    Held {
        /// The holder's id.
        owner: String,
        /// The holder's fence.
        fence: u64,
        /// The heartbeat value seen.
        heartbeat: u64,
    },
    /// The lock was free (or expired) but another waiter's CAS won.
    LostRace,
    /// The store failed; the attempt counts and the waiter retries.
    StoreError(String),
}

/// How the lock was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The first acquisition ever: the document was inserted.
    Created,
    /// The lock was free (released by its last holder).
    Free,
    /// The holder's heartbeat stood still for a whole lease; we took over.
    Takeover {
        /// The previous holder's id.
        owner: String,
        /// The previous holder's fence.
        fence: u64,
    },
}

/// Facts about a successful acquisition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquisition {
    /// Attempts made, including the successful one.
    pub attempts: u32,
    /// Scenario time spent before acquiring.
    pub waited: Duration,
    /// How the lock was obtained.
    pub via: Via,
    /// Output length committed by earlier holders (truncate back to this).
    pub committed: u64,
}

/// How `acquire` ended.
pub enum AcquireOutcome {
    /// We hold the lock.
    Acquired(Arc<Lease>, Acquisition),
    /// `give_up` passed without acquiring; nothing was left in the store.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Scenario time spent waiting.
        waited: Duration,
    },
    /// The caller's abort predicate became true while waiting.
    Aborted {
        /// Attempts made.
        attempts: u32,
        /// Scenario time spent waiting.
        waited: Duration,
    },
}

/// Hooks a caller can use to watch a waiter; all optional.
pub trait AcquireObserver {
    /// Called after each attempt that did not acquire.
    fn attempt(&mut self, _attempt: u32, _seen: &Seen) {}
    /// Called when the waiter decides the holder's lease has expired.
    fn expired(&mut self, _owner: &str, _fence: u64, _unchanged_for: Duration) {}
    /// Queue mode: called now and then while others are ahead of this waiter (it
    /// makes no attempts meanwhile).
    fn in_line(&mut self) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl AcquireObserver for Quiet {}

/// A deliberately broken protocol, for proving that the torture campaign and the
/// invariant checks catch a broken lock. Never use one for real work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// Take a free lock with a blind write on `_id` instead of a compare-and-set:
    /// two waiters that both saw it free both "win".
    BlindAcquire,
    /// Release by `_id` alone, without checking owner and fence: a holder that lost
    /// its lease frees somebody else's lock.
    UncheckedRelease,
}

/// One lock key on one store.
pub struct Lock {
    store: Arc<dyn Store>,
    clock: Clock,
    key: String,
    config: LockConfig,
    /// Set once this lock has seen its document: documents are never deleted, so
    /// from then on the atomic create would only fail with `DuplicateKey`.
    exists: AtomicBool,
    /// The document as our own last release left it (shared with our leases): the
    /// next acquisition can try a compare-and-set on it straight away, saving a read.
    /// If anything changed since, the CAS simply matches nothing.
    last_released: Arc<Mutex<Option<LockDoc>>>,
    /// A deliberately broken variant (tests only).
    broken: Option<Broken>,
    /// Queue mode: the waiters of this process on this key, shared by their locks.
    queue: Option<Arc<LocalQueue>>,
    /// The output this lock commits to, if the caller keeps one: the document is
    /// bound to it, and a document bound to another output is never taken.
    output: Option<OutputBinding>,
}

/// The longest pause between attempts after store errors (unless `retry` is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The pause after `errors` store errors in a row: `retry` doubled per error, up to
/// [`MAX_BACKOFF`] (or `retry` if that is longer), so a store in trouble is not
/// hammered.
pub fn backoff(retry: Duration, errors: u32) -> Duration {
    if errors == 0 {
        return retry;
    }
    let doubled = retry.saturating_mul(1 << errors.min(10));
    doubled.min(MAX_BACKOFF.max(retry))
}

/// One `acquire` call's state between attempts.
struct Waiter<'a> {
    owner: &'a str,
    attempts: u32,
    watch: Option<Watch>,
    may_insert: bool,
    /// A write whose reply never came: when it was sent and what it would mean.
    unacked: Option<(Duration, Via)>,
    errors_in_row: u32,
}

/// What a waiter remembers between attempts to time the holder's lease.
struct Watch {
    fence: u64,
    heartbeat: u64,
    since: Duration,
}

impl Lock {
    /// A lock on `key` in `store`, timed by `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Clock, key: String, config: LockConfig) -> Lock {
        Lock {
            store,
            clock,
            key,
            config,
            exists: AtomicBool::new(false),
            last_released: Arc::new(Mutex::new(None)),
            broken: None,
            queue: None,
            output: None,
        }
    }

    /// This lock bound to an output: acquisitions bind an unbound document to it and
    /// refuse a document bound to another output ([`LockError::OtherOutput`]).
    pub fn with_output(mut self, output: Option<OutputBinding>) -> Lock {
        self.output = output;
        self
    }

    /// Refuses a document that commits to another output than ours.
    fn check_output(&self, doc: &LockDoc) -> Result<(), LockError> {
        match (&doc.output, &self.output) {
            (Some(bound), Some(ours)) if bound.id != ours.id => Err(LockError::OtherOutput {
                key: self.key.clone(),
                bound_path: bound.path.clone(),
                bound_id: bound.id.clone(),
                ours_path: ours.path.clone(),
                ours_id: ours.id.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// This lock in queue mode ([`LocalQueue`]): every lock of this process on this
    /// key must share the one queue. Ignored on a virtual clock.
    pub fn with_queue(mut self, queue: Option<Arc<LocalQueue>>) -> Lock {
        self.queue = queue;
        self
    }

    /// The queue this lock waits in, if it is in queue mode and the clock is real.
    fn local_queue(&self) -> Option<&Arc<LocalQueue>> {
        self.queue.as_ref().filter(|_| !self.clock.is_virtual())
    }

    /// Scenario time `d` as real time at the clock's current speed.
    fn real(&self, d: Duration) -> Duration {
        d.div_f64(self.clock.speed().max(f64::MIN_POSITIVE))
    }

    /// This lock with a deliberately broken protocol (for tests of the checkers).
    pub fn with_broken(mut self, broken: Option<Broken>) -> Lock {
        self.broken = broken;
        self
    }

    /// The lock key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The protocol timing.
    pub fn config(&self) -> LockConfig {
        self.config
    }

    /// This lock's store handle (for a waiter's optional presence announcements).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Reads the lock document, if it exists.
    pub fn read(&self) -> Result<Option<LockDoc>, LockError> {
        match self.store.find_one(&json!({ "_id": self.key }))? {
            Some(v) => Ok(Some(LockDoc::from_value(&v)?)),
            None => Ok(None),
        }
    }

    /// Waits for the lock as `owner`, retrying every `retry` until `give_up`.
    ///
    /// `abort` is checked between attempts (and wakes the retry sleep after a
    /// [`Clock::poke`]); it must only read atomics. After a store error the pause
    /// doubles (up to [`MAX_BACKOFF`] or `retry`, whichever is longer), so a store in
    /// trouble is not hammered.
    pub fn acquire(
        &self,
        owner: &str,
        observer: &mut dyn AcquireObserver,
        abort: &dyn Fn() -> bool,
    ) -> Result<AcquireOutcome, LockError> {
        let start = self.clock.now();
        let mut w = Waiter {
            owner,
            attempts: 0,
            watch: None,
            // Until this lock has seen its document, the insert is the atomic create.
            may_insert: !self.exists.load(Ordering::Relaxed),
            unacked: None,
            errors_in_row: 0,
        };
        // Queue mode: our place in line; dropping it (however we leave) lets the next up.
        let place = self.local_queue().map(|q| q.join(owner));
        // A new head whose lock is held by a local lease parks before reading the
        // store: that holder will hand over or release, and either wakes it.
        let mut fresh_head = true;
        loop {
            if abort() {
                return Ok(self.stop_waiting(place, &mut w, start, Stop::Aborted));
            }
            let waited = self.clock.now() - start;
            if let Some(p) = &place {
                let left = self.config.give_up.saturating_sub(waited);
                match p.turn(self.real(left)) {
                    Turn::Offered(offer) => {
                        if let Some(won) = self.take_offer(&mut w, Some(offer), start) {
                            return Ok(won);
                        }
                    }
                    Turn::NotYet if left.is_zero() => {
                        return Ok(self.stop_waiting(place, &mut w, start, Stop::GaveUp));
                    }
                    Turn::NotYet => {
                        observer.in_line();
                        continue;
                    }
                    Turn::Head => {
                        if fresh_head && let Some(seen) = p.queue().local_holder_generation() {
                            fresh_head = false;
                            let offer = p.park(seen, self.notice_pause(waited), abort);
                            if let Some(won) = self.take_offer(&mut w, offer, start) {
                                return Ok(won);
                            }
                            continue;
                        }
                    }
                }
                fresh_head = false;
            }
            let generation = place.as_ref().map(|p| p.queue().generation());
            w.attempts += 1;
            let mut local_holder = false;
            match self.attempt(&mut w, observer) {
                Ok(Attempt::Won(lease, via, committed)) => {
                    let acquisition = Acquisition {
                        attempts: w.attempts,
                        waited: self.clock.now() - start,
                        via,
                        committed,
                    };
                    let lease = lease.with_base_committed(committed);
                    return Ok(AcquireOutcome::Acquired(Arc::new(lease), acquisition));
                }
                Ok(Attempt::NotYet(seen)) => {
                    w.errors_in_row = 0;
                    if let (Some(place), Seen::Held { owner: holder, .. }) = (&place, &seen) {
                        local_holder = place.queue().is_local_holder(holder);
                    }
                    observer.attempt(w.attempts, &seen);
                }
                Err(LockError::Store(e)) => {
                    w.errors_in_row += 1;
                    observer.attempt(w.attempts, &Seen::StoreError(e.to_string()));
                }
                Err(e) => return Err(e),
            }
            let waited = self.clock.now() - start;
            if waited >= self.config.give_up {
                return Ok(self.stop_waiting(place, &mut w, start, Stop::GaveUp));
            }
            if let (Some(place), Some(seen), true) = (&place, generation, local_holder) {
                // The holder is one of ours: it hands over or wakes us when it lets go.
                let offer = place.park(seen, self.notice_pause(waited), abort);
                if let Some(won) = self.take_offer(&mut w, offer, start) {
                    return Ok(won);
                }
                continue;
            }
            if self.store.notifies() && w.errors_in_row == 0 && !self.clock.is_virtual() {
                // Wait well: sleep until the lock document changes (a release, a
                // heartbeat) rather than polling.
                self.store
                    .wait_for_change(&self.key, self.notice_pause(waited));
                continue;
            }
            let pause = self
                .backoff(w.errors_in_row)
                .min(self.config.give_up - waited);
            if self.clock.sleep_or(pause, abort) == Wake::Interrupted {
                continue; // the abort check at the top reports it
            }
        }
    }

    /// The pause before the next attempt after `errors` store errors in a row.
    fn backoff(&self, errors: u32) -> Duration {
        backoff(self.config.retry, errors)
    }

    /// How long (real time) a waiter that waits for a notice (a change notification
    /// from the store, or a local holder letting go) sleeps before re-reading anyway:
    /// a third of a lease, often enough to time a silent holder's lease (one that
    /// died or stalled is still taken over), and at least `retry`, so a waiter that
    /// is notified is never polled harder than one that is not.
    fn notice_pause(&self, waited: Duration) -> Duration {
        let left = self.config.give_up.saturating_sub(waited);
        self.real(self.config.retry.max(self.config.lease / 3).min(left))
    }

    /// Acts on what a parked head was handed: the lock itself, or a handoff whose
    /// reply was lost (the next read decides), or nothing.
    fn take_offer(
        &self,
        w: &mut Waiter<'_>,
        offer: Option<Offer>,
        start: Duration,
    ) -> Option<AcquireOutcome> {
        match offer? {
            Offer::Handed(handoff) => Some(self.handed(w, handoff, start)),
            Offer::Unknown { sent_at } => {
                // If the handoff applied, our next read finds us the owner. The
                // document exists (somebody held it), so no insert may overwrite this.
                w.unacked = Some((sent_at, Via::Free));
                w.may_insert = false;
                self.exists.store(true, Ordering::Relaxed);
                None
            }
            Offer::Declined => None,
        }
    }

    /// The acquisition a handoff made.
    fn handed(&self, w: &mut Waiter<'_>, h: Handoff, start: Duration) -> AcquireOutcome {
        w.attempts += 1;
        self.exists.store(true, Ordering::Relaxed);
        let lease = self
            .lease(w.owner, h.fence, h.incarnation, h.heartbeat, h.sent_at)
            .with_base_committed(h.committed);
        let acquisition = Acquisition {
            attempts: w.attempts,
            waited: self.clock.now() - start,
            via: Via::Free,
            committed: h.committed,
        };
        AcquireOutcome::Acquired(Arc::new(lease), acquisition)
    }

    /// Ends a wait that did not acquire (abort, give-up), leaving the queue first.
    ///
    /// A holder may have handed us the lock just before we decided to go: then we
    /// take it (the caller deals with why it wanted to stop, as after any
    /// acquisition), rather than leave the lock in our name for a whole lease. If the
    /// handoff's reply was lost, one read tells whether it applied.
    fn stop_waiting(
        &self,
        place: Option<Place>,
        w: &mut Waiter<'_>,
        start: Duration,
        stop: Stop,
    ) -> AcquireOutcome {
        match place.and_then(Place::leave) {
            Some(Offer::Handed(handoff)) => return self.handed(w, handoff, start),
            Some(Offer::Unknown { sent_at }) => {
                // If this read fails too, the lock may stay in our name until a
                // waiter times its lease out: safe, only slow.
                if let Ok(Some(doc)) = self.read()
                    && doc.owner.as_deref() == Some(w.owner)
                {
                    let handoff = Handoff {
                        incarnation: doc.incarnation_or_legacy(),
                        fence: doc.fence,
                        heartbeat: doc.heartbeat,
                        committed: doc.committed,
                        sent_at,
                    };
                    return self.handed(w, handoff, start);
                }
            }
            Some(Offer::Declined) | None => {}
        }
        let (attempts, waited) = (w.attempts, self.clock.now() - start);
        match stop {
            Stop::Aborted => AcquireOutcome::Aborted { attempts, waited },
            Stop::GaveUp => AcquireOutcome::GaveUp { attempts, waited },
        }
    }

    fn attempt(
        &self,
        w: &mut Waiter<'_>,
        observer: &mut dyn AcquireObserver,
    ) -> Result<Attempt, LockError> {
        let owner = w.owner;
        if w.may_insert {
            let sent_at = self.clock.now();
            // If the reply is lost, the insert may still have applied: remember it so
            // the next read can recognise our own owner id. An earlier unanswered
            // write is kept instead: its earlier time is the safe start of a lease.
            let earlier = w.unacked.clone();
            w.unacked.get_or_insert((sent_at, Via::Created));
            let incarnation = new_incarnation();
            let first = LockDoc::first(&self.key, owner, &incarnation, self.output.as_ref());
            match self.store.insert_one(first) {
                Ok(()) => {
                    self.exists.store(true, Ordering::Relaxed);
                    let lease = self.lease(owner, 1, incarnation, 0, sent_at);
                    return Ok(Attempt::Won(lease, Via::Created, 0));
                }
                Err(StoreError::DuplicateKey(_)) => {
                    self.exists.store(true, Ordering::Relaxed);
                    w.may_insert = false;
                    // This insert certainly did not apply; an earlier unanswered
                    // write still may have.
                    w.unacked = earlier;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let cached = self
            .last_released
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(doc) = cached
            && doc.owner.is_none()
            && let Ok(Attempt::Won(lease, via, committed)) = self.cas(w, &doc, Via::Free)
        {
            return Ok(Attempt::Won(lease, via, committed));
        }
        let Some(doc) = self.read()? else {
            // Only possible before the first insert applied (e.g. it failed).
            w.may_insert = true;
            return Ok(Attempt::NotYet(Seen::LostRace));
        };
        if doc.owner.as_deref() == Some(owner) {
            // Our last write applied but its reply was lost: the lock is ours. Its
            // lease counts from when that write was sent.
            let (sent_at, via) = w.unacked.take().unwrap_or((self.clock.now(), Via::Free));
            let incarnation = doc.incarnation_or_legacy();
            let lease = self.lease(owner, doc.fence, incarnation, doc.heartbeat, sent_at);
            return Ok(Attempt::Won(lease, via, doc.committed));
        }
        self.check_output(&doc)?;
        match &doc.owner {
            None => self.cas(w, &doc, Via::Free),
            Some(holder) => {
                let now = self.clock.now();
                let unchanged_since = match &w.watch {
                    Some(x) if x.fence == doc.fence && x.heartbeat == doc.heartbeat => x.since,
                    _ => {
                        w.watch = Some(Watch {
                            fence: doc.fence,
                            heartbeat: doc.heartbeat,
                            since: now,
                        });
                        now
                    }
                };
                let unchanged_for = now - unchanged_since;
                if unchanged_for >= self.config.lease {
                    observer.expired(holder, doc.fence, unchanged_for);
                    let via = Via::Takeover {
                        owner: holder.clone(),
                        fence: doc.fence,
                    };
                    return self.cas(w, &doc, via);
                }
                Ok(Attempt::NotYet(Seen::Held {
                    owner: holder.clone(),
                    fence: doc.fence,
                    heartbeat: doc.heartbeat,
                }))
            }
        }
    }

    /// Takes the lock from the exact state `doc` with one compare-and-set.
    fn cas(&self, w: &mut Waiter<'_>, doc: &LockDoc, via: Via) -> Result<Attempt, LockError> {
        let fence = doc.fence + 1;
        let heartbeat = doc.heartbeat + 1;
        let mut set = json!({ "owner": w.owner, "fence": fence, "heartbeat": heartbeat });
        // A document from a version that wrote no incarnation gets one now; an
        // unbound one is bound to our output. Both in the same compare-and-set.
        let incarnation = match &doc.incarnation {
            Some(i) => i.clone(),
            None => {
                let i = new_incarnation();
                set["incarnation"] = json!(i);
                i
            }
        };
        if doc.output.is_none()
            && let Some(b) = &self.output
        {
            b.write_into(&mut set);
        }
        let sent_at = self.clock.now();
        let earlier = w.unacked.clone();
        w.unacked.get_or_insert((sent_at, via.clone()));
        let filter = match self.broken {
            Some(Broken::BlindAcquire) => json!({ "_id": self.key }),
            _ => doc.cas_filter(),
        };
        match self.store.update_one(&filter, &set)? {
            Some(updated) => {
                let now = LockDoc::from_value(&updated)?;
                let lease = self.lease(w.owner, fence, incarnation, heartbeat, sent_at);
                Ok(Attempt::Won(lease, via, now.committed))
            }
            None => {
                // This CAS certainly did not apply; an earlier unanswered write (e.g.
                // a handoff whose reply was lost) still may have.
                w.unacked = earlier;
                Ok(Attempt::NotYet(Seen::LostRace))
            }
        }
    }

    fn lease(
        &self,
        owner: &str,
        fence: u64,
        incarnation: String,
        heartbeat: u64,
        sent_at: Duration,
    ) -> Lease {
        Lease::new(
            self.store.clone(),
            self.clock.clone(),
            self.key.clone(),
            owner.to_string(),
            fence,
            incarnation,
            heartbeat,
            self.config.lease,
            sent_at,
        )
        .with_unchecked_release(self.broken == Some(Broken::UncheckedRelease))
        .with_release_receipt(self.last_released.clone())
        .with_queue(self.local_queue().cloned())
    }
}

enum Attempt {
    Won(Lease, Via, u64),
    NotYet(Seen),
}

/// Why a wait ends without the lock.
enum Stop {
    Aborted,
    GaveUp,
}

/// The document a lock key has in a store, as JSON (for watch views and tests).
pub fn raw_document(store: &dyn Store, key: &str) -> Result<Option<Value>, StoreError> {
    store.find_one(&json!({ "_id": key }))
}
