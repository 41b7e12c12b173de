//! A held lock: renewal, release and self-fencing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::queue::{Handoff, LocalQueue, Offer};
use super::{Holder, LockDoc};
use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The heartbeat moved to this value.
    Renewed(u64),
    /// Nothing matched our owner and fence: somebody took the lock over.
    Lost,
}

/// A lock this caller holds, with the fence it was acquired with.
///
/// Shared (in an `Arc`) by the job and its heartbeat thread.
pub struct Lease {
    store: Arc<dyn Store>,
    clock: Clock,
    key: String,
    owner: String,
    fence: u64,
    /// The lock document's incarnation id (see [`super::LockDoc::incarnation`]).
    incarnation: String,
    lease: Duration,
    heartbeat: AtomicU64,
    lost: AtomicBool,
    /// Scenario time at which the last successful renewal (or the acquisition) was
    /// *sent*: a waiter cannot have started its expiry timer before that moment.
    renewed_at: Mutex<Duration>,
    /// Deliberately broken release by `_id` alone (tests of the checkers only).
    unchecked_release: bool,
    /// A release attempt failed on a store error (its reply may have been lost).
    release_errored: AtomicBool,
    /// The committed length when the lock was acquired.
    base_committed: u64,
    /// Where a successful release leaves the document it produced, for the lock's
    /// next acquisition to start from.
    receipt: Option<Arc<Mutex<Option<LockDoc>>>>,
    /// Queue mode: the local queue this lease is counted in as a holder, and whose
    /// head a release hands the lock to.
    queue: Option<Arc<LocalQueue>>,
    /// Whether this lease still counts as a holder in `queue`.
    in_queue: AtomicBool,
}

