//! The run invariants, checked from the event stream alone (docs/PROTOCOL.md §3):
//!
//! 1. fences strictly increase per key, in the output's own order;
//! 2. no two jobs hold one key at the same time in scenario time, except a holder
//!    whose lease had expired (somebody took over from its fence), and that one
//!    wrote nothing after the takeover;
//! 3. no two jobs' accepted writes interleave, and accepted fences never go down;
//! 4. every job is queued once, acquires at most once and ends exactly once.
//!
//! Crashed jobs count like any other: an overlap with a job that crashed is still an
//! overlap. Job 0 is the engine's end-of-run recovery, which takes part in 1-3.
//! (The output's record count is checked against the finished jobs in the summary.)

use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use crate::events::{Event, How, JobId, Stamped};

#[derive(Debug, Clone)]
struct Hold {
    job: JobId,
    fence: u64,
    start: f64,
    end: f64,
    wseq: u64,
}

#[derive(Debug, Clone)]
struct Takeover {
    from_fence: u64,
    wseq: u64,
}

#[derive(Default)]
struct Client {
    holds: Vec<Hold>,
    takeovers: Vec<Takeover>,
    /// Fences whose lease a waiter saw expire, and when.
    expiries: Vec<(u64, f64)>,
    /// Accepted output operations (wseq, job, fence, is_chunk).
    writes: Vec<(u64, JobId, u64, bool)>,
    /// The write sequence numbers in `writes`, so a repair is counted once.
    wseqs: HashSet<u64>,
}

/// Returns one line per broken invariant (empty when the run was sound).
pub fn check(events: &[Stamped]) -> Vec<String> {
    let mut checker = Checker::default();
    for s in events {
        checker.observe(s);
    }
    checker.finish()
}

/// The invariants folded one event at a time, so a run need not keep its events:
/// what is kept per job is a few numbers (its hold and its accepted writes).
#[derive(Default)]
pub struct Checker {
    clients: BTreeMap<String, Client>,
    queued: HashMap<JobId, u32>,
    ends: HashMap<JobId, u32>,
    acquired: HashMap<JobId, u32>,
    /// Index of the open hold of a job, by (client, job).
    open: HashMap<(String, JobId), usize>,
}

