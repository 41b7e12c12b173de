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

use std::collections::{BTreeMap, HashMap};

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
}

/// Returns one line per broken invariant (empty when the run was sound).
pub fn check(events: &[Stamped]) -> Vec<String> {
    let mut v = Vec::new();
    let mut clients: BTreeMap<String, Client> = BTreeMap::new();
    let mut queued: HashMap<JobId, u32> = HashMap::new();
    let mut ends: HashMap<JobId, u32> = HashMap::new();
    let mut acquired: HashMap<JobId, u32> = HashMap::new();
    // Index of the open hold of a job, by (client, job).
    let mut open: HashMap<(String, JobId), usize> = HashMap::new();

    for s in events {
        match &s.event {
            Event::Queued { job, .. } => *queued.entry(*job).or_default() += 1,
            Event::LeaseExpired { client, fence, .. } => {
                let c = clients.entry(client.clone()).or_default();
                c.expiries.push((*fence, s.t));
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
                *acquired.entry(*job).or_default() += 1;
                let c = clients.entry(client.clone()).or_default();
                open.insert((client.clone(), *job), c.holds.len());
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
            }
            Event::Repair {
                job,
                client,
                fence,
                wseq,
                ..
            } => {
                let c = clients.entry(client.clone()).or_default();
                if !c.writes.iter().any(|w| w.0 == *wseq) {
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
                let c = clients.entry(client.clone()).or_default();
                c.writes.push((*wseq, *job, *fence, true));
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
                    *ends.entry(*job).or_default() += 1;
                }
                if let Some(i) = open.remove(&(client.clone(), *job))
                    && let Some(c) = clients.get_mut(client)
                {
                    c.holds[i].end = s.t;
                }
            }
            _ => {}
        }
    }

    for (name, c) in &mut clients {
        check_fences(name, c, &mut v);
        check_overlaps(name, c, &mut v);
        check_writes(name, c, &mut v);
    }
    check_lifecycles(&queued, &acquired, &ends, &mut v);
    v
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

fn check_overlaps(name: &str, c: &Client, v: &mut Vec<String>) {
    for a in &c.holds {
        for b in &c.holds {
            if a.job == b.job || b.wseq <= a.wseq || b.start >= a.end {
                continue;
            }
            // b acquired while a still held. That is allowed only for a holder whose
            // lease had expired: a waiter saw its (fence, heartbeat) stand still for a
            // whole lease, or took it over, no later than b. (The taker itself may
            // never show up as a holder: it can lose its own fence-in to a faster
            // taker, so the expiry a waiter reported is evidence enough.)
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
                continue;
            }
            // And it wrote nothing after the output first accepted a higher fence:
            // from then on its writes must all have been rejected.
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
    }
}

fn check_writes(name: &str, c: &Client, v: &mut Vec<String>) {
    let mut writes = c.writes.clone();
    writes.sort_by_key(|w| w.0);
    let mut highest = 0;
    let mut current: Option<JobId> = None;
    let mut done: Vec<JobId> = Vec::new();
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
                done.push(prev);
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
