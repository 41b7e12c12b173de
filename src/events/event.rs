//! The events of a run: the only way the engine (and a job body) talks to the outside.
//!
//! The dashboard, the headless printer and the recorder all consume these, so what a
//! script checks is what a person sees. Every event is stamped with scenario time
//! and a sequence number in emission order.

use serde::{Deserialize, Serialize};

use super::job::{How, JobId, SeenLock};
use super::summary::Summary;

/// Everything the engine reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The run began.
    RunStarted {
        /// Jobs at start.
        jobs: u32,
        /// Clients (lock keys).
        clients: u32,
        /// Store backend name.
        store: String,
        /// Speed multiplier.
        speed: f64,
        /// The seed for every random draw.
        seed: u64,
        /// `real` or `virtual`.
        clock: String,
        /// Lease length in scenario seconds.
        lease: f64,
        /// How the jobs wait: `race` or `queue` (queue mode only runs on a real
        /// clock). Recordings made before it existed read as `race`.
        #[serde(default = "race_mode")]
        wait: String,
        /// The longest a simulated store call may take, scenario seconds (0 on a
        /// real store). With the lease, speed and clock it says whether the lease is
        /// under the floor (`engine::floor`); 0 in recordings made before it existed.
        #[serde(default)]
        latency: f64,
        /// The real-time slack a holder's renewal needs on this machine, real
        /// seconds (`engine::floor::FLOOR`); 0 in older recordings: not judged.
        #[serde(default)]
        floor: f64,
        /// Client names, in client order.
        client_names: Vec<String>,
        /// Output file per client, in client order.
        outputs: Vec<String>,
    },
    /// A job thread exists and is about to ask for the lock.
    Queued {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// The job's identity (worker hash).
        hash: String,
        /// Whether the crash draw says it will crash once it holds the lock.
        will_crash: bool,
    },
    /// An attempt that did not acquire.
    LockAttempt {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// 1-based attempt number.
        attempt: u32,
        /// What it saw.
        seen: SeenLock,
    },
    /// A waiter saw the holder's heartbeat stand still for a whole lease.
    LeaseExpired {
        /// The waiter.
        job: JobId,
        /// Client name.
        client: String,
        /// The holder whose lease expired.
        holder: Option<JobId>,
        /// The holder's fence.
        fence: u64,
        /// How long the heartbeat stood still, seconds.
        unchanged_for: f64,
    },
    /// The job holds the lock and has fenced in at the output.
    Acquired {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// The new fencing token.
        fence: u64,
        /// Attempts it took.
        attempts: u32,
        /// Seconds waited.
        waited: f64,
        /// Created, handoff or takeover.
        how: How,
        /// Previous holder taken over from (takeover only).
        from_job: Option<JobId>,
        /// Previous holder's fence (takeover only).
        from_fence: Option<u64>,
        /// Committed output length read from the lock document.
        committed: u64,
        /// The fence-in's place in the output's write order.
        wseq: u64,
    },
    /// The job won the lock but did not fence in: the output refused it (it is
    /// out of step with the lock document, or the store is behind it) or was
    /// already known to. The job writes nothing and releases at once; the
    /// acquisition counts all the same (a takeover is a takeover).
    NotFencedIn {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// The fence it was given.
        fence: u64,
        /// Created, handoff or takeover.
        how: How,
        /// Previous holder taken over from (takeover only).
        from_job: Option<JobId>,
        /// Previous holder's fence (takeover only).
        from_fence: Option<u64>,
        /// Committed output length read from the lock document.
        committed: u64,
        /// Why it did not fence in.
        reason: String,
    },
    /// The output was truncated back to its committed length.
    Repair {
        /// The job that repaired.
        job: JobId,
        /// Client name.
        client: String,
        /// Fence used.
        fence: u64,
        /// Length before.
        from_len: u64,
        /// Length after.
        to_len: u64,
        /// Bytes removed.
        bytes: u64,
        /// Why (e.g. "takeover from a dead holder", "crash").
        reason: String,
        /// Place in the output's write order.
        wseq: u64,
    },
    /// An accepted chunk.
    ChunkWritten {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Fence the write carried.
        fence: u64,
        /// 1-based chunk number.
        chunk: u32,
        /// Chunks in a record.
        of: u32,
        /// Byte offset.
        offset: u64,
        /// The bytes written.
        text: String,
        /// Place in the output's write order.
        wseq: u64,
    },
    /// The output refused a write (or fence-in) because a higher fence was accepted.
    WriteRejected {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// The job's fence.
        fence: u64,
        /// The fence the output had accepted.
        highest: u64,
    },
    /// The holder renewed its lease.
    Heartbeat {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Fence.
        fence: u64,
        /// New heartbeat value.
        beat: u64,
    },
    /// A renewal failed on a store error (the holder keeps trying until its lease runs out).
    HeartbeatFailed {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// The store's message.
        error: String,
    },
    /// The job was frozen (stall command): no writes, no heartbeats.
    Stalled {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Scenario seconds.
        secs: f64,
    },
    /// The holder released the lock (time is taken before the release is sent).
    Released {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Fence released.
        fence: u64,
        /// Committed length recorded.
        committed: u64,
    },
    /// End state: wrote its record and released.
    Finished {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
    },
    /// End state: clean failure (its partial write was repaired, the lock released).
    Crashed {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Why.
        reason: String,
    },
    /// End state: died without releasing; the lease frees the lock.
    Killed {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Whether it held the lock when it died.
        held: bool,
    },
    /// End state: lost the lock (taken over, rejected by the output, or not renewed).
    Fenced {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Why.
        reason: String,
    },
    /// End state: waited `give_up` without getting the lock.
    GaveUp {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// Attempts made.
        attempts: u32,
        /// Seconds waited.
        waited: f64,
    },
    /// A command took effect.
    CommandApplied {
        /// The command, as text.
        command: String,
        /// The job it hit, if any.
        job: Option<JobId>,
    },
    /// A command could not take effect.
    CommandIgnored {
        /// The command, as text.
        command: String,
        /// Why.
        reason: String,
    },
    /// A store fault was set (latency, jitter, failures, lost replies, outage).
    FaultInjected {
        /// What, as text.
        what: String,
    },
    /// Scenario time froze.
    Paused,
    /// Scenario time runs again.
    Resumed,
    /// The speed changed.
    SpeedChanged {
        /// New speed.
        speed: f64,
    },
    /// A job sent a release but never heard whether it applied (every attempt's
    /// reply was lost until its lease ran out). From its first sending on, the job
    /// acts on nothing: the invariant checker ends its hold there.
    ReleaseUnconfirmed {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// The fence it released.
        fence: u64,
    },
    /// A job could not write its output (a full disk, an I/O error): it crashes, and
    /// the run reports it and fails however the rest goes.
    OutputFailed {
        /// Job number.
        job: JobId,
        /// Client name.
        client: String,
        /// The error.
        error: String,
    },
    /// The run stops because going on could cost records: the store forgot or went
    /// back, or the lock and the output do not belong together. Says how to resume.
    Halted {
        /// The job that found it (0 for the engine).
        job: JobId,
        /// Client name.
        client: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A run invariant was broken (also listed in the summary).
    InvariantBroken {
        /// What broke.
        what: String,
    },
    /// `joblock run`: the command under the lock started.
    CommandStarted {
        /// Job number (a wrapper runs job 1).
        job: JobId,
        /// The lock key.
        client: String,
        /// The command's process id (and process group id).
        pid: u32,
        /// The fence it was given (`JOBLOCK_FENCE`).
        fence: u64,
        /// Program and arguments.
        command: Vec<String>,
    },
    /// `joblock run`: the wrapper signalled the command's process group.
    CommandSignalled {
        /// Job number.
        job: JobId,
        /// The lock key.
        client: String,
        /// e.g. `SIGTERM`.
        signal: String,
        /// Why: forwarded, lease not renewed, revoked, taken over.
        why: String,
    },
    /// `joblock run`: the command ended.
    CommandExited {
        /// Job number.
        job: JobId,
        /// The lock key.
        client: String,
        /// `exit 0`, `signal 9 (SIGKILL)`.
        exit: String,
        /// The wrapper's exit code for it.
        code: u8,
    },
    /// The run is over.
    RunFinished {
        /// Counts, timings, verdicts.
        summary: Box<Summary>,
    },
}

