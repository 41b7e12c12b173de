//! The run summary: counts per end state, handoffs, takeovers, store operations,
//! waits, time against the serial sum, and the verdicts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ops::OpCounts;

/// The checker's verdict on one client's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputCheck {
    /// Client name.
    pub client: String,
    /// File path.
    pub path: String,
    /// Records found.
    pub records: usize,
    /// Records expected (that client's finished jobs).
    pub expected: usize,
    /// Whether the handout and strict rules (with the expected count) pass.
    pub passed: bool,
    /// The checker's one line.
    pub verdict: String,
}

/// What a run did, for people and scripts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Jobs run (including added ones).
    pub jobs: u32,
    /// Jobs that wrote their record and released.
    pub finished: u32,
    /// Clean failures.
    pub crashed: u32,
    /// Jobs that died holding or waiting.
    pub killed: u32,
    /// Jobs that lost the lock.
    pub fenced: u32,
    /// Jobs that gave up waiting.
    pub gave_up: u32,
    /// Acquisitions of a lock its previous holder released.
    pub handoffs: u32,
    /// Acquisitions after a lease expired (the end-of-run recovery included).
    pub takeovers: u32,
    /// Truncations of a torn tail.
    pub repairs: u32,
    /// Bytes truncated by repairs.
    pub repaired_bytes: u64,
    /// Writes the output refused because of the fence.
    pub writes_rejected: u32,
    /// Store operations by kind.
    pub store_ops: OpCounts,
    /// Acquisitions of every kind (created, handed off, taken over).
    #[serde(default)]
    pub acquisitions: u32,
    /// Lease renewals attempted (each one store operation), kept apart from the
    /// operations of acquiring and waiting.
    #[serde(default)]
    pub heartbeats: u64,
    /// Mean seconds a job waited for the lock (jobs that acquired it).
    pub mean_wait: f64,
    /// Longest wait, seconds.
    pub max_wait: f64,
    /// Scenario seconds from start to the last end state.
    pub total_time: f64,
    /// Sum of every job's time holding the lock: the run's length if jobs ran one by one.
    pub serial_time: f64,
    /// Verdict per output file.
    pub outputs: Vec<OutputCheck>,
    /// Broken run invariants (empty when sound).
    pub violations: Vec<String>,
    /// Faults injected: job faults that hit a job (crash, kill, stall) and store
    /// faults by kind.
    #[serde(default)]
    pub faults: BTreeMap<String, u64>,
    /// What went wrong outside the lock's control, one line each: the run halted
    /// (the store forgot, the output belongs to another lock), a job could not write,
    /// jobs ended fenced with no fault injected. Any makes the run fail.
    #[serde(default)]
    pub trouble: Vec<String>,
}

impl Summary {
    /// Store operations per acquisition, heartbeats left out (none without one).
    pub fn ops_per_acquisition(&self) -> Option<f64> {
        let total: u64 = self.store_ops.0.values().sum();
        (self.acquisitions > 0)
            .then(|| total.saturating_sub(self.heartbeats) as f64 / f64::from(self.acquisitions))
    }

    /// `; N per acquisition, besides H heartbeats` for the store-ops line: what
    /// waiting and acquiring cost, apart from what holding does.
    pub fn per_acquisition_text(&self) -> String {
        self.ops_per_acquisition()
            .map(|per| {
                format!(
                    "; {per:.1} per acquisition, besides {} heartbeats",
                    self.heartbeats
                )
            })
            .unwrap_or_default()
    }

    /// Whether every output verified and no invariant broke.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.outputs.iter().all(|o| o.passed)
    }
}
