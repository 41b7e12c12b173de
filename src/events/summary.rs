//! The run summary: counts per end state, handoffs, takeovers, store operations,
//! waits, time against the serial sum, and the verdicts.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::event::{Event, How, JobId, Stamped};
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
    /// Whether every output verified and no invariant broke.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.outputs.iter().all(|o| o.passed)
    }

    /// Job faults (crash, kill, stall commands) that hit a job, by kind, and the
    /// faults the store wrapper does not count: resets and run stops.
    pub fn job_faults(events: &[Stamped]) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for s in events {
            match &s.event {
                Event::FaultInjected { what } if what.starts_with("store reset") => {
                    *m.entry("store reset".to_string()).or_insert(0) += 1;
                }
                Event::CommandApplied { command, job: None } if command == "stop" => {
                    *m.entry("run stop".to_string()).or_insert(0) += 1;
                }
                _ => {}
            }
            if let Event::CommandApplied {
                command,
                job: Some(_),
            } = &s.event
            {
                for kind in ["crash", "kill", "stall"] {
                    if command.starts_with(kind) {
                        *m.entry(format!("job {kind}")).or_insert(0) += 1;
                    }
                }
            }
        }
        m
    }

    /// The trouble lines the events show (see [`Summary::trouble`]); `halted` is the
    /// run's halt reason, if any.
    pub fn trouble_of(&self, events: &[Stamped], halted: Option<String>) -> Vec<String> {
        let mut lines: Vec<String> = halted.into_iter().map(|r| format!("halted: {r}")).collect();
        for st in events {
            if let Event::OutputFailed { job, error, .. } = &st.event {
                lines.push(format!("job {job} could not write: {error}"));
            }
        }
        if self.fenced > 0 && self.faults.is_empty() {
            lines.push(format!(
                "{} job(s) lost the lock with no fault injected: the store was slow or unreachable, or the lease is too short for this machine (see the fenced reasons above)",
                self.fenced
            ));
        }
        lines
    }

    /// Finished jobs per client, from the events.
    pub fn finished_per_client(events: &[Stamped]) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for s in events {
            if let Event::Finished { job, client } = &s.event
                && *job != 0
            {
                *m.entry(client.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    /// Counts and timings folded from the events (outputs and violations left empty).
    pub fn tally(events: &[Stamped]) -> Summary {
        let mut s = Summary::default();
        let mut waits = Vec::new();
        let mut hold_start: HashMap<JobId, f64> = HashMap::new();
        let mut last_end: f64 = 0.0;
        for st in events {
            match &st.event {
                Event::Queued { .. } => s.jobs += 1,
                Event::Acquired {
                    job, how, waited, ..
                } => {
                    match how {
                        How::Handoff => s.handoffs += 1,
                        How::Takeover => s.takeovers += 1,
                        How::Created => {}
                    }
                    if *job != 0 {
                        waits.push(*waited);
                        hold_start.insert(*job, st.t);
                    }
                }
                Event::Repair { bytes, .. } => {
                    s.repairs += 1;
                    s.repaired_bytes += bytes;
                }
                Event::WriteRejected { .. } => s.writes_rejected += 1,
                Event::Released { job, .. } => {
                    if let Some(t0) = hold_start.remove(job) {
                        s.serial_time += st.t - t0;
                    }
                }
                e if e.is_end() => {
                    let job = e.job().unwrap_or(0);
                    if job == 0 {
                        continue;
                    }
                    if let Some(t0) = hold_start.remove(&job) {
                        s.serial_time += st.t - t0;
                    }
                    last_end = last_end.max(st.t);
                    match e {
                        Event::Finished { .. } => s.finished += 1,
                        Event::Crashed { .. } => s.crashed += 1,
                        Event::Killed { .. } => s.killed += 1,
                        Event::Fenced { .. } => s.fenced += 1,
                        Event::GaveUp { .. } => s.gave_up += 1,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        s.total_time = last_end;
        if !waits.is_empty() {
            s.mean_wait = waits.iter().sum::<f64>() / waits.len() as f64;
            s.max_wait = waits.iter().cloned().fold(0.0, f64::max);
        }
        s
    }
}
