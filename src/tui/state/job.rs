//! One job as the dashboard shows it.

use crate::events::JobId;

/// A job's state, shown as a symbol and a word (never by colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Thread started, no attempt yet.
    Queued,
    /// Asked for the lock and did not get it yet.
    Waiting,
    /// Holds the lock.
    Running,
    /// Holds the lock but is frozen (stall command).
    Stalled,
    /// Clean failure.
    Crashed,
    /// Died without releasing.
    Killed,
    /// Lost the lock.
    Fenced,
    /// Gave up waiting.
    GaveUp,
    /// Wrote its record and released.
    Finished,
}

impl JobState {
    /// Every state, in the order the filter cycles through them.
    pub const ALL: [JobState; 9] = [
        JobState::Queued,
        JobState::Waiting,
        JobState::Running,
        JobState::Stalled,
        JobState::Crashed,
        JobState::Killed,
        JobState::Fenced,
        JobState::GaveUp,
        JobState::Finished,
    ];

    /// The word shown for the state.
    pub fn word(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Waiting => "waiting",
            JobState::Running => "running",
            JobState::Stalled => "stalled",
            JobState::Crashed => "crashed",
            JobState::Killed => "killed",
            JobState::Fenced => "fenced",
            JobState::GaveUp => "gave up",
            JobState::Finished => "finished",
        }
    }

    /// A one-character symbol that survives NO_COLOR and copy-paste.
    pub fn symbol(self) -> &'static str {
        match self {
            JobState::Queued => "·",
            JobState::Waiting => "…",
            JobState::Running => "▶",
            JobState::Stalled => "‖",
            JobState::Crashed => "✗",
            JobState::Killed => "☠",
            JobState::Fenced => "⊘",
            JobState::GaveUp => "⌛",
            JobState::Finished => "✓",
        }
    }

    /// Whether the job has ended.
    pub fn is_end(self) -> bool {
        matches!(
            self,
            JobState::Crashed
                | JobState::Killed
                | JobState::Fenced
                | JobState::GaveUp
                | JobState::Finished
        )
    }
}

/// Everything the table and the detail view show about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Job number.
    pub id: JobId,
    /// Worker hash.
    pub hash: String,
    /// Client name.
    pub client: String,
    /// Current state.
    pub state: JobState,
    /// Lock attempts so far.
    pub attempts: u32,
    /// When it was queued.
    pub queued_at: f64,
    /// When it first asked for the lock.
    pub first_attempt_at: Option<f64>,
    /// When it acquired the lock.
    pub acquired_at: Option<f64>,
    /// When it ended.
    pub ended_at: Option<f64>,
    /// Seconds waited before acquiring (set on acquisition).
    pub waited: Option<f64>,
    /// Chunks accepted.
    pub chunks: u32,
    /// Chunks in a record.
    pub of: u32,
    /// Fence of its acquisition.
    pub fence: Option<u64>,
    /// Why it ended (or what happened last that matters).
    pub reason: String,
    /// Whether the crash draw said it would crash.
    pub will_crash: bool,
    /// Whether an injected fault (crash, kill, stall) hit it: what follows is expected.
    pub faulted: bool,
    /// Key moments, for the detail view: (time, what).
    pub history: Vec<(f64, String)>,
}

impl JobRow {
    /// A freshly queued job.
    pub fn new(id: JobId, hash: String, client: String, at: f64, will_crash: bool) -> JobRow {
        JobRow {
            id,
            hash,
            client,
            state: JobState::Queued,
            attempts: 0,
            queued_at: at,
            first_attempt_at: None,
            acquired_at: None,
            ended_at: None,
            waited: None,
            chunks: 0,
            of: 0,
            fence: None,
            reason: String::new(),
            will_crash,
            faulted: false,
            history: vec![(at, "queued".into())],
        }
    }

    /// Seconds spent waiting, as of `now`.
    pub fn wait_time(&self, now: f64) -> f64 {
        if let Some(w) = self.waited {
            return w;
        }
        let start = self.queued_at;
        let end = self.ended_at.unwrap_or(now);
        (end - start).max(0.0)
    }

    /// Seconds spent holding the lock, as of `now`.
    pub fn run_time(&self, now: f64) -> f64 {
        match self.acquired_at {
            Some(a) => (self.ended_at.unwrap_or(now) - a).max(0.0),
            None => 0.0,
        }
    }

    /// Records a key moment.
    pub fn note(&mut self, at: f64, what: impl Into<String>) {
        self.history.push((at, what.into()));
    }
}
