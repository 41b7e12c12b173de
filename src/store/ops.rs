//! Counting store operations by kind, for the run summary and the benchmarks.
//!
//! The kinds and the snapshot are plain data of the event vocabulary
//! ([`crate::events::OpCounts`]), so that a summary never depends on a store.

use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::events::{OpCounts, OpKind};

/// Lock-free counters, one per kind; shared by every handle of a store.
#[derive(Debug, Default)]
pub struct OpCounter([AtomicU64; 9]);

impl OpCounter {
    /// Records one operation of `kind`.
    pub fn record(&self, kind: OpKind) {
        self.0[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> OpCounts {
        OpCounts(
            OpKind::ALL
                .iter()
                .map(|k| (*k, self.0[*k as usize].load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        )
    }
}
