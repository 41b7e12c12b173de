//! The model's state: the lock document, each worker's program counter and
//! lease, and the fenced output with its two operations.

use crate::{Id, WORKERS};

/// The lock document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Doc {
    pub owner: Option<Id>,
    pub fence: u8,
    pub heartbeat: u8,
    pub committed: u8,
    /// The fence of the last release that committed a record (its receipt; kept only
    /// when release errors are modelled, the one use of it).
    pub released_fence: u8,
}

/// What a holder knows about its lease (`Lease`, `Held`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hold {
    pub fence: u8,
    /// The last heartbeat value this holder wrote.
    pub heartbeat: u8,
    /// The committed length from its acquisition.
    pub committed: u8,
    /// Chunks written (and accepted) so far.
    pub written: u8,
    /// Renewals made; set to `MAX_RENEWALS` when one matched nothing (the heartbeat
    /// thread stops).
    pub renewals: u8,
    /// A waiter took over from this holder. Kept only when release errors are
    /// modelled: it is the lease-timing assumption, "while my lease is valid on my
    /// own clock, nobody has taken over", that `Lease::release` relies on.
    pub taken_over: bool,
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// Wrote its record and released it as committed.
    Finished,
    /// Crashed holding the lock (fence `fence`), repaired and released.
    Crashed { fence: u8 },
    /// Lost the lock (self-fenced, release or fence-in refused).
    Fenced,
    /// A chunk write was refused by the output's fence.
    Rejected,
    /// The fence-in found the output shorter than the committed length; the crash
    /// path's repair fails the same way, so the lock is not released.
    OutputError,
    /// Killed holding fence `fence`; `torn`: it left part of its record behind.
    Killed { fence: u8, torn: bool },
}

/// A worker's program counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pc {
    /// Waiting for the lock: the next step is an insert or a read.
    Waiting,
    /// Read `seen`; the next step is the compare-and-set on exactly those values.
    Cas {
        seen: Doc,
        takeover: bool,
    },
    /// Acquired; the next step is the fence-in at the output.
    FenceIn(Hold),
    /// Fenced in; writing, renewing, and finally releasing.
    Holding(Hold),
    /// A release attempt failed on a store error: it may or may not have applied.
    ReleaseUnsure(Hold),
    /// Crashed or self-fenced: the next step is the repair (fence-in to committed).
    Repair(Hold, End),
    /// Repaired: the next step is the release of the unchanged committed length.
    RepairRelease(Hold, End),
    Done(End),
}

/// One worker: its program counter and its waiter bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Worker {
    pub pc: Pc,
    /// `Waiter::may_insert`: the atomic create is still to be tried.
    pub may_insert: bool,
    /// `Waiter::watch`: the (fence, heartbeat) pair being timed ...
    pub watch: Option<(u8, u8)>,
    /// ... and for how many of the waiter's own ticks it has stood still.
    pub elapsed: u8,
}

impl Worker {
    /// Forgets the waiter's bookkeeping once it holds or has ended (keeps states canonical).
    pub fn left_waiting(&mut self, pc: Pc) {
        *self = Worker {
            pc,
            may_insert: false,
            watch: None,
            elapsed: 0,
        };
    }
}

/// The whole system: the store, the output and every worker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub doc: Option<Doc>,
    /// The output file: `(worker, chunk index)` per accepted chunk.
    pub out: Vec<(Id, u8)>,
    /// The highest fence the output accepted.
    pub highest: u8,
    pub workers: [Worker; WORKERS],
    /// The highest fence any acquisition was granted so far.
    pub max_fence: u8,
    /// Set when an acquisition got a fence not above every earlier one.
    pub fence_regressed: bool,
}

/// The outcome of an output operation.
pub enum OutOp {
    Accepted,
    /// The fence is lower than the highest accepted.
    Fenced,
    /// The file is shorter than the committed length (`ShorterThanCommitted`).
    Short,
}

impl State {
    /// `FencedOutput::fence_in`.
    pub fn fence_in(&mut self, fence: u8, committed: u8) -> OutOp {
        if fence < self.highest {
            return OutOp::Fenced;
        }
        if self.out.len() < usize::from(committed) {
            return OutOp::Short;
        }
        self.out.truncate(usize::from(committed));
        self.highest = self.highest.max(fence);
        OutOp::Accepted
    }

    /// `FencedOutput::append`.
    pub fn append(&mut self, fence: u8, entry: (Id, u8)) -> OutOp {
        if fence < self.highest {
            return OutOp::Fenced;
        }
        self.out.push(entry);
        self.highest = self.highest.max(fence);
        OutOp::Accepted
    }

    /// Records a granted fence for property (b).
    pub fn granted(&mut self, fence: u8) {
        if fence <= self.max_fence {
            self.fence_regressed = true;
        }
        self.max_fence = self.max_fence.max(fence);
    }
}

/// What a holder knows right after acquiring with these values.
pub fn hold(fence: u8, heartbeat: u8, committed: u8) -> Hold {
    Hold {
        fence,
        heartbeat,
        committed,
        written: 0,
        renewals: 0,
        taken_over: false,
    }
}