impl Checker {
    fn client(&mut self, name: &str) -> &mut Client {
        // Looked up before inserting: most events are for a client already seen, and
        // cloning its name for every event would cost an allocation each.
        if !self.clients.contains_key(name) {
            self.clients.insert(name.to_string(), Client::default());
        }
        self.clients
            .get_mut(name)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// Takes one event into account.
    pub fn observe(&mut self, s: &Stamped) {
        match &s.event {
            Event::Queued { job, .. } => *self.queued.entry(*job).or_default() += 1,
            Event::LeaseExpired { client, fence, .. } => {
                self.client(client).expiries.push((*fence, s.t));
            }
            Event::Acquired {
                job,
                client,
                fence,
                how,
                from_fence,
                wseq,
                ..
            } => {
                *self.acquired.entry(*job).or_default() += 1;
                let c = self.client(client);
                let index = c.holds.len();
                c.holds.push(Hold {
                    job: *job,
                    fence: *fence,
                    start: s.t,
                    end: f64::INFINITY,
                    wseq: *wseq,
                });
                if *how == How::Takeover
                    && let Some(from) = from_fence
                {
                    c.takeovers.push(Takeover {
                        from_fence: *from,
                        wseq: *wseq,
                    });
                }
                c.writes.push((*wseq, *job, *fence, false));
                c.wseqs.insert(*wseq);
                self.open.insert((client.clone(), *job), index);
            }
            Event::Repair {
                job,
                client,
                fence,
                wseq,
                ..
            } => {
                let c = self.client(client);
                if c.wseqs.insert(*wseq) {
                    c.writes.push((*wseq, *job, *fence, false));
                }
            }
            Event::ChunkWritten {
                job,
                client,
                fence,
                wseq,
                ..
            } => {
                let c = self.client(client);
                c.writes.push((*wseq, *job, *fence, true));
                c.wseqs.insert(*wseq);
            }
            // A release whose answer never came still ends the hold: from its first
            // sending on the job acts on nothing (a release that did not apply leaves
            // the lock to expire, and then a taker comes with an expiry).
            e @ (Event::Released { job, client, .. }
            | Event::ReleaseUnconfirmed { job, client, .. }
            | Event::Finished { job, client }
            | Event::Crashed { job, client, .. }
            | Event::Killed { job, client, .. }
            | Event::Fenced { job, client, .. }
            | Event::GaveUp { job, client, .. }) => {
                if e.is_end() {
                    *self.ends.entry(*job).or_default() += 1;
                }
                if let Some(i) = self.open.remove(&(client.clone(), *job))
                    && let Some(c) = self.clients.get_mut(client)
                {
                    c.holds[i].end = s.t;
                }
            }
            _ => {}
        }
    }

    /// One line per broken invariant among the events observed.
    pub fn finish(mut self) -> Vec<String> {
        let mut v = Vec::new();
        for (name, c) in &mut self.clients {
            check_fences(name, c, &mut v);
            check_overlaps(name, c, &mut v);
            check_writes(name, c, &mut v);
        }
        check_lifecycles(&self.queued, &self.acquired, &self.ends, &mut v);
        v
    }
}

fn check_fences(name: &str, c: &Client, v: &mut Vec<String>) {
    let mut holds: Vec<&Hold> = c.holds.iter().collect();
    holds.sort_by_key(|h| h.wseq);
    for pair in holds.windows(2) {
        if pair[1].fence <= pair[0].fence {
            v.push(format!(
                "{name}: fence did not increase: job {} got fence {} after job {} had fence {}",
                pair[1].job, pair[1].fence, pair[0].job, pair[0].fence
            ));
        }
    }
}

/// A hold still open at some instant, ordered by its end so the earliest ends first.
struct Open(f64, usize);

impl PartialEq for Open {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Open {}
impl PartialOrd for Open {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Open {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest end.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

fn check_overlaps(name: &str, c: &Client, v: &mut Vec<String>) {
    // A sweep in start order over the holds still open: each pair that overlaps in
    // time is looked at once, and a sound run (one holder at a time) costs
    // n log n rather than every pair of holds.
    let mut order: Vec<usize> = (0..c.holds.len()).collect();
    order.sort_by(|&x, &y| {
        c.holds[x]
            .start
            .total_cmp(&c.holds[y].start)
            .then(x.cmp(&y))
    });
    let mut open: BinaryHeap<Open> = BinaryHeap::new();
    let mut pairs = Vec::new();
    for &i in &order {
        let b = &c.holds[i];
        while open.peek().is_some_and(|o| o.0 <= b.start) {
            open.pop();
        }
        for o in open.iter() {
            pairs.push((o.1, i));
        }
        open.push(Open(b.end, i));
    }
    // Both orders of a pair: which one acquired first is told by the write sequence.
    pairs.sort_unstable();
    for (x, y) in pairs {
        for (a, b) in [(&c.holds[x], &c.holds[y]), (&c.holds[y], &c.holds[x])] {
            check_overlap(name, c, a, b, v);
        }
    }
}

/// The rule for one pair: `b` acquired while `a` still held.
fn check_overlap(name: &str, c: &Client, a: &Hold, b: &Hold, v: &mut Vec<String>) {
    if a.job == b.job || b.wseq <= a.wseq || b.start >= a.end {
        return;
    }
    // That is allowed only for a holder whose lease had expired: a waiter saw its
    // (fence, heartbeat) stand still for a whole lease, or took it over, no later
    // than b. (The taker itself may never show up as a holder: it can lose its own
    // fence-in to a faster taker, so the expiry a waiter reported is evidence enough.)
    let expired = c
        .takeovers
        .iter()
        .any(|t| t.from_fence == a.fence && t.wseq <= b.wseq)
        || c.expiries
            .iter()
            .any(|(f, t)| *f == a.fence && *t <= b.start);
    if !expired {
        v.push(format!(
            "{name}: job {} (fence {}) and job {} (fence {}) held the lock at the same time ({:.3}s to {:.3}s)",
            a.job, a.fence, b.job, b.fence, b.start, a.end.min(f64::MAX)
        ));
        return;
    }
    // And it wrote nothing after the output first accepted a higher fence: from
    // then on its writes must all have been rejected.
    let superseded = c.writes.iter().filter(|w| w.2 > a.fence).map(|w| w.0).min();
    if let Some(sw) = superseded
        && let Some(w) = c.writes.iter().find(|w| w.1 == a.job && w.3 && w.0 > sw)
    {
        v.push(format!(
            "{name}: job {} wrote (write #{}) after a higher fence was accepted (write #{sw})",
            a.job, w.0
        ));
    }
}

fn check_writes(name: &str, c: &Client, v: &mut Vec<String>) {
    let mut writes = c.writes.clone();
    writes.sort_by_key(|w| w.0);
    let mut highest = 0;
    let mut current: Option<JobId> = None;
    let mut done: HashSet<JobId> = HashSet::new();
    for (wseq, job, fence, is_chunk) in writes {
        if fence < highest {
            v.push(format!(
                "{name}: output accepted fence {fence} from job {job} after fence {highest} (write #{wseq})"
            ));
        }
        highest = highest.max(fence);
        if !is_chunk {
            continue;
        }
        if current != Some(job) {
            if done.contains(&job) {
                v.push(format!(
                    "{name}: writes of job {job} interleave with another job's (write #{wseq})"
                ));
            }
            if let Some(prev) = current {
                done.insert(prev);
            }
            current = Some(job);
        }
    }
}

fn check_lifecycles(
    queued: &HashMap<JobId, u32>,
    acquired: &HashMap<JobId, u32>,
    ends: &HashMap<JobId, u32>,
    v: &mut Vec<String>,
) {
    let mut jobs: Vec<JobId> = queued
        .keys()
        .chain(ends.keys())
        .chain(acquired.keys())
        .copied()
        .filter(|j| *j != 0)
        .collect();
    jobs.sort_unstable();
    jobs.dedup();
    for job in jobs {
        let q = queued.get(&job).copied().unwrap_or(0);
        let e = ends.get(&job).copied().unwrap_or(0);
        let a = acquired.get(&job).copied().unwrap_or(0);
        if q != 1 {
            v.push(format!("job {job} was queued {q} times"));
        }
        if e != 1 {
            v.push(format!("job {job} has {e} end states, not exactly one"));
        }
        if a > 1 {
            v.push(format!(
                "job {job} acquired the lock {a} times (ran more than once)"
            ));
        }
    }
}

#[cfg(test)]
mod tests;