impl Lease {
    /// Wraps a fresh acquisition; `sent_at` is when the acquiring operation was issued.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        key: String,
        owner: String,
        fence: u64,
        incarnation: String,
        heartbeat: u64,
        lease: Duration,
        sent_at: Duration,
    ) -> Lease {
        Lease {
            store,
            clock,
            key,
            owner,
            fence,
            incarnation,
            lease,
            heartbeat: AtomicU64::new(heartbeat),
            lost: AtomicBool::new(false),
            renewed_at: Mutex::new(sent_at),
            unchecked_release: false,
            release_errored: AtomicBool::new(false),
            base_committed: 0,
            receipt: None,
            queue: None,
            in_queue: AtomicBool::new(false),
        }
    }

    /// Counts this lease as a holder in `queue`, whose head its release hands over to.
    pub(crate) fn with_queue(mut self, queue: Option<Arc<LocalQueue>>) -> Lease {
        if let Some(q) = &queue {
            q.hold(&self.owner);
            self.in_queue.store(true, Ordering::SeqCst);
        }
        self.queue = queue;
        self
    }

    /// This lease no longer holds: stop counting it in the queue (once) and wake its head.
    fn leave_queue(&self) {
        if let Some(q) = &self.queue
            && self.in_queue.swap(false, Ordering::SeqCst)
        {
            q.unhold(&self.owner);
        }
    }

    /// Hands the document a successful release produces to `slot`.
    pub(crate) fn with_release_receipt(mut self, slot: Arc<Mutex<Option<LockDoc>>>) -> Lease {
        self.receipt = Some(slot);
        self
    }

    /// Records the committed length the lock had when it was acquired.
    pub(crate) fn with_base_committed(mut self, committed: u64) -> Lease {
        self.base_committed = committed;
        self
    }

    /// Makes `release` skip the owner and fence check (a deliberately broken lock).
    pub(crate) fn with_unchecked_release(mut self, unchecked: bool) -> Lease {
        self.unchecked_release = unchecked;
        self
    }

    /// The lock key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The holder id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The fencing token of this acquisition.
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// The lock document's incarnation id: which document this fence belongs to.
    pub fn incarnation(&self) -> &str {
        &self.incarnation
    }

    /// The lease length.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The last heartbeat value written.
    pub fn heartbeat(&self) -> u64 {
        self.heartbeat.load(Ordering::SeqCst)
    }

    /// Whether a release attempt failed on a store error (its reply may have been
    /// lost after it applied, so a later "nothing matched" is no proof of a takeover).
    pub fn release_errored(&self) -> bool {
        self.release_errored.load(Ordering::SeqCst)
    }

    /// Whether a renewal or release found the lock taken over.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Whether the holder may still act: not lost, and renewed within one lease.
    ///
    /// The second half is self-fencing against a store we cannot reach: if renewals
    /// fail for a whole lease, a waiter may already have taken over.
    pub fn is_valid(&self) -> bool {
        if self.is_lost() {
            return false;
        }
        let renewed_at = *self.renewed_at.lock().unwrap_or_else(|p| p.into_inner());
        self.clock.now() < renewed_at + self.lease
    }

    /// How long this holder may still act on its last successful renewal (zero once
    /// a waiter may take over). A watchdog stops the work well before it reaches zero.
    pub fn valid_for(&self) -> Duration {
        if self.is_lost() {
            return Duration::ZERO;
        }
        let renewed_at = *self.renewed_at.lock().unwrap_or_else(|p| p.into_inner());
        (renewed_at + self.lease).saturating_sub(self.clock.now())
    }

    /// Renews the lease: a compare-and-set on our owner and fence that bumps the heartbeat.
    pub fn renew(&self) -> Result<Renewal, StoreError> {
        if self.is_lost() {
            return Ok(Renewal::Lost);
        }
        let sent_at = self.clock.now();
        // Count up before sending: if the reply is lost after the update applied, the
        // next renewal still writes a new value, so waiters keep seeing it move.
        let next = self.heartbeat.fetch_add(1, Ordering::SeqCst) + 1;
        let filter = self.ours();
        match self
            .store
            .update_one(&filter, &json!({ "heartbeat": next }))?
        {
            Some(_) => {
                let mut at = self.renewed_at.lock().unwrap_or_else(|p| p.into_inner());
                *at = (*at).max(sent_at);
                Ok(Renewal::Renewed(next))
            }
            None => {
                self.lost.store(true, Ordering::SeqCst);
                // A lost lease holds nothing: a local head must not wait on it.
                self.leave_queue();
                Ok(Renewal::Lost)
            }
        }
    }

    /// Releases the lock, recording the committed output length; `false` if it was lost.
    ///
    /// The document is never deleted (that would reset the fence): the owner is set to
    /// null and the heartbeat bumped so that waiters see the change.
    ///
    /// After a lost reply, a retry that matches nothing is our own release having
    /// applied if our lease is still valid (nobody can have taken over yet); later,
    /// the `released_fence` the release records still tells, unless another holder
    /// has released since. Call it before the lease runs out.
    pub fn release(&self, committed: u64) -> Result<bool, StoreError> {
        let released = self.release_in_store(committed);
        // Released or lost, this lease holds nothing any more; after an error it may
        // still hold, and the caller retries.
        if released.is_ok() {
            self.leave_queue();
        }
        released
    }

    /// [`Lease::release`] without the queue bookkeeping.
    fn release_in_store(&self, committed: u64) -> Result<bool, StoreError> {
        if self.is_lost() && !self.unchecked_release {
            return Ok(false);
        }
        let retrying = self.release_errored.load(Ordering::SeqCst);
        // Queue mode: if the first local waiter is parked, this release is its
        // acquisition (a retry after a lost reply releases plainly: the recognition
        // below covers a handoff that applied).
        if !retrying
            && !self.unchecked_release
            && let Some(q) = &self.queue
            && let Some((ticket, next, holder)) = q.claim_head()
        {
            return self.hand_over(q, ticket, (&next, holder.as_ref()), committed);
        }
        let filter = if self.unchecked_release {
            json!({ "_id": self.key })
        } else {
            self.ours()
        };
        let set = self.release_set(json!(null), self.fence, self.heartbeat() + 1, committed);
        let outcome = self.store.update_one(&filter, &set);
        if outcome.is_err() {
            self.release_errored.store(true, Ordering::SeqCst);
        }
        match outcome? {
            Some(doc) => {
                if let (Some(slot), Ok(doc)) = (&self.receipt, LockDoc::from_value(&doc)) {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(doc);
                }
                Ok(true)
            }
            // An earlier attempt errored and now nothing matches: the document changed.
            // While our lease is valid nobody can have taken over, and our heartbeat
            // is stopped, so the change can only be our own release (or handoff)
            // applying.
            None if retrying && self.is_valid() => Ok(true),
            None if retrying && self.my_release_applied(committed)? => Ok(true),
            None => {
                self.lost.store(true, Ordering::SeqCst);
                Ok(false)
            }
        }
    }

    /// The filter that matches the lock document only while it is ours: our owner
    /// id and fence (renewal, release and handoff are all checked this way).
    fn ours(&self) -> serde_json::Value {
        json!({ "_id": self.key, "owner": self.owner, "fence": self.fence })
    }

    /// The fields a release sets: `owner` (null, or the next holder on a handoff),
    /// the committed length, a moved heartbeat, and `fence`.
    ///
    /// Only a release that commits a record leaves its receipt (`released_fence`): a
    /// holder that crashed without writing must not overwrite the receipt of the
    /// record before.
    fn release_set(
        &self,
        owner: serde_json::Value,
        fence: u64,
        heartbeat: u64,
        committed: u64,
    ) -> serde_json::Value {
        let mut set = json!({
            "owner": owner,
            "heartbeat": heartbeat,
            "committed": committed,
        });
        if fence != self.fence {
            set["fence"] = json!(fence);
        }
        if committed > self.base_committed {
            set["released_fence"] = json!(self.fence);
        }
        set
    }

    /// Releases by handing the lock to the parked head `next` of our queue: one
    /// compare-and-set on our owner and fence that makes `next` the owner with the
    /// next fence (and its description, for people). The head learns the result
    /// through the queue.
    fn hand_over(
        &self,
        queue: &LocalQueue,
        ticket: u64,
        (next, holder): (&str, Option<&Holder>),
        committed: u64,
    ) -> Result<bool, StoreError> {
        let filter = self.ours();
        let fence = self.fence + 1;
        // Read once: the next holder's lease must start from exactly what we write.
        let heartbeat = self.heartbeat() + 1;
        let mut set = self.release_set(json!(next), fence, heartbeat, committed);
        if let Some(h) = holder {
            set["holder"] = h.to_value();
        }
        let sent_at = self.clock.now();
        match self.store.update_one(&filter, &set) {
            Ok(Some(_)) => {
                // Stop counting as a holder before the head learns it holds: the
                // other way round, our unhold would wake the next head, parked on the
                // new holder, for nothing.
                self.leave_queue();
                let handed = Handoff {
                    incarnation: self.incarnation.clone(),
                    fence,
                    heartbeat,
                    committed,
                    sent_at,
                };
                queue.offer(ticket, Offer::Handed(handed));
                Ok(true)
            }
            Ok(None) => {
                self.lost.store(true, Ordering::SeqCst);
                self.leave_queue(); // as above: before the head acts on the offer
                queue.offer(ticket, Offer::Declined);
                Ok(false)
            }
            Err(e) => {
                // Our retry releases plainly and recognises an applied handoff; the
                // head re-reads and recognises itself as the owner.
                self.release_errored.store(true, Ordering::SeqCst);
                queue.offer(ticket, Offer::Unknown { sent_at });
                Err(e)
            }
        }
    }

    /// After an earlier release attempt failed: did it apply after all?
    fn my_release_applied(&self, committed: u64) -> Result<bool, StoreError> {
        let doc = self.store.find_one(&json!({ "_id": self.key }))?;
        Ok(doc.is_some_and(|d| {
            let fence = d.get("fence").and_then(|v| v.as_u64());
            // Free at our fence: only our own release sets the owner to null while
            // the fence is ours (a takeover raises the fence).
            let free_at_ours =
                fence == Some(self.fence) && d.get("owner").is_some_and(|o| o.is_null());
            free_at_ours
                || (d.get("released_fence").and_then(|v| v.as_u64()) == Some(self.fence)
                    && d.get("committed").and_then(|v| v.as_u64()) == Some(committed))
        }))
    }
}

impl Drop for Lease {
    /// A lease dropped while held (its job died) stops counting as a local holder,
    /// so its queue's head goes back to the store to time it.
    fn drop(&mut self) {
        self.leave_queue();
    }
}
