//! The model itself: its variants (`LockModel`), the store operations the steps
//! share (release, handoff), and which actions each state enables.

use stateright::{Model, Property};

use crate::action::Action;
use crate::properties;
use crate::state::{Doc, Hold, Pc, State, Worker, hold};
use crate::{Id, LEASE, MAX_RENEWALS, RECORD, WORKERS};

/// Which `Worker::finish` meets the release errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// The working tree's: no repair once a release was sent; a retry that matches
    /// nothing is our own release if the lease is still valid or the document's
    /// `released_fence` is ours.
    Current,
    /// As first written: retry while the lease is valid, else `fenced_path` (repair to
    /// the committed length from the acquisition, then release); a retry that matches
    /// nothing means "taken over".
    Original,
}

/// The model, with the variant switches; the default is the lock as written.
#[derive(Clone, Copy, Debug, Default)]
pub struct LockModel {
    /// Acquire with a blind write instead of a compare-and-set.
    pub broken: bool,
    /// Waiters never take over (a lock without leases).
    pub no_expiry: bool,
    /// Store errors on the release that commits a record, met by this `finish`.
    pub release_errors: Option<Finish>,
    /// Queue mode: every release may instead hand the lock to a waiter.
    pub handoff: bool,
    /// Queue mode with a broken handoff, filtered on `_id` alone instead of the
    /// holder's owner and fence.
    pub broken_handoff: bool,
}

impl LockModel {
    /// `Lease::release`'s compare-and-set on owner and fence. True if it matched.
    pub fn release(&self, s: &mut State, me: Id, h: &Hold, committed: u8) -> bool {
        match &mut s.doc {
            Some(d) if d.owner == Some(me) && d.fence == h.fence => {
                d.owner = None;
                self.release_set(d, h, committed);
                true
            }
            _ => false,
        }
    }

    /// `Lease::release_set`: what every release sets besides the owner (and, on a
    /// handoff, the fence). Only a release that commits a record leaves its receipt.
    fn release_set(&self, d: &mut Doc, h: &Hold, committed: u8) {
        d.heartbeat = h.heartbeat + 1;
        d.committed = committed;
        if self.release_errors.is_some() && committed > h.committed {
            d.released_fence = h.fence;
        }
    }

    /// `Lease::hand_over`: the release as one compare-and-set on owner and fence that
    /// makes the waiter `to` the owner with the next fence. True if it matched; then
    /// `to`, if it hears back (`acked`), holds the lock, else it stays waiting and its
    /// next read finds itself the owner.
    pub fn hand_over(
        &self,
        s: &mut State,
        me: Id,
        h: &Hold,
        committed: u8,
        to: Id,
        acked: bool,
    ) -> bool {
        let d = match &mut s.doc {
            Some(d) if self.broken_handoff || (d.owner == Some(me) && d.fence == h.fence) => d,
            _ => return false,
        };
        let fence = h.fence + 1;
        d.owner = Some(to);
        d.fence = fence;
        self.release_set(d, h, committed);
        let (heartbeat, committed) = (d.heartbeat, d.committed);
        s.granted(fence);
        let waiter = &mut s.workers[usize::from(to)];
        assert_eq!(waiter.pc, Pc::Waiting, "a handoff is made to a waiter only");
        if acked {
            waiter.left_waiting(Pc::FenceIn(hold(fence, heartbeat, committed)));
        }
        true
    }

    /// The handoffs a release by worker `from` may make: one to each waiter.
    fn handoffs(
        &self,
        s: &State,
        from: usize,
        action: fn(Id, Id) -> Action,
        out: &mut Vec<Action>,
    ) {
        if !self.handoff {
            return;
        }
        for (j, w) in s.workers.iter().enumerate() {
            if j != from && w.pc == Pc::Waiting {
                out.push(action(from as Id, j as Id));
            }
        }
    }

    /// `Lease::my_release_applied`: the document still names our release.
    pub fn my_release_applied(s: &State, h: &Hold) -> bool {
        s.doc
            .is_some_and(|d| d.released_fence == h.fence && d.committed == h.committed + RECORD)
    }
}

impl Model for LockModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let w = Worker {
            pc: Pc::Waiting,
            may_insert: true,
            watch: None,
            elapsed: 0,
        };
        vec![State {
            doc: None,
            out: Vec::new(),
            highest: 0,
            workers: [w; WORKERS],
            max_fence: 0,
            fence_regressed: false,
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        for (i, w) in s.workers.iter().enumerate() {
            let id = i as Id;
            match w.pc {
                Pc::Waiting => {
                    actions.push(if w.may_insert {
                        Action::Insert(id)
                    } else {
                        Action::Read(id)
                    });
                    if w.watch.is_some() && w.elapsed < LEASE {
                        actions.push(Action::Tick(id));
                    }
                }
                Pc::Cas { .. } => actions.push(Action::Cas(id)),
                Pc::FenceIn(_) => {
                    actions.push(Action::FenceIn(id));
                    actions.push(Action::Crash(id));
                    self.handoffs(s, i, Action::CrashHandOver, actions);
                    actions.push(Action::Kill(id));
                }
                Pc::Holding(h) => {
                    if h.written < RECORD {
                        actions.push(Action::Write(id));
                    } else {
                        actions.push(Action::Release(id));
                        self.handoffs(s, i, Action::HandOver, actions);
                        if self.release_errors.is_some() {
                            actions.push(Action::ReleaseFails(id));
                            actions.push(Action::ReleaseLostReply(id));
                            self.handoffs(s, i, Action::HandOverLostReply, actions);
                        }
                    }
                    if h.renewals < MAX_RENEWALS {
                        actions.push(Action::Renew(id));
                    }
                    actions.push(Action::Crash(id));
                    actions.push(Action::Kill(id));
                }
                Pc::ReleaseUnsure(h) => {
                    actions.push(Action::RetryRelease(id));
                    actions.push(Action::RetryLostReply(id));
                    match self.release_errors {
                        Some(Finish::Current) if !h.taken_over => {
                            actions.push(Action::RetryReleaseValid(id));
                        }
                        Some(Finish::Original) => actions.push(Action::SelfFence(id)),
                        _ => {}
                    }
                }
                Pc::Repair(..) => actions.push(Action::Repair(id)),
                Pc::RepairRelease(..) => {
                    actions.push(Action::RepairRelease(id));
                    self.handoffs(s, i, Action::HandOver, actions);
                }
                Pc::Done(_) => {}
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        self.step(last, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all()
    }
}
