//! Queue mode: the waiters of one process on one lock key wait in arrival order, and a
//! release hands the lock straight to the first of them.
//!
//! In race mode (the default) every waiter reads the store and races for a free lock.
//! With many waiters in one process that is a herd: each release wakes them all, they
//! all read, one wins. In queue mode only the first waiter (the *head*) deals with the
//! store at all; the others sleep on a condition variable until it is their turn, so
//! they cost the store nothing. When a holder from this process releases while the head
//! is parked, the release *is* the head's acquisition: one compare-and-set, filtered on
//! the holder's owner and fence as every release is, sets the head as owner with the
//! next fence. A handoff is therefore one store round trip instead of two (release,
//! then acquire), and no other waiter is woken.
//!
//! Nothing about the store protocol changes: the handoff is an ordinary owner- and
//! fence-checked compare-and-set, fences still grow by one per acquisition, and a
//! stalled or dead local holder is timed and taken over by the head exactly as in race
//! mode (the head re-reads every third of a lease while it waits). Waiters in other
//! processes still race, so across processes the lock stays what it was; the queue
//! only puts order and quiet among the waiters of one process.
//!
//! Queue mode needs a real clock: a waiter parked here is invisible to a virtual
//! clock, which would wait for it forever, so a lock on a virtual clock ignores it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Holder;

/// The waiters of one process on one lock key; share one per key among its [`super::Lock`]s.
#[derive(Default)]
pub struct LocalQueue {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Ticket numbers are handed out in arrival order; the smallest waiting is the head.
    next_ticket: u64,
    tickets: BTreeMap<u64, Ticket>,
    /// Owner ids of the leases of this queue held right now (with a count, in case
    /// one owner id is reused).
    holders: HashMap<String, usize>,
    /// Bumped by every local release and lost lease: a head that read the store before
    /// a bump must not sleep on what it read.
    generation: u64,
}

struct Ticket {
    owner: String,
    /// Who the waiter is, for people: a handoff writes it with the new owner.
    holder: Option<Holder>,
    wake: Arc<Condvar>,
    phase: Phase,
}

/// Where a waiter is, as far as a releasing holder is concerned.
enum Phase {
    /// In line and not yet working: may be handed the lock once it is the head.
    Queued,
    /// Working as the head (reading the store, trying a compare-and-set): not to be
    /// handed to, since it may be about to win or act on what it read.
    Busy,
    /// Parked as head, waiting for a local holder: may be handed the lock.
    Parked,
    /// A holder has picked it and is sending the handoff: it must wait for the result.
    Claimed,
    /// The holder's handoff came back with this result.
    Offered(Offer),
}

/// What a releasing holder's handoff to the head came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Offer {
    /// The head now holds the lock.
    Handed(Handoff),
    /// The holder had lost the lock: the head carries on waiting as before.
    Declined,
    /// The handoff's reply was lost: it may have applied. The head re-reads and, if it
    /// finds itself the owner, holds the lock from `sent_at`.
    Unknown { sent_at: Duration },
}

/// The lock document a handoff left, and when it was sent (scenario time): the
/// new holder's lease starts then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handoff {
    pub incarnation: String,
    pub fence: u64,
    pub heartbeat: u64,
    pub committed: u64,
    pub sent_at: Duration,
}

/// How long a waiter that is not the head sleeps between checks of its abort predicate
/// and its give-up time (real time). Becoming the head wakes it at once.
const TICK: Duration = Duration::from_millis(50);

