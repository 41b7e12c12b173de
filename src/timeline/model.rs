//! What the picture shows, as plain data: per lock key a lane of holds, waits and
//! marks, folded from a recording by [`super::Folder`].

use crate::events::{How, JobId};

/// A folded recording: one lane per lock key, in the order the run named them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    /// What the run was (from its `run_started` event), if it said.
    pub title: Option<String>,
    /// One lane per lock key.
    pub lanes: Vec<Lane>,
    /// Marks that belong to no key: invariants broken, store faults.
    pub marks: Vec<Mark>,
    /// Scenario time where the picture starts, seconds.
    pub start: f64,
    /// Scenario time where the picture ends, seconds.
    pub end: f64,
    /// Events read.
    pub events: u64,
}

impl Timeline {
    /// Holds of every key.
    pub fn holds(&self) -> usize {
        self.lanes.iter().map(|l| l.holds.len()).sum()
    }

    /// Marks of every key and of the run.
    pub fn mark_count(&self) -> usize {
        self.marks.len() + self.lanes.iter().map(|l| l.marks.len()).sum::<usize>()
    }

    /// `3 keys, 25 holds, 7 marks`.
    pub fn counts(&self) -> String {
        format!(
            "{}, {}, {}",
            count(self.lanes.len(), "key"),
            count(self.holds(), "hold"),
            count(self.mark_count(), "mark")
        )
    }
}

/// `1 key`, `3 keys`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// One lock key's lane.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lane {
    /// The key (the client name the events carry).
    pub key: String,
    /// Its holders, in acquisition order.
    pub holds: Vec<Hold>,
    /// Its waiters, in the order they began to wait.
    pub waits: Vec<Wait>,
    /// Its marks, in event order.
    pub marks: Vec<Mark>,
}

/// What follows a hold once its holder stopped holding in the usual sense.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tail {
    /// Killed holding the lock: the store still names it until this time (a takeover).
    Dead(f64),
    /// Taken over while still running: it acted as holder until this time (its end).
    Stale(f64),
}

/// One job's stretch as holder of a key.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    /// The holder (0: the run's end-of-run recovery).
    pub job: JobId,
    /// Its fence.
    pub fence: u64,
    /// How it came to hold.
    pub how: How,
    /// Whom it took over from (takeover only), and that holder's fence.
    pub from: Option<(Option<JobId>, Option<u64>)>,
    /// Acquired at, seconds.
    pub start: f64,
    /// Held (alive, as the lock's holder) until, seconds.
    pub end: f64,
    /// A dead or stale stretch after `end`.
    pub tail: Option<Tail>,
    /// Seconds it waited before acquiring.
    pub waited: f64,
    /// Attempts it took.
    pub attempts: u32,
    /// Heartbeats while holding.
    pub beats: u32,
    /// Chunks written while holding.
    pub chunks: u32,
    /// `joblock run`: the command it ran, and how the command ended.
    pub command: Option<(String, Option<String>)>,
    /// How the hold ended, in words.
    pub ended: String,
    /// Where the fold is with it.
    pub(super) phase: Phase,
}

/// Where the fold is with a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The holder is alive and holds.
    Live,
    /// Killed holding; not yet taken over.
    Dead,
    /// Taken over while alive; not yet ended.
    Stale,
    /// Over.
    Closed,
}

/// One job's wait for a key.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    /// The waiter.
    pub job: JobId,
    /// Began to wait (queued, or first asked), seconds.
    pub start: f64,
    /// Stopped waiting, seconds.
    pub end: f64,
    /// Attempts made.
    pub attempts: u32,
    /// How the wait ended, in words.
    pub outcome: String,
    /// Whether it is still open in the fold.
    pub(super) open: bool,
}

/// What a mark records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MarkKind {
    /// A waiter saw the holder's lease expire.
    Expired,
    /// A waiter took the lock over.
    Takeover,
    /// The output was cut back to its committed length.
    Repair,
    /// The output refused a write with a stale fence.
    Rejected,
    /// A job crashed (a clean failure).
    Crash,
    /// A job was killed.
    Kill,
    /// A job was frozen (stall fault).
    Stall,
    /// A job lost the lock and ended fenced.
    Fenced,
    /// A waiter gave up.
    GaveUp,
    /// `joblock run` signalled its command.
    Signal,
    /// A lease renewal failed on a store error.
    BeatFailed,
    /// A job could not write its output.
    OutputFailed,
    /// The run halted.
    Halt,
    /// A store fault was injected.
    Fault,
    /// A run invariant was broken.
    Invariant,
}

impl MarkKind {
    /// Every kind, in the order marks stack from a bar upwards.
    pub const ALL: [MarkKind; 15] = [
        MarkKind::Expired,
        MarkKind::Takeover,
        MarkKind::Repair,
        MarkKind::Rejected,
        MarkKind::Crash,
        MarkKind::Kill,
        MarkKind::Stall,
        MarkKind::Fenced,
        MarkKind::GaveUp,
        MarkKind::Signal,
        MarkKind::BeatFailed,
        MarkKind::OutputFailed,
        MarkKind::Halt,
        MarkKind::Fault,
        MarkKind::Invariant,
    ];

    /// Its class in the picture, after `mark` (`class="mark crash"`).
    pub fn class(self) -> &'static str {
        match self {
            MarkKind::Expired => "expired",
            MarkKind::Takeover => "takeover",
            MarkKind::Repair => "repair",
            MarkKind::Rejected => "rejected",
            MarkKind::Crash => "crash",
            MarkKind::Kill => "kill",
            MarkKind::Stall => "stall",
            MarkKind::Fenced => "fenced",
            MarkKind::GaveUp => "gave-up",
            MarkKind::Signal => "signal",
            MarkKind::BeatFailed => "beat-failed",
            MarkKind::OutputFailed => "output-failed",
            MarkKind::Halt => "halt",
            MarkKind::Fault => "fault",
            MarkKind::Invariant => "invariant",
        }
    }

    /// How the legend names it.
    pub fn label(self) -> &'static str {
        match self {
            MarkKind::Expired => "lease expired",
            MarkKind::Takeover => "takeover",
            MarkKind::Repair => "repair",
            MarkKind::Rejected => "write rejected by the fence",
            MarkKind::Crash => "crash",
            MarkKind::Kill => "kill",
            MarkKind::Stall => "stall",
            MarkKind::Fenced => "ended fenced",
            MarkKind::GaveUp => "gave up",
            MarkKind::Signal => "command signalled",
            MarkKind::BeatFailed => "renewal failed",
            MarkKind::OutputFailed => "output failed",
            MarkKind::Halt => "run halted",
            MarkKind::Fault => "store fault",
            MarkKind::Invariant => "invariant broken",
        }
    }
}

/// A moment on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// When, seconds.
    pub t: f64,
    /// What.
    pub kind: MarkKind,
    /// What happened, in words (raw: escaped when drawn).
    pub text: String,
}
