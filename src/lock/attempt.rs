//! One attempt at the lock: the atomic create, the compare-and-set on a free or
//! expired document, recognising our own write whose reply was lost, and the lease
//! a win hands out.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use super::state::{Stillness, is_expired};
use super::{
    AcquireObserver, Attempt, Broken, Lease, Lock, LockDoc, LockError, Seen, Via, Waiter,
    new_incarnation,
};
use crate::store::StoreError;

impl Lock {
    pub(super) fn attempt(
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
            let mut first = LockDoc::first(&self.key, owner, &incarnation, self.output.as_ref());
            first.lease_ms = Some(self.lease_ms());
            first.lease_real_ms = Some(self.lease_real_ms());
            first.holder = self.holder_for(owner);
            match self.store.insert_one(first.to_value()) {
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
                let unchanged_for = Stillness::observe(&mut w.watch, doc.fence, doc.heartbeat, now);
                // Never sooner than the holder's own lease: processes with different
                // --lease settings share keys.
                let lease = doc.lease_ms.map_or(self.config.lease, |ms| {
                    self.config.lease.max(Duration::from_millis(ms))
                });
                w.holder_lease = lease;
                if is_expired(unchanged_for, lease) {
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
    pub(super) fn cas(
        &self,
        w: &mut Waiter<'_>,
        doc: &LockDoc,
        via: Via,
    ) -> Result<Attempt, LockError> {
        let fence = doc.fence + 1;
        let heartbeat = doc.heartbeat + 1;
        let mut set = json!({
            "owner": w.owner, "fence": fence, "heartbeat": heartbeat,
            "lease_ms": self.lease_ms(), "lease_real_ms": self.lease_real_ms(),
        });
        if let Some(h) = self.holder_for(w.owner) {
            set["holder"] = h.to_value();
        }
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

    pub(super) fn lease(
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
