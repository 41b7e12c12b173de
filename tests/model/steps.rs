//! What each action does to the state: the waiter's insert, read, tick and
//! compare-and-set, the holder's fence-in, writes, renewals and releases, the
//! handoffs, and the faults.

use crate::action::Action;
use crate::lock_model::{Finish, LockModel};
use crate::state::{Doc, End, OutOp, Pc, State, hold};
use crate::{Id, LEASE, MAX_RENEWALS, RECORD};

impl LockModel {
    /// The state after `action`, or `None` for a step that changes nothing.
    pub fn step(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        let i = action.worker();
        let me = i as Id;
        let w = s.workers[i];
        match (action, w.pc) {
            (Action::Insert(_), Pc::Waiting) => {
                if s.doc.is_none() {
                    // The atomic create.
                    s.doc = Some(Doc {
                        owner: Some(me),
                        fence: 1,
                        heartbeat: 0,
                        committed: 0,
                        released_fence: 0,
                    });
                    s.granted(1);
                    s.workers[i].left_waiting(Pc::FenceIn(hold(1, 0, 0)));
                } else {
                    // DuplicateKey: the document exists.
                    s.workers[i].may_insert = false;
                }
            }
            (Action::Read(_), Pc::Waiting) => match s.doc {
                None => s.workers[i].may_insert = true,
                Some(d) if d.owner == Some(me) => {
                    // Our own write applied though its reply was lost: the lock is ours.
                    let h = hold(d.fence, d.heartbeat, d.committed);
                    s.workers[i].left_waiting(Pc::FenceIn(h));
                }
                Some(d) if d.owner.is_none() => {
                    s.workers[i].pc = Pc::Cas {
                        seen: d,
                        takeover: false,
                    };
                }
                Some(d) => {
                    let w = &mut s.workers[i];
                    if w.watch != Some((d.fence, d.heartbeat)) {
                        w.watch = Some((d.fence, d.heartbeat));
                        w.elapsed = 0;
                    }
                    if w.elapsed >= LEASE && !self.no_expiry {
                        w.pc = Pc::Cas {
                            seen: d,
                            takeover: true,
                        };
                    }
                }
            },
            (Action::Tick(_), Pc::Waiting) => s.workers[i].elapsed += 1,
            (Action::Cas(_), Pc::Cas { seen, takeover }) => {
                let doc = s.doc.as_mut().expect("a document was read");
                let matches = doc.owner == seen.owner
                    && doc.fence == seen.fence
                    && doc.heartbeat == seen.heartbeat;
                if matches || self.broken {
                    let (fence, heartbeat) = (seen.fence + 1, seen.heartbeat + 1);
                    doc.owner = Some(me);
                    doc.fence = fence;
                    doc.heartbeat = heartbeat;
                    let committed = doc.committed;
                    s.granted(fence);
                    s.workers[i].left_waiting(Pc::FenceIn(hold(fence, heartbeat, committed)));
                    if takeover && self.release_errors.is_some() {
                        for w in &mut s.workers {
                            if let Pc::FenceIn(h)
                            | Pc::Holding(h)
                            | Pc::ReleaseUnsure(h)
                            | Pc::Repair(h, _)
                            | Pc::RepairRelease(h, _) = &mut w.pc
                                && h.fence == seen.fence
                            {
                                h.taken_over = true;
                            }
                        }
                    }
                } else {
                    // Lost the race: back to waiting, the watch kept.
                    s.workers[i].pc = Pc::Waiting;
                }
            }
            (Action::FenceIn(_), Pc::FenceIn(h)) => {
                s.workers[i].pc = match s.fence_in(h.fence, h.committed) {
                    OutOp::Accepted => Pc::Holding(h),
                    // A later holder fenced in first: the lock is no longer ours.
                    OutOp::Fenced => Pc::Done(End::Fenced),
                    OutOp::Short => Pc::Done(End::OutputError),
                };
            }
            (Action::Crash(_), Pc::FenceIn(h)) => {
                // Crashed right after acquiring: release untouched (nothing to repair).
                self.release(&mut s, me, &h, h.committed);
                s.workers[i].pc = Pc::Done(End::Crashed { fence: h.fence });
            }
            (Action::Write(_), Pc::Holding(mut h)) => {
                s.workers[i].pc = match s.append(h.fence, (me, h.written)) {
                    OutOp::Accepted => {
                        h.written += 1;
                        Pc::Holding(h)
                    }
                    // Stop at once; no repair, no release.
                    _ => Pc::Done(End::Rejected),
                };
            }
            (Action::Renew(_), Pc::Holding(mut h)) => {
                match &mut s.doc {
                    Some(d) if d.owner == Some(me) && d.fence == h.fence => {
                        h.heartbeat += 1;
                        d.heartbeat = h.heartbeat;
                        h.renewals += 1;
                    }
                    _ => h.renewals = MAX_RENEWALS,
                }
                s.workers[i].pc = Pc::Holding(h);
            }
            (Action::Release(_), Pc::Holding(h)) => {
                let end = if self.release(&mut s, me, &h, h.committed + RECORD) {
                    End::Finished
                } else {
                    End::Fenced
                };
                s.workers[i].pc = Pc::Done(end);
            }
            (Action::ReleaseFails(_), Pc::Holding(h)) => {
                s.workers[i].pc = Pc::ReleaseUnsure(h);
            }
            (Action::ReleaseLostReply(_), Pc::Holding(h)) => {
                self.release(&mut s, me, &h, h.committed + RECORD);
                s.workers[i].pc = Pc::ReleaseUnsure(h);
            }
            (Action::RetryLostReply(_), Pc::ReleaseUnsure(h)) => {
                if !self.release(&mut s, me, &h, h.committed + RECORD) {
                    return None; // a lost reply to nothing changes nothing
                }
            }
            (Action::RetryRelease(_), Pc::ReleaseUnsure(h)) => {
                let matched = self.release(&mut s, me, &h, h.committed + RECORD);
                let finished = matched
                    || (self.release_errors == Some(Finish::Current)
                        && LockModel::my_release_applied(&s, &h));
                s.workers[i].pc = Pc::Done(if finished { End::Finished } else { End::Fenced });
            }
            (Action::RetryReleaseValid(_), Pc::ReleaseUnsure(h)) => {
                // Matched, or matched nothing while our lease is valid: either way the
                // lease reports the release as ours.
                self.release(&mut s, me, &h, h.committed + RECORD);
                s.workers[i].pc = Pc::Done(End::Finished);
            }
            (Action::SelfFence(_), Pc::ReleaseUnsure(h)) => {
                s.workers[i].pc = Pc::Repair(h, End::Fenced);
            }
            (Action::Crash(_), Pc::Holding(h)) => {
                s.workers[i].pc = Pc::Repair(h, End::Crashed { fence: h.fence });
            }
            (Action::Repair(_), Pc::Repair(h, end)) => {
                s.workers[i].pc = match s.fence_in(h.fence, h.committed) {
                    OutOp::Accepted => Pc::RepairRelease(h, end),
                    _ => Pc::Done(end),
                };
            }
            (Action::RepairRelease(_), Pc::RepairRelease(h, end)) => {
                self.release(&mut s, me, &h, h.committed);
                s.workers[i].pc = Pc::Done(end);
            }
            (Action::HandOver(_, to), Pc::Holding(h)) => {
                let end = if self.hand_over(&mut s, me, &h, h.committed + RECORD, to, true) {
                    End::Finished
                } else {
                    End::Fenced
                };
                s.workers[i].pc = Pc::Done(end);
            }
            (Action::HandOverLostReply(_, to), Pc::Holding(h)) => {
                // The holder retries with a plain release; the waiter stays waiting
                // and, told the outcome is unknown, reads next (`take_offer`: the
                // document exists, so no insert).
                self.hand_over(&mut s, me, &h, h.committed + RECORD, to, false);
                s.workers[usize::from(to)].may_insert = false;
                s.workers[i].pc = Pc::ReleaseUnsure(h);
            }
            (Action::CrashHandOver(_, to), Pc::FenceIn(h)) => {
                self.hand_over(&mut s, me, &h, h.committed, to, true);
                s.workers[i].pc = Pc::Done(End::Crashed { fence: h.fence });
            }
            (Action::HandOver(_, to), Pc::RepairRelease(h, end)) => {
                self.hand_over(&mut s, me, &h, h.committed, to, true);
                s.workers[i].pc = Pc::Done(end);
            }
            (Action::Kill(_), Pc::FenceIn(h) | Pc::Holding(h)) => {
                let torn = h.written > 0 && h.written < RECORD;
                let end = End::Killed {
                    fence: h.fence,
                    torn,
                };
                s.workers[i].pc = Pc::Done(end);
            }
            (a, pc) => unreachable!("{a:?} is not enabled at {pc:?}"),
        }
        Some(s)
    }
}
