//! Events folded into the picture's model, one event at a time: who holds each
//! key from when to when, who waits, and the marks. Every event costs O(1) (a
//! hash lookup of its key and job), so a recording folds in O(events).

use std::collections::HashMap;

use crate::events::{Event, How, JobId, Stamped};
use crate::timeline::model::{Lane, Mark, MarkKind, Phase, Tail, Timeline, Wait};

mod hold;
mod marks;

use hold::new_hold;

/// Folds a recording's events, in order, into a [`Timeline`].
#[derive(Debug, Default)]
pub struct Folder {
    tl: Timeline,
    lane_of: HashMap<String, usize>,
    jobs: HashMap<(usize, JobId), Track>,
    /// Per lane: the hold the store names as holder (alive or dead), if any.
    holder: Vec<Option<usize>>,
    seen: bool,
}

/// Where one job of one key stands.
#[derive(Debug, Default, Clone, Copy)]
struct Track {
    wait: Option<usize>,
    hold: Option<usize>,
    last_hold: Option<usize>,
}

/// A job's name in words (job 0 is the run's end-of-run recovery).
pub(super) fn job_name(job: JobId) -> String {
    if job == 0 {
        "the recovery".to_string()
    } else {
        format!("job {job}")
    }
}

fn secs(t: f64) -> String {
    format!("{t:.3}s")
}

impl Folder {
    /// An empty fold.
    pub fn new() -> Folder {
        Folder::default()
    }

    /// Folds one event in.
    pub fn push(&mut self, s: &Stamped) {
        let t = s.t;
        if !self.seen || t < self.tl.start {
            self.tl.start = t.min(0.0);
        }
        if !self.seen || t > self.tl.end {
            self.tl.end = t;
        }
        self.seen = true;
        self.tl.events += 1;
        match &s.event {
            Event::RunStarted {
                jobs,
                clients,
                store,
                clock,
                lease,
                seed,
                wait,
                client_names,
                ..
            } => {
                self.tl.title = Some(format!(
                    "{jobs} jobs, {clients} client(s), store {store}, {clock} clock, lease {lease}s, {wait} mode, seed {seed}"
                ));
                for name in client_names {
                    self.lane(name);
                }
            }
            Event::Queued { job, client, .. } => {
                let l = self.lane(client);
                self.begin_wait(l, *job, t);
            }
            Event::LockAttempt {
                job,
                client,
                attempt,
                ..
            } => {
                let l = self.lane(client);
                if let Some(w) = self.begin_wait(l, *job, t) {
                    self.tl.lanes[l].waits[w].attempts = *attempt;
                }
            }
            Event::Acquired {
                job,
                client,
                fence,
                attempts,
                waited,
                how,
                from_job,
                from_fence,
                ..
            } => {
                let l = self.lane(client);
                let mut hold = new_hold(*job, *fence, *how, t, *waited, *attempts);
                if *how == How::Takeover {
                    hold.from = Some((*from_job, *from_fence));
                    let from = from_job.map_or_else(|| "a holder".to_string(), job_name);
                    let text = format!(
                        "{} took over from {from} (fence {}) with fence {fence}",
                        job_name(*job),
                        from_fence.map_or_else(|| "?".to_string(), |f| f.to_string())
                    );
                    self.mark(Some(l), t, MarkKind::Takeover, text);
                }
                self.acquired(l, hold);
            }
            Event::Released {
                job,
                client,
                committed,
                ..
            } => self.let_go(
                client,
                *job,
                t,
                format!("released ({committed} bytes committed)"),
            ),
            Event::ReleaseUnconfirmed { job, client, .. } => {
                self.let_go(client, *job, t, "release sent, never confirmed".into())
            }
            Event::Heartbeat { job, client, .. } => {
                if let Some(h) = self.open_hold(client, *job) {
                    h.beats += 1;
                }
            }
            Event::ChunkWritten { job, client, .. } => {
                if let Some(h) = self.open_hold(client, *job) {
                    h.chunks += 1;
                }
            }
            Event::CommandStarted {
                job,
                client,
                command,
                pid,
                ..
            } => {
                if let Some(h) = self.open_hold(client, *job) {
                    h.command = Some((format!("{} (pid {pid})", command.join(" ")), None));
                }
            }
            Event::CommandExited {
                job, client, exit, ..
            } => {
                if let Some((_, ended)) = self
                    .open_hold(client, *job)
                    .and_then(|h| h.command.as_mut())
                {
                    *ended = Some(exit.clone());
                }
            }
            Event::Finished { job, client } => self.ended(client, *job, t, None, "finished".into()),
            Event::Crashed {
                job,
                client,
                reason,
            } => self.ended(
                client,
                *job,
                t,
                Some(MarkKind::Crash),
                format!("crashed: {reason}"),
            ),
            Event::Killed { job, client, held } => {
                let how = if *held {
                    "killed holding the lock"
                } else {
                    "killed"
                };
                self.ended(client, *job, t, Some(MarkKind::Kill), how.into());
            }
            Event::Fenced {
                job,
                client,
                reason,
            } => self.ended(
                client,
                *job,
                t,
                Some(MarkKind::Fenced),
                format!("fenced: {reason}"),
            ),
            Event::GaveUp {
                job,
                client,
                attempts,
                waited,
            } => {
                let text = format!("gave up after {attempts} attempts, {}", secs(*waited));
                self.ended(client, *job, t, Some(MarkKind::GaveUp), text);
            }
            other => self.plain_mark(t, other),
        }
    }