impl LocalQueue {
    /// An empty queue.
    pub fn new() -> Arc<LocalQueue> {
        Arc::new(LocalQueue::default())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many waiters are queued (for tests and views).
    pub fn waiting(&self) -> usize {
        self.state().tickets.len()
    }

    /// Queues `owner` (described by `holder`) behind everybody already waiting.
    pub(crate) fn join(self: &Arc<Self>, owner: &str, holder: Option<Holder>) -> Place {
        let mut st = self.state();
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.tickets.insert(
            ticket,
            Ticket {
                owner: owner.to_string(),
                holder,
                wake: Arc::new(Condvar::new()),
                phase: Phase::Queued,
            },
        );
        Place {
            queue: Arc::clone(self),
            ticket,
        }
    }

    /// Records a lease of this queue as held by `owner`.
    pub(crate) fn hold(&self, owner: &str) {
        *self.state().holders.entry(owner.to_string()).or_default() += 1;
    }

    /// Records that `owner`'s lease ended (released, lost or dropped) and wakes the head.
    pub(crate) fn unhold(&self, owner: &str) {
        let mut st = self.state();
        if let Some(n) = st.holders.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                st.holders.remove(owner);
            }
        }
        st.changed();
    }

    /// Whether `owner` holds a lease of this queue (so the head can wait here for it).
    pub(crate) fn is_local_holder(&self, owner: &str) -> bool {
        self.state().holders.contains_key(owner)
    }

    /// Whether the first waiter is parked waiting for a local holder, so that a
    /// release would hand the lock straight to it (for tests and views).
    pub fn head_parked(&self) -> bool {
        let st = self.state();
        st.tickets
            .values()
            .next()
            .is_some_and(|t| matches!(t.phase, Phase::Parked))
    }

    /// The current generation if a lease of this queue is held right now (read
    /// together, so a release in between cannot be missed by a park on it).
    pub(crate) fn local_holder_generation(&self) -> Option<u64> {
        let st = self.state();
        (!st.holders.is_empty()).then_some(st.generation)
    }

    /// The current generation (see [`State::generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Picks the head for a handoff if it is parked waiting for a local holder, or
    /// has not started working yet (it may still be waking up after its predecessor
    /// left); from now on it waits for [`LocalQueue::offer`].
    pub(crate) fn claim_head(&self) -> Option<(u64, String, Option<Holder>)> {
        let mut st = self.state();
        let (&ticket, head) = st.tickets.iter_mut().next()?;
        if !matches!(head.phase, Phase::Parked | Phase::Queued) {
            return None;
        }
        head.phase = Phase::Claimed;
        Some((ticket, head.owner.clone(), head.holder.clone()))
    }

    /// Gives a claimed head the result of the handoff.
    pub(crate) fn offer(&self, ticket: u64, offer: Offer) {
        let mut st = self.state();
        if let Some(t) = st.tickets.get_mut(&ticket) {
            t.phase = Phase::Offered(offer);
            t.wake.notify_one();
        }
        st.changed();
    }
}

impl State {
    /// Something a parked head waits for happened: bump the generation, wake the head.
    fn changed(&mut self) {
        self.generation += 1;
        if let Some((_, head)) = self.tickets.iter().next() {
            head.wake.notify_one();
        }
    }
}

/// Where [`Place::turn`] found a waiter.
pub(crate) enum Turn {
    /// Others are still ahead of it.
    NotYet,
    /// It is first in line, and working.
    Head,
    /// A releasing holder handed it the lock (or tried to).
    Offered(Offer),
}

/// A waiter's place in a [`LocalQueue`]; leaving (or dropping it) lets the next one up.
pub(crate) struct Place {
    queue: Arc<LocalQueue>,
    ticket: u64,
}

impl Place {
    /// The queue this place is in.
    pub(crate) fn queue(&self) -> &Arc<LocalQueue> {
        &self.queue
    }

    /// Waits out a claim on this waiter (a holder is sending it a handoff) and takes
    /// a handoff made to it. Unless the ticket is gone, its phase is `Busy` after.
    fn settle<'a>(&self, mut st: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, Settled) {
        loop {
            let Some(t) = st.tickets.get_mut(&self.ticket) else {
                return (st, Settled::Gone);
            };
            match std::mem::replace(&mut t.phase, Phase::Busy) {
                Phase::Offered(offer) => return (st, Settled::Offered(offer)),
                Phase::Claimed => {
                    t.phase = Phase::Claimed;
                    let wake = t.wake.clone();
                    st = wake.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                Phase::Queued | Phase::Busy | Phase::Parked => return (st, Settled::Free),
            }
        }
    }

