//! How a hold and a wait begin and end: acquisition (which also ends the wait and
//! turns the previous holder dead-and-over or stale), release, and a job's end.

use super::{Folder, job_name, secs};
use crate::events::{How, JobId};
use crate::timeline::model::{Hold, MarkKind, Phase, Tail, Wait};

/// A hold that begins at `t`.
pub(super) fn new_hold(
    job: JobId,
    fence: u64,
    how: How,
    t: f64,
    waited: f64,
    attempts: u32,
) -> Hold {
    Hold {
        job,
        fence,
        how,
        from: None,
        start: t,
        end: t,
        tail: None,
        waited,
        attempts,
        beats: 0,
        chunks: 0,
        command: None,
        ended: String::new(),
        phase: Phase::Live,
    }
}

impl Folder {
    /// `hold`'s job acquired lane `l`: its wait ends, and whoever the store named
    /// before it is over (a dead holder) or goes on stale (a living one).
    pub(super) fn acquired(&mut self, l: usize, hold: Hold) {
        let (t, job, how) = (hold.start, hold.job, hold.how);
        let mut track = self.jobs.get(&(l, job)).copied().unwrap_or_default();
        let lane = &mut self.tl.lanes[l];
        let outcome = format!("acquired with fence {}", hold.fence);
        match track.wait.take() {
            Some(w) => {
                let w = &mut lane.waits[w];
                w.end = t;
                w.open = false;
                w.attempts = w.attempts.max(hold.attempts);
                w.outcome = outcome;
            }
            // A recording without queued events: the acquisition says how long.
            None if hold.waited > 0.0 => lane.waits.push(Wait {
                job,
                start: t - hold.waited,
                end: t,
                attempts: hold.attempts,
                outcome,
                open: false,
            }),
            None => {}
        }
        // A hold the job still has (a retry of the recovery) is over.
        if let Some(h) = track.hold.take() {
            let own = &mut lane.holds[h];
            if own.phase == Phase::Live {
                own.end = t;
                own.ended = "acquired again".into();
            }
            own.phase = Phase::Closed;
            if self.holder[l] == Some(h) {
                self.holder[l] = None;
            }
        }
        if let Some(prev) = self.holder[l].take() {
            let p = &mut lane.holds[prev];
            match p.phase {
                Phase::Dead => {
                    p.tail = Some(Tail::Dead(t));
                    p.phase = Phase::Closed;
                    p.ended = format!(
                        "{}; taken over by {} at {}",
                        p.ended,
                        job_name(job),
                        secs(t)
                    );
                }
                // A handoff means it released: its own release event, from
                // another thread, may simply come after this one.
                Phase::Live if how == How::Handoff => {}
                Phase::Live => {
                    p.end = t;
                    p.phase = Phase::Stale;
                    p.ended = format!(
                        "taken over by {} at {} while still running",
                        job_name(job),
                        secs(t)
                    );
                }
                Phase::Stale | Phase::Closed => {}
            }
        }
        let idx = lane.holds.len();
        lane.holds.push(hold);
        self.holder[l] = Some(idx);
        track.hold = Some(idx);
        track.last_hold = Some(idx);
        self.jobs.insert((l, job), track);
    }

    /// The job's hold of `client` ends at `t` with a release (`text` says which).
    pub(super) fn let_go(&mut self, client: &str, job: JobId, t: f64, text: String) {
        let l = self.lane(client);
        let Some(h) = self.jobs.get_mut(&(l, job)).and_then(|tr| tr.hold.take()) else {
            return;
        };
        self.close(l, h, t, text);
    }

    /// The job ended at `t` (`text` says how): its wait or hold ends, and `kind`
    /// marks it. A killed holder stays the store's holder, dead, until taken over.
    pub(super) fn ended(
        &mut self,
        client: &str,
        job: JobId,
        t: f64,
        kind: Option<MarkKind>,
        text: String,
    ) {
        let l = self.lane(client);
        let mut track = self.jobs.get(&(l, job)).copied().unwrap_or_default();
        if let Some(w) = track.wait.take() {
            let w = &mut self.tl.lanes[l].waits[w];
            w.end = t;
            w.open = false;
            w.outcome.clone_from(&text);
        }
        match track.hold.take() {
            Some(h)
                if kind == Some(MarkKind::Kill)
                    && self.tl.lanes[l].holds[h].phase == Phase::Live =>
            {
                let hold = &mut self.tl.lanes[l].holds[h];
                hold.end = t;
                hold.phase = Phase::Dead;
                hold.ended.clone_from(&text);
            }
            Some(h) => self.close(l, h, t, text.clone()),
            None => {
                if let Some(h) = track.last_hold {
                    let hold = &mut self.tl.lanes[l].holds[h];
                    if hold.phase == Phase::Closed && hold.tail.is_none() {
                        hold.ended = format!("{}, then {text}", hold.ended);
                    }
                }
            }
        }
        self.jobs.insert((l, job), track);
        if let Some(kind) = kind {
            self.mark(Some(l), t, kind, format!("{} {text}", job_name(job)));
        }
    }

    /// Ends hold `h` of lane `l` at `t`: a living holder's hold, or a stale one's tail.
    fn close(&mut self, l: usize, h: usize, t: f64, text: String) {
        let hold = &mut self.tl.lanes[l].holds[h];
        match hold.phase {
            Phase::Live => {
                hold.end = t;
                hold.ended = text;
                if self.holder[l] == Some(h) {
                    self.holder[l] = None;
                }
            }
            Phase::Stale => {
                hold.tail = Some(Tail::Stale(t));
                hold.ended = format!("{}; then {text}", hold.ended);
            }
            Phase::Dead | Phase::Closed => return,
        }
        hold.phase = Phase::Closed;
    }

    /// The hold `client`'s `job` has open (alive or stale), if any.
    pub(super) fn open_hold(&mut self, client: &str, job: JobId) -> Option<&mut Hold> {
        let l = self.lane(client);
        let h = self.jobs.get(&(l, job)).and_then(|tr| tr.hold)?;
        self.tl.lanes[l].holds.get_mut(h)
    }
}
