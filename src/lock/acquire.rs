//! The waiting loop: attempts, pauses, give-up and abort, and (in queue mode) the
//! local line and its handoffs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::queue::{Handoff, Offer, Place, Turn};
use super::{
    AcquireObserver, AcquireOutcome, Acquisition, Attempt, Lock, LockError, Seen, Stop, Via,
    Waiter, backoff,
};
use crate::clock::{Signal, Wake};

/// The shortest sleep of a waiter woken by change signals (scenario time).
const MIN_PAUSE: Duration = Duration::from_millis(1);

impl Lock {
    /// Waits for the lock as `owner`, retrying every `retry` until `give_up`.
    ///
    /// `abort` is checked between attempts (and wakes the retry sleep after a
    /// [`Clock::poke`](crate::clock::Clock::poke)); it must only read atomics. After a store error the pause
    /// doubles (up to [`MAX_BACKOFF`](super::MAX_BACKOFF) or `retry`, whichever is longer), so a store in
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
            holder_lease: self.config.lease,
            // Until this lock has seen its document, the insert is the atomic create.
            may_insert: !self.exists.load(Ordering::Relaxed),
            unacked: None,
            errors_in_row: 0,
        };
        // Queue mode: our place in line; dropping it (however we leave) lets the next up.
        let place = self
            .local_queue()
            .map(|q| q.join(owner, self.holder_for(owner)));
        // A new head whose lock is held by a local lease parks before reading the
        // store: that holder will hand over or release, and either wakes it.
        let mut fresh_head = true;
        // A store that notifies on the run's clock wakes us when the lock changes
        // hands (owner or fence), never for a heartbeat. Asked for only once the
        // lock was found taken, so an uncontended acquisition costs no watch.
        let mut signal: Option<Signal> = None;
        let mut asked_for_signal = false;
        // When the first attempt came back: the phase of this waiter's beat.
        let mut phase = None;
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
            // Taken before the read, so a change between the read and the sleep wakes it.
            let seen = signal.as_ref().map(Signal::raised);
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
            if !asked_for_signal && w.errors_in_row == 0 {
                asked_for_signal = true;
                signal = self.store.change_signal(&self.key, &["owner", "fence"]);
                if signal.is_some() {
                    // Read again at once, with the signal's count taken first, so no
                    // change after the read just made can be missed.
                    continue;
                }
            }
            let phase = *phase.get_or_insert_with(|| self.clock.now());
            if let (Some(signal), Some(seen), 0) = (&signal, seen, w.errors_in_row) {
                // Sleep until the lock changes hands, or until the holder could be
                // called expired (a lease after we first saw its heartbeat where it
                // is), when one read tells whether it renewed.
                let now = self.clock.now();
                let expiry_due = w
                    .watch
                    .map_or(now, |still| still.since().saturating_add(w.holder_lease));
                let give_up_at = start.saturating_add(self.config.give_up);
                // At least a moment, so a waiter can never spin on the store.
                let deadline = expiry_due
                    .max(now.saturating_add(MIN_PAUSE))
                    .min(give_up_at);
                self.clock.sleep_until_on_or(deadline, signal, seen, abort);
                if signal.raised() != seen && !abort() {
                    self.settle_after_notice(phase, abort);
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

    /// After a change notice, waits for this waiter's next beat: instants `phase`
    /// (when its first attempt came back) plus a multiple of a tenth of `retry`, so
    /// at most 10 ms with the exercise's 0.1 s. Waiters that arrived at different times so read at different moments
    /// rather than all at the instant of the notice, which on a virtual clock (no
    /// latency) would leave the winner to the OS's thread scheduling, and a seed
    /// would no longer reproduce the order of holders. (The first attempts of waiters
    /// that start together come back at different times: their inserts' latencies.)
    fn settle_after_notice(&self, phase: Duration, abort: &dyn Fn() -> bool) {
        let beat = (self.config.retry / 10).max(MIN_PAUSE);
        let now = self.clock.now();
        let since = now.saturating_sub(phase).as_nanos();
        let beat_ns = beat.as_nanos().max(1);
        // Strictly after now: waiters woken in the same instant (no latency) all
        // sleep to the beat, so what happens at the notice's own instant (a holder
        // of no length releasing again) is seen in one read each, not one per notice.
        let left = u64::try_from(beat_ns - since % beat_ns).unwrap_or(u64::MAX);
        self.clock.sleep_or(Duration::from_nanos(left), abort);
    }

    /// The pause before the next attempt after `errors` store errors in a row.
    pub(super) fn backoff(&self, errors: u32) -> Duration {
        backoff(self.config.retry, errors)
    }

    /// How long (real time) a waiter that waits for a notice (a change notification
    /// from the store, or a local holder letting go) sleeps before re-reading anyway:
    /// a third of a lease, often enough to time a silent holder's lease (one that
    /// died or stalled is still taken over), and at least `retry`, so a waiter that
    /// is notified is never polled harder than one that is not.
    pub(super) fn notice_pause(&self, waited: Duration) -> Duration {
        let left = self.config.give_up.saturating_sub(waited);
        self.real(self.config.retry.max(self.config.lease / 3).min(left))
    }

    /// Acts on what a parked head was handed: the lock itself, or a handoff whose
    /// reply was lost (the next read decides), or nothing.
    pub(super) fn take_offer(
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
    pub(super) fn handed(&self, w: &mut Waiter<'_>, h: Handoff, start: Duration) -> AcquireOutcome {
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
    pub(super) fn stop_waiting(
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
}
