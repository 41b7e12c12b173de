//! The dashboard's model: a fold of engine events. Nothing here draws, and nothing
//! here touches a run, the lock or the store (of the engine it uses only the pure
//! lease-floor rule, `engine::floor`); `apply` is the only way in.

mod client;
mod fold;
mod job;

pub use client::{ClientView, Mark, MarkKind, OutputTail, Segment};
pub use job::{JobRow, JobState};

use std::collections::{HashMap, VecDeque};

use crate::describe::{AttemptFilter, describe};
use crate::engine::floor::{BelowFloor, Crossings};
use crate::events::{Event, JobId, Stamped, Summary};

/// Lines kept in the event log.
const LOG_CAPACITY: usize = 2000;

/// How a log line should stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Routine.
    Info,
    /// A fault or an end state worth noticing.
    Notice,
    /// Something that should never happen in a sound run, or a lock safety event.
    Warning,
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Scenario time.
    pub t: f64,
    /// What happened.
    pub text: String,
    /// How it stands out.
    pub level: Level,
}

/// What the run is, from its first event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    /// Jobs at start.
    pub jobs: u32,
    /// Store backend.
    pub store: String,
    /// Seed.
    pub seed: u64,
    /// `real` or `virtual`.
    pub clock: String,
    /// Lease, seconds.
    pub lease: f64,
    /// How the jobs wait: `race` or `queue`.
    pub wait: String,
}

/// Everything the dashboard shows, folded from events.
#[derive(Debug, Default)]
pub struct DashState {
    /// The run's parameters.
    pub info: RunInfo,
    /// Current speed.
    pub speed: f64,
    /// Whether scenario time is frozen.
    pub paused: bool,
    /// Jobs by number (index = number - 1).
    pub jobs: Vec<JobRow>,
    /// Jobs per state, kept as states change.
    pub counts: [usize; 9],
    /// Queued or waiting jobs per client, kept as states change (the lock panel
    /// asks every frame; scanning thousands of jobs per client per frame is waste).
    waiting: HashMap<String, usize>,
    /// One view per client, in client order.
    pub clients: Vec<ClientView>,
    /// Newest last; shown newest first.
    pub log: VecDeque<LogLine>,
    /// Things that should never happen: broken invariants, failed outputs, and
    /// safety events (fenced writes, expiries of live holders) that no injected
    /// fault explains.
    pub warnings: Vec<String>,
    /// Faults injected so far (keys, `--at` schedules): crash, kill, stall and
    /// store faults. What they cause is expected, so it is not a warning.
    pub faults: u32,
    /// Store faults injected so far (outage, lost replies...): after one, an
    /// expired lease or a fenced write is the lock doing its job.
    pub store_faults: u32,
    /// The run's lease against the machine's floor (from `RunStarted`, judged again
    /// on every `SpeedChanged`); see [`DashState::below_floor`].
    pub floor: Crossings,
    /// Whether a checked invariant broke (live or in the summary).
    pub invariants_broken: bool,
    /// Log lines ever pushed (the log keeps only the latest).
    log_pushed: u64,
    /// Time of the latest event.
    pub last_t: f64,
    /// Set once the run is over.
    pub summary: Option<Summary>,
    attempts: AttemptFilter,
    pending_warnings: Vec<(f64, String)>,
}

fn state_index(s: JobState) -> usize {
    JobState::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

impl DashState {
    /// An empty state, waiting for `RunStarted`.
    pub fn new() -> DashState {
        DashState {
            speed: 1.0,
            ..DashState::default()
        }
    }

    /// How far under the machine's floor the lease is at the current speed, if it
    /// is: heartbeats may miss it and jobs end fenced (the header says so).
    pub fn below_floor(&self) -> Option<BelowFloor> {
        self.floor.below()
    }

    /// Jobs in state `s`.
    pub fn count(&self, s: JobState) -> usize {
        self.counts[state_index(s)]
    }

    /// A job by number.
    pub fn job(&self, id: JobId) -> Option<&JobRow> {
        self.jobs.get((id as usize).checked_sub(1)?)
    }

    fn job_mut(&mut self, id: JobId) -> Option<&mut JobRow> {
        self.jobs.get_mut((id as usize).checked_sub(1)?)
    }

    fn client_mut(&mut self, name: &str) -> Option<&mut ClientView> {
        self.clients.iter_mut().find(|c| c.name == name)
    }

    /// Jobs of `client` that are waiting (or queued) for its lock.
    pub fn waiters(&self, client: &str) -> usize {
        self.waiting.get(client).copied().unwrap_or(0)
    }

    /// Keeps `waiting` in step when a job of `client` enters or leaves `state`.
    fn count_waiter(&mut self, client: &str, state: JobState, delta: isize) {
        if matches!(state, JobState::Waiting | JobState::Queued) {
            let n = self.waiting.entry(client.to_string()).or_insert(0);
            *n = n.saturating_add_signed(delta);
        }
    }

    fn set_state(&mut self, id: JobId, state: JobState, t: f64) {
        let Some(job) = self.job_mut(id) else {
            return;
        };
        let old = job.state;
        if old == state {
            return;
        }
        job.state = state;
        if state.is_end() {
            job.ended_at = Some(t);
        }
        let client = job.client.clone();
        self.counts[state_index(old)] -= 1;
        self.counts[state_index(state)] += 1;
        self.count_waiter(&client, old, -1);
        self.count_waiter(&client, state, 1);
    }

    /// Log lines ever pushed, including those the log no longer keeps.
    pub fn log_pushed(&self) -> u64 {
        self.log_pushed
    }

    /// The scenario time the run ended at, once it has (its last event).
    pub fn ended_at(&self) -> Option<f64> {
        self.summary.as_ref().map(|_| self.last_t)
    }

    fn push_log(&mut self, t: f64, text: String, level: Level) {
        self.log_pushed += 1;
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogLine { t, text, level });
    }

    /// Records a warning; its log line follows the event that caused it.
    fn warn(&mut self, t: f64, what: String) {
        self.warnings.push(what.clone());
        self.pending_warnings.push((t, format!("⚠ {what}")));
    }

    /// Folds one event into the state.
    pub fn apply(&mut self, s: &Stamped) {
        // A corrupt recording may hold any number: keep time finite and ordered.
        let t = if s.t.is_finite() { s.t.max(0.0) } else { 0.0 };
        self.last_t = self.last_t.max(t);
        let level = self.fold(t, &s.event);
        // A lease under the floor (at the start, or a speed change across it) is
        // not an anomaly of the run, so not a warning; the log says it all the same.
        if let Some(line) = self.floor.line(&s.event) {
            self.pending_warnings.push((t, format!("⚠ {line}")));
        }
        // The table shows who waits; the log keeps what changes the lock's story.
        let quiet = matches!(
            s.event,
            Event::Heartbeat { .. }
                | Event::RunFinished { .. }
                | Event::LockAttempt {
                    seen: crate::events::SeenLock::Held { .. },
                    ..
                }
        );
        if !quiet && self.attempts.shows(&s.event) {
            self.push_log(t, describe(&s.event), level);
        }
        for (t, text) in std::mem::take(&mut self.pending_warnings) {
            self.push_log(t, text, Level::Warning);
        }
    }
}