impl Event {
    /// The job this event is about, if any.
    pub fn job(&self) -> Option<JobId> {
        use Event::*;
        match self {
            Queued { job, .. }
            | LockAttempt { job, .. }
            | LeaseExpired { job, .. }
            | Acquired { job, .. }
            | NotFencedIn { job, .. }
            | Repair { job, .. }
            | ChunkWritten { job, .. }
            | WriteRejected { job, .. }
            | Heartbeat { job, .. }
            | HeartbeatFailed { job, .. }
            | Stalled { job, .. }
            | Released { job, .. }
            | ReleaseUnconfirmed { job, .. }
            | Halted { job, .. }
            | OutputFailed { job, .. }
            | Finished { job, .. }
            | Crashed { job, .. }
            | Killed { job, .. }
            | Fenced { job, .. }
            | GaveUp { job, .. }
            | CommandStarted { job, .. }
            | CommandSignalled { job, .. }
            | CommandExited { job, .. } => Some(*job),
            _ => None,
        }
    }

    /// Whether this is one of the end states.
    pub fn is_end(&self) -> bool {
        matches!(
            self,
            Event::Finished { .. }
                | Event::Crashed { .. }
                | Event::Killed { .. }
                | Event::Fenced { .. }
                | Event::GaveUp { .. }
        )
    }
}

/// The wait mode of a recording made before events named it.
fn race_mode() -> String {
    "race".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_from_before_wait_modes_and_floors_reads_as_race_mode_unjudged() {
        let line = r#"{"type":"run_started","jobs":2,"clients":1,"store":"memory","speed":1.0,"seed":3,"clock":"virtual","lease":3.0,"client_names":["client-1"],"outputs":["output.txt"]}"#;
        match serde_json::from_str::<Event>(line) {
            Ok(Event::RunStarted {
                wait,
                latency,
                floor,
                ..
            }) => assert_eq!((wait.as_str(), latency, floor), ("race", 0.0, 0.0)),
            other => panic!("not a run_started: {other:?}"),
        }
    }
}
