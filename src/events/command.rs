//! Commands flowing back into a running engine (from the dashboard's keys, a
//! script's schedule, or a test), and the orders a job's mailbox delivers.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::job::JobId;

/// Which job a fault command hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Whoever holds the lock of this client (the first client holding one when `None`).
    Holder(Option<String>),
    /// A job by number.
    Job(JobId),
}

/// Something to do to a running engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Freeze scenario time.
    Pause,
    /// Let scenario time run again.
    Resume,
    /// Change the speed multiplier.
    SetSpeed(f64),
    /// Clean failure: repair its partial write, release the lock, end `crashed`.
    Crash(Target),
    /// Stop dead: no repair, no release; the lease must free the lock.
    Kill(Target),
    /// Freeze the job (writes and heartbeats) for this many scenario seconds.
    Stall(Target, f64),
    /// Start one more job (for this client, or the next in turn).
    AddJob(Option<String>),
    /// End the run cleanly: every job stops, partial writes are repaired.
    Stop,
    /// Inject a store fault (every store is wrapped so faults work on any backend).
    Fault(StoreFault),
}

/// A store fault to inject while jobs run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreFault {
    /// Uniform `[0, SECS)` extra latency on every operation (0 turns it off).
    Latency(f64),
    /// Uniform `[0, max)` extra latency on every operation for `secs`.
    Spike {
        /// Latency maximum, seconds.
        max: f64,
        /// How long, seconds.
        secs: f64,
    },
    /// Random yields and tiny sleeps around operations with this probability.
    Jitter(f64),
    /// The next N operations fail before applying.
    FailNext(u64),
    /// Each operation fails before applying with this probability.
    FailProbability(f64),
    /// The next N operations apply, but their replies are lost.
    LoseNext(u64),
    /// Each operation's reply is lost (after applying) with this probability.
    LoseProbability(f64),
    /// Every operation fails for this many seconds.
    Outage(f64),
    /// The store forgets every document (a Redis restart without persistence, a
    /// truncated table): the output must notice and the run halt, losing nothing.
    Reset,
    /// Every store fault off.
    Clear,
}

impl fmt::Display for StoreFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreFault::Latency(s) => write!(f, "latency up to {s}s on every operation"),
            StoreFault::Spike { max, secs } => {
                write!(f, "latency spike up to {max}s for {secs}s")
            }
            StoreFault::Jitter(p) => write!(f, "scheduling jitter p={p}"),
            StoreFault::FailNext(n) => write!(f, "fail the next {n} operations"),
            StoreFault::FailProbability(p) => write!(f, "fail operations with p={p}"),
            StoreFault::LoseNext(n) => write!(f, "lose the replies of the next {n} operations"),
            StoreFault::LoseProbability(p) => write!(f, "lose replies with p={p}"),
            StoreFault::Outage(s) => write!(f, "store outage for {s}s"),
            StoreFault::Reset => write!(f, "store reset: every document forgotten"),
            StoreFault::Clear => write!(f, "clear store faults"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Holder(None) => write!(f, "the holder"),
            Target::Holder(Some(c)) => write!(f, "the holder of {c}"),
            Target::Job(j) => write!(f, "job {j}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Pause => write!(f, "pause"),
            Command::Resume => write!(f, "resume"),
            Command::SetSpeed(s) => write!(f, "speed {s}"),
            Command::Crash(t) => write!(f, "crash {t}"),
            Command::Kill(t) => write!(f, "kill {t}"),
            Command::Stall(t, s) => write!(f, "stall {t} for {s}s"),
            Command::AddJob(None) => write!(f, "add a job"),
            Command::AddJob(Some(c)) => write!(f, "add a job for {c}"),
            Command::Stop => write!(f, "stop"),
            Command::Fault(fault) => write!(f, "{fault}"),
        }
    }
}

/// A fault order delivered to one job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Order {
    /// Clean failure.
    Crash,
    /// Die without releasing.
    Kill,
    /// Freeze for this long.
    Stall(Duration),
    /// The run is stopping.
    Stop,
}