    /// The folded picture; holds and waits still open end where the recording does.
    pub fn finish(mut self) -> Timeline {
        let end = self.tl.end;
        for lane in &mut self.tl.lanes {
            for h in &mut lane.holds {
                match h.phase {
                    Phase::Live => {
                        h.end = end;
                        h.ended = "still holding when the recording ends".into();
                    }
                    Phase::Dead => {
                        h.tail = Some(Tail::Dead(end));
                        h.ended
                            .push_str("; not taken over before the recording ends");
                    }
                    Phase::Stale => h.tail = Some(Tail::Stale(end)),
                    Phase::Closed => {}
                }
                h.phase = Phase::Closed;
            }
            for w in lane.waits.iter_mut().filter(|w| w.open) {
                w.end = end;
                w.outcome = "still waiting when the recording ends".into();
                w.open = false;
            }
        }
        self.tl
    }

    /// Whether no event was folded.
    pub fn is_empty(&self) -> bool {
        !self.seen
    }

    fn lane(&mut self, key: &str) -> usize {
        if let Some(&l) = self.lane_of.get(key) {
            return l;
        }
        let l = self.tl.lanes.len();
        self.tl.lanes.push(Lane {
            key: key.to_string(),
            ..Lane::default()
        });
        self.holder.push(None);
        self.lane_of.insert(key.to_string(), l);
        l
    }

    fn mark(&mut self, lane: Option<usize>, t: f64, kind: MarkKind, text: String) {
        let mark = Mark { t, kind, text };
        match lane {
            Some(l) => self.tl.lanes[l].marks.push(mark),
            None => self.tl.marks.push(mark),
        }
    }

    /// Opens the job's wait unless it waits or holds already; the open wait's index.
    fn begin_wait(&mut self, l: usize, job: JobId, t: f64) -> Option<usize> {
        let track = self.jobs.entry((l, job)).or_default();
        if track.hold.is_some() {
            return None;
        }
        if track.wait.is_none() {
            let waits = &mut self.tl.lanes[l].waits;
            track.wait = Some(waits.len());
            waits.push(Wait {
                job,
                start: t,
                end: t,
                attempts: 0,
                outcome: String::new(),
                open: true,
            });
        }
        track.wait
    }
}
