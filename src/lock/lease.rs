//! A held lock: renewal, release and self-fencing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

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
    lease: Duration,
    heartbeat: AtomicU64,
    lost: AtomicBool,
    /// Scenario time at which the last successful renewal (or the acquisition) was
    /// *sent*: a waiter cannot have started its expiry timer before that moment.
    renewed_at: Mutex<Duration>,
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
            lease,
            heartbeat: AtomicU64::new(heartbeat),
            lost: AtomicBool::new(false),
            renewed_at: Mutex::new(sent_at),
        }
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

    /// The lease length.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The last heartbeat value written.
    pub fn heartbeat(&self) -> u64 {
        self.heartbeat.load(Ordering::SeqCst)
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

    /// Renews the lease: a compare-and-set on our owner and fence that bumps the heartbeat.
    pub fn renew(&self) -> Result<Renewal, StoreError> {
        if self.is_lost() {
            return Ok(Renewal::Lost);
        }
        let sent_at = self.clock.now();
        let next = self.heartbeat() + 1;
        let filter = json!({ "_id": self.key, "owner": self.owner, "fence": self.fence });
        match self
            .store
            .update_one(&filter, &json!({ "heartbeat": next }))?
        {
            Some(_) => {
                self.heartbeat.store(next, Ordering::SeqCst);
                let mut at = self.renewed_at.lock().unwrap_or_else(|p| p.into_inner());
                *at = (*at).max(sent_at);
                Ok(Renewal::Renewed(next))
            }
            None => {
                self.lost.store(true, Ordering::SeqCst);
                Ok(Renewal::Lost)
            }
        }
    }

    /// Releases the lock, recording the committed output length; `false` if it was lost.
    ///
    /// The document is never deleted (that would reset the fence): the owner is set to
    /// null and the heartbeat bumped so that waiters see the change.
    pub fn release(&self, committed: u64) -> Result<bool, StoreError> {
        if self.is_lost() {
            return Ok(false);
        }
        let filter = json!({ "_id": self.key, "owner": self.owner, "fence": self.fence });
        let set = json!({
            "owner": null,
            "heartbeat": self.heartbeat() + 1,
            "committed": committed,
        });
        match self.store.update_one(&filter, &set)? {
            Some(_) => Ok(true),
            None => {
                self.lost.store(true, Ordering::SeqCst);
                Ok(false)
            }
        }
    }
}
