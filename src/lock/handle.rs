//! Making a [`Lock`] (its store, clock, key and timing, and the optional output,
//! queue and broken variant) and what a caller may ask of it besides acquiring.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::holder::Holder;
use super::queue::LocalQueue;
use super::state::read_doc;
use super::{Broken, Lock, LockConfig, LockDoc, LockError, OutputBinding};
use crate::clock::Clock;
use crate::store::Store;

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
            holder: None,
        }
    }

    /// This lock describing its holder (host, pid, command) in the document it
    /// acquires; the owner id is filled in per acquisition.
    pub fn with_holder(mut self, holder: Option<Holder>) -> Lock {
        self.holder = holder;
        self
    }

    /// The holder description for an acquisition by `owner`, if this lock has one.
    pub(super) fn holder_for(&self, owner: &str) -> Option<Holder> {
        self.holder.clone().map(|h| Holder {
            owner: owner.to_string(),
            ..h
        })
    }

    /// The lease as the document records it: milliseconds, rounded up.
    pub(super) fn lease_ms(&self) -> u64 {
        ms_up(self.config.lease)
    }

    /// The lease in real milliseconds at the clock's speed now, rounded up (what
    /// an onlooker on another clock times the holder against).
    pub(super) fn lease_real_ms(&self) -> u64 {
        ms_up(self.real(self.config.lease))
    }

    /// This lock bound to an output: acquisitions bind an unbound document to it and
    /// refuse a document bound to another output ([`LockError::OtherOutput`]).
    pub fn with_output(mut self, output: Option<OutputBinding>) -> Lock {
        self.output = output;
        self
    }

    /// Refuses a document that commits to another output than ours.
    pub(super) fn check_output(&self, doc: &LockDoc) -> Result<(), LockError> {
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
    pub(super) fn local_queue(&self) -> Option<&Arc<LocalQueue>> {
        self.queue.as_ref().filter(|_| !self.clock.is_virtual())
    }

    /// Scenario time `d` as real time at the clock's current speed.
    pub(super) fn real(&self, d: Duration) -> Duration {
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
        read_doc(self.store.as_ref(), &self.key)
    }
}

/// `d` in whole milliseconds, rounded up.
fn ms_up(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}
