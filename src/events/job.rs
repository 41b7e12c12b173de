//! Job numbers, what a job saw of its lock on an attempt (another holder, a lost
//! race, a store error), and how it came to hold it.

use serde::{Deserialize, Serialize};

/// Job number, 1-based; 0 is the engine's own end-of-run recovery.
pub type JobId = u32;

/// What a waiter saw on an attempt that did not acquire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeenLock {
    /// Held by another job.
    Held {
        /// The holder (None if its id is not one of this run's jobs).
        holder: Option<JobId>,
        /// The holder's fence.
        fence: u64,
        /// The heartbeat seen.
        heartbeat: u64,
    },
    /// Free or expired, but another waiter's compare-and-set won.
    LostRace,
    /// The store failed.
    StoreError {
        /// The store's message.
        error: String,
    },
}

/// How a job came to hold the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// First acquisition ever (document inserted).
    Created,
    /// Released by its previous holder: a handoff.
    Handoff,
    /// Taken over after the holder's lease expired.
    Takeover,
}