    /// Sets this waiter's phase and sleeps on its wake-up signal for at most `left`.
    fn sleep<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        phase: Phase,
        left: Duration,
    ) -> MutexGuard<'a, State> {
        let Some(t) = st.tickets.get_mut(&self.ticket) else {
            return st;
        };
        t.phase = phase;
        let wake = t.wake.clone();
        wake.wait_timeout(st, left)
            .unwrap_or_else(|p| p.into_inner())
            .0
    }

    /// Waits for this waiter's turn: returns at once with a handoff made to it, or as
    /// the head (now working, so no longer handed to), or after `timeout` (capped at
    /// [`TICK`] so abort and give-up are checked) still behind others. A claimed
    /// waiter always waits for the result of its handoff.
    pub(crate) fn turn(&self, timeout: Duration) -> Turn {
        let deadline = Instant::now().checked_add(timeout.min(TICK));
        let mut st = self.queue.state();
        loop {
            let settled;
            (st, settled) = self.settle(st);
            match settled {
                Settled::Offered(offer) => return Turn::Offered(offer),
                Settled::Gone => return Turn::Head,
                Settled::Free => {}
            }
            if st.tickets.keys().next() == Some(&self.ticket) {
                return Turn::Head;
            }
            let left = deadline.map_or(TICK, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                // Back in line, where only becoming the head makes it claimable.
                if let Some(t) = st.tickets.get_mut(&self.ticket) {
                    t.phase = Phase::Queued;
                }
                return Turn::NotYet;
            }
            st = self.sleep(st, Phase::Queued, left);
        }
    }

    /// The head, having seen a local holder: parks until that holder hands over or
    /// releases, the generation moves past `seen`, `timeout` passes or `abort` holds
    /// (checked every [`TICK`]). A claimed head always waits for the result of its
    /// handoff, whatever the timeout.
    pub(crate) fn park(
        &self,
        seen: u64,
        timeout: Duration,
        abort: &dyn Fn() -> bool,
    ) -> Option<Offer> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.queue.state();
        loop {
            let settled;
            (st, settled) = self.settle(st);
            match settled {
                Settled::Offered(offer) => return Some(offer),
                Settled::Gone => return None,
                Settled::Free => {}
            }
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if st.generation != seen || left.is_zero() || abort() {
                return None; // phase is Busy again: no handoff can pick us now
            }
            st = self.sleep(st, Phase::Parked, left.min(TICK));
        }
    }

    /// Leaves the queue without having acquired (abort, give-up), returning a handoff
    /// made to this waiter meanwhile: a holder may have claimed it just before it
    /// decided to go, and then the lock may already be in its name. Waits for a
    /// claimed handoff's result; once gone, no holder can pick it.
    pub(crate) fn leave(self) -> Option<Offer> {
        let (st, settled) = self.settle(self.queue.state());
        // Unlock before `Drop` removes the ticket (it locks the queue again).
        drop(st);
        match settled {
            Settled::Offered(offer) => Some(offer),
            Settled::Gone | Settled::Free => None,
        }
    }
}

/// A waiter's ticket once any claim on it is settled.
enum Settled {
    /// The ticket is no longer in the queue.
    Gone,
    /// A handoff was made to it.
    Offered(Offer),
    /// Nobody is handing it anything.
    Free,
}

impl Drop for Place {
    /// Leaves the queue and wakes the next waiter, who may now be the head.
    fn drop(&mut self) {
        let mut st = self.queue.state();
        st.tickets.remove(&self.ticket);
        if let Some((_, head)) = st.tickets.iter().next() {
            head.wake.notify_one();
        }
    }
}
