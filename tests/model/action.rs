//! The model's actions: one atomic store or output step of one worker, or a fault.

use crate::Id;

/// One step of one worker (a store or output operation, a tick, or a fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Insert(Id),
    Read(Id),
    Tick(Id),
    Cas(Id),
    FenceIn(Id),
    Write(Id),
    Renew(Id),
    Release(Id),
    /// The release fails before applying (`release_errors` only).
    ReleaseFails(Id),
    /// The release applies, its reply is lost (`release_errors` only).
    ReleaseLostReply(Id),
    /// A retry after a release error gets its answer; the lease check says expired
    /// (always possible: the job may have stalled).
    RetryRelease(Id),
    /// A retry gets its answer while the lease is still valid (only possible if
    /// nobody took over).
    RetryReleaseValid(Id),
    /// A retry applies but its reply is lost too.
    RetryLostReply(Id),
    /// `Finish::Original` only: the lease check before a retry fails.
    SelfFence(Id),
    Crash(Id),
    Kill(Id),
    Repair(Id),
    RepairRelease(Id),
    /// Queue mode (`handoff` only): the first worker's release (the finishing one, or
    /// the repair path's) hands the lock to the second, a waiter.
    HandOver(Id, Id),
    /// Queue mode: a crash right after acquiring, whose release hands the lock over.
    CrashHandOver(Id, Id),
    /// Queue mode with `release_errors`: the finishing handoff applies, its reply is
    /// lost. (One that fails before applying is `ReleaseFails`.)
    HandOverLostReply(Id, Id),
}

impl Action {
    /// The worker that acts (for a handoff, the releasing holder).
    pub fn worker(self) -> usize {
        use Action::*;
        let (Insert(i)
        | Read(i)
        | Tick(i)
        | Cas(i)
        | FenceIn(i)
        | Write(i)
        | Renew(i)
        | Release(i)
        | ReleaseFails(i)
        | ReleaseLostReply(i)
        | RetryRelease(i)
        | RetryReleaseValid(i)
        | RetryLostReply(i)
        | SelfFence(i)
        | Crash(i)
        | Kill(i)
        | Repair(i)
        | RepairRelease(i)
        | HandOver(i, _)
        | CrashHandOver(i, _)
        | HandOverLostReply(i, _)) = self;
        usize::from(i)
    }

    /// The waiter a handoff is made to.
    pub fn receiver(self) -> Option<usize> {
        match self {
            Action::HandOver(_, to)
            | Action::CrashHandOver(_, to)
            | Action::HandOverLostReply(_, to) => Some(usize::from(to)),
            _ => None,
        }
    }

    /// Faults: actions a run does not need in order to make progress. A handoff is
    /// not one (it is a release); a handoff by a crashing holder is a crash.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Action::Crash(_)
                | Action::Kill(_)
                | Action::SelfFence(_)
                | Action::ReleaseFails(_)
                | Action::ReleaseLostReply(_)
                | Action::RetryLostReply(_)
                | Action::CrashHandOver(..)
                | Action::HandOverLostReply(..)
        )
    }
}
