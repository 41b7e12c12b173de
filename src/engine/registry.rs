//! What the engine knows about its jobs while they run: who holds each client's
//! lock, which job a worker hash belongs to, and each job's mailbox.
//!
//! Only the engine reads this (to aim commands and name holders in events); the lock
//! itself knows nothing of it and trusts only the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::events::{JobId, Order};
use crate::worker::Mailbox;

/// One job as the registry sees it.
#[derive(Debug)]
pub struct Entry {
    /// Client index.
    pub client: usize,
    /// Worker hash.
    pub hash: String,
    /// Its mailbox.
    pub mailbox: Arc<Mailbox>,
    /// Whether it has not reached an end state yet.
    pub alive: bool,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: Vec<Entry>,
    by_hash: HashMap<String, JobId>,
    holders: Vec<Option<JobId>>,
    /// Why the run was halted, if it was (the first reason).
    halted: Option<String>,
}

/// Shared job bookkeeping for one run.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    /// A registry for `clients` lock keys.
    pub fn new(clients: usize) -> Registry {
        Registry {
            inner: Mutex::new(Inner {
                holders: vec![None; clients],
                ..Inner::default()
            }),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds the next job; returns its number.
    pub fn add(&self, client: usize, hash: String, mailbox: Arc<Mailbox>) -> JobId {
        let mut inner = self.inner();
        let id = inner.jobs.len() as JobId + 1;
        inner.by_hash.insert(hash.clone(), id);
        if inner.halted.is_some() {
            mailbox.post(Order::Stop);
        }
        inner.jobs.push(Entry {
            client,
            hash,
            mailbox,
            alive: true,
        });
        id
    }

    /// How many jobs were ever added.
    pub fn len(&self) -> usize {
        self.inner().jobs.len()
    }

    /// Whether no job was added yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The job a worker hash belongs to.
    pub fn job_of(&self, hash: &str) -> Option<JobId> {
        self.inner().by_hash.get(hash).copied()
    }

    /// Records that `job` now holds client `client`'s lock.
    pub fn set_holder(&self, client: usize, job: JobId) {
        if let Some(slot) = self.inner().holders.get_mut(client) {
            *slot = Some(job);
        }
    }

    /// Clears the holder of `client` if it is still `job`.
    pub fn clear_holder(&self, client: usize, job: JobId) {
        if let Some(slot) = self.inner().holders.get_mut(client)
            && *slot == Some(job)
        {
            *slot = None;
        }
    }

    /// The job that holds `client`'s lock, as far as the engine knows.
    pub fn holder(&self, client: usize) -> Option<JobId> {
        self.inner().holders.get(client).copied().flatten()
    }

    /// The first client's holder, scanning clients in order.
    pub fn any_holder(&self) -> Option<JobId> {
        self.inner().holders.iter().flatten().next().copied()
    }

    /// Marks a job as ended.
    pub fn mark_ended(&self, job: JobId) {
        let Some(index) = (job as usize).checked_sub(1) else {
            return;
        };
        if let Some(e) = self.inner().jobs.get_mut(index) {
            e.alive = false;
        }
    }

    /// The mailbox of a job that is still alive.
    pub fn mailbox_if_alive(&self, job: JobId) -> Option<Arc<Mailbox>> {
        let inner = self.inner();
        let e = inner.jobs.get((job as usize).checked_sub(1)?)?;
        e.alive.then(|| e.mailbox.clone())
    }

    /// Halts the run: every live job gets a stop order, and so does every job added
    /// later. Returns whether this was the first halt (only that one is reported).
    pub fn halt(&self, reason: &str) -> bool {
        let mut inner = self.inner();
        let first = inner.halted.is_none();
        if first {
            inner.halted = Some(reason.to_string());
        }
        for e in inner.jobs.iter().filter(|e| e.alive) {
            e.mailbox.post(Order::Stop);
        }
        first
    }

    /// Why the run was halted, if it was.
    pub fn halted(&self) -> Option<String> {
        self.inner().halted.clone()
    }

    /// Mailboxes of every live job.
    pub fn live_mailboxes(&self) -> Vec<Arc<Mailbox>> {
        self.inner()
            .jobs
            .iter()
            .filter(|e| e.alive)
            .map(|e| e.mailbox.clone())
            .collect()
    }
}
