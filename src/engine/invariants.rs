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
mod tests {
    use super::*;

    fn at(seq: u64, t: f64, event: Event) -> Stamped {
        Stamped { seq, t, event }
    }

    fn acquired(job: JobId, fence: u64, how: How, from: Option<u64>, wseq: u64) -> Event {
        Event::Acquired {
            job,
            client: "c".into(),
            fence,
            attempts: 1,
            waited: 0.0,
            how,
            from_job: None,
            from_fence: from,
            committed: 0,
            wseq,
        }
    }

    fn chunk(job: JobId, fence: u64, wseq: u64) -> Event {
        Event::ChunkWritten {
            job,
            client: "c".into(),
            fence,
            chunk: 1,
            of: 1,
            offset: 0,
            text: "x".into(),
            wseq,
        }
    }

    fn queued(job: JobId) -> Event {
        Event::Queued {
            job,
            client: "c".into(),
            hash: format!("h{job}"),
            will_crash: false,
        }
    }

    fn released(job: JobId, fence: u64) -> Event {
        Event::Released {
            job,
            client: "c".into(),
            fence,
            committed: 0,
        }
    }

    fn finished(job: JobId) -> Event {
        Event::Finished {
            job,
            client: "c".into(),
        }
    }

    fn fenced(job: JobId) -> Event {
        Event::Fenced {
            job,
            client: "c".into(),
            reason: "r".into(),
        }
    }

    #[test]
    fn a_clean_handoff_is_sound() {
        let ev = vec![
            at(1, 0.0, queued(1)),
            at(2, 0.0, queued(2)),
            at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
            at(4, 2.0, chunk(1, 1, 2)),
            at(5, 3.0, released(1, 1)),
            at(6, 3.0, finished(1)),
            at(7, 3.5, acquired(2, 2, How::Handoff, None, 3)),
            at(8, 4.0, chunk(2, 2, 4)),
            at(9, 5.0, released(2, 2)),
            at(10, 5.0, finished(2)),
        ];
        assert_eq!(check(&ev), Vec::<String>::new());
    }

    #[test]
    fn two_holders_at_once_are_reported_even_if_one_crashed() {
        let ev = vec![
            at(1, 0.0, queued(1)),
            at(2, 0.0, queued(2)),
            at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
            at(4, 1.5, acquired(2, 2, How::Handoff, None, 2)),
            at(
                5,
                2.0,
                Event::Crashed {
                    job: 1,
                    client: "c".into(),
                    reason: "x".into(),
                },
            ),
            at(6, 3.0, released(2, 2)),
            at(7, 3.0, finished(2)),
        ];
        let v = check(&ev);
        assert!(v.iter().any(|l| l.contains("at the same time")), "{v:?}");
    }

    #[test]
    fn a_stalled_holder_overlapping_its_taker_is_allowed_if_it_wrote_nothing_after() {
        let ev = vec![
            at(1, 0.0, queued(1)),
            at(2, 0.0, queued(2)),
            at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
            at(4, 1.0, chunk(1, 1, 2)),
            at(5, 5.0, acquired(2, 2, How::Takeover, Some(1), 3)),
            at(6, 6.0, chunk(2, 2, 4)),
            at(7, 8.0, fenced(1)),
            at(8, 9.0, released(2, 2)),
            at(9, 9.0, finished(2)),
        ];
        assert_eq!(check(&ev), Vec::<String>::new());
    }

    fn expired(fence: u64) -> Event {
        Event::LeaseExpired {
            job: 9,
            client: "c".into(),
            holder: Some(1),
            fence,
            unchanged_for: 3.0,
        }
    }

    #[test]
    fn a_holder_whose_expired_lease_went_to_a_taker_that_never_fenced_in_is_allowed() {
        // Job 1 holds fence 1 and stalls; a waiter sees the lease expire and takes
        // fence 2 in the store but loses its own fence-in to job 2, who took fence 3.
        let ev = vec![
            at(1, 0.0, queued(1)),
            at(2, 0.0, queued(2)),
            at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
            at(4, 1.0, chunk(1, 1, 2)),
            at(5, 4.5, expired(1)),
            at(6, 5.0, acquired(2, 3, How::Takeover, Some(2), 3)),
            at(7, 6.0, chunk(2, 3, 4)),
            at(8, 8.0, fenced(1)),
            at(9, 9.0, released(2, 3)),
            at(10, 9.0, finished(2)),
        ];
        assert_eq!(check(&ev), Vec::<String>::new());
    }

    #[test]
    fn a_release_that_was_sent_but_never_confirmed_ends_the_hold() {
        // Job 1's crash-path release applied but every reply was lost; job 2 then
        // took the free lock. Job 1 held nothing from its release's sending on.
        let unconfirmed = Event::ReleaseUnconfirmed {
            job: 1,
            client: "c".into(),
            fence: 1,
        };
        let crashed = Event::Crashed {
            job: 1,
            client: "c".into(),
            reason: "x".into(),
        };
        let ev = vec![
            at(1, 0.0, queued(1)),
            at(2, 0.0, queued(2)),
            at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
            at(4, 2.0, unconfirmed),
            at(5, 3.0, acquired(2, 2, How::Handoff, None, 2)),
            at(6, 4.0, crashed),
            at(7, 5.0, released(2, 2)),
            at(8, 5.0, finished(2)),
        ];
        assert_eq!(check(&ev), Vec::<String>::new());
        // Without the event the same story is two holders at once.
        let mut without = ev.clone();
        without.remove(3);
        assert!(check(&without).iter().any(|l| l.contains("same time")));
    }

    #[test]
    fn a_stale_holder_that_writes_after_a_higher_fence_is_reported() {
        let ev = vec![
            at(1, 0.0, queued(1)),
            at(2, 0.0, queued(2)),
            at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
            at(4, 4.5, expired(1)),
            at(5, 5.0, acquired(2, 2, How::Takeover, Some(1), 2)),
            at(6, 5.5, chunk(1, 1, 3)),
        ];
        let v = check(&ev);
        assert!(
            v.iter().any(|l| l.contains("after a higher fence")),
            "{v:?}"
        );
    }

    #[test]
    fn interleaved_writes_and_a_falling_fence_are_reported() {
        let ev = vec![
            at(1, 0.0, chunk(1, 1, 1)),
            at(2, 0.0, chunk(2, 2, 2)),
            at(3, 0.0, chunk(1, 1, 3)),
        ];
        let v = check(&ev);
        assert!(v.iter().any(|l| l.contains("interleave")), "{v:?}");
        assert!(v.iter().any(|l| l.contains("accepted fence 1")), "{v:?}");
    }

    #[test]
    fn a_job_without_an_end_or_with_two_is_reported() {
        let ev = vec![
            at(1, 0.0, queued(1)),
            at(2, 0.0, queued(2)),
            at(3, 1.0, finished(2)),
            at(4, 1.0, finished(2)),
        ];
        let v = check(&ev);
        assert!(
            v.iter().any(|l| l.contains("job 1 has 0 end states")),
            "{v:?}"
        );
        assert!(
            v.iter().any(|l| l.contains("job 2 has 2 end states")),
            "{v:?}"
        );
    }
}
