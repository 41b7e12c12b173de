//! The summary's counts folded from a run's events (the engine adds store counts,
//! output verdicts and violations). Kept apart from the plain [`Summary`] so that
//! the event that carries a summary and the summary do not import each other.

use std::collections::{BTreeMap, HashMap};

use super::event::Event;
use super::job::{How, JobId};
use super::stamped::Stamped;
use super::summary::Summary;

impl Summary {
    /// Job faults (crash, kill, stall commands) that hit a job, by kind, and the
    /// faults the store wrapper does not count: resets and run stops.
    pub fn job_faults(events: &[Stamped]) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for s in events {
            match &s.event {
                Event::FaultInjected { what } if what.starts_with("store reset") => {
                    *m.entry("store reset".to_string()).or_insert(0) += 1;
                }
                Event::CommandApplied { command, job: None } if command == "stop" => {
                    *m.entry("run stop".to_string()).or_insert(0) += 1;
                }
                _ => {}
            }
            if let Event::CommandApplied {
                command,
                job: Some(_),
            } = &s.event
            {
                for kind in ["crash", "kill", "stall"] {
                    if command.starts_with(kind) {
                        *m.entry(format!("job {kind}")).or_insert(0) += 1;
                    }
                }
            }
        }
        m
    }

    /// The trouble lines the events show (see [`Summary::trouble`]); `halted` is the
    /// run's halt reason, if any.
    pub fn trouble_of(&self, events: &[Stamped], halted: Option<String>) -> Vec<String> {
        let mut lines: Vec<String> = halted.into_iter().map(|r| format!("halted: {r}")).collect();
        for st in events {
            if let Event::OutputFailed { job, error, .. } = &st.event {
                lines.push(format!("job {job} could not write: {error}"));
            }
        }
        if self.fenced > 0 && self.faults.is_empty() {
            lines.push(format!(
                "{} job(s) lost the lock with no fault injected: the store was slow or unreachable, or the lease is too short for this machine (see the fenced reasons above)",
                self.fenced
            ));
        }
        lines
    }

    /// Finished jobs per client, from the events.
    pub fn finished_per_client(events: &[Stamped]) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for s in events {
            if let Event::Finished { job, client } = &s.event
                && *job != 0
            {
                *m.entry(client.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    /// Counts and timings folded from the events (outputs and violations left empty).
    pub fn tally(events: &[Stamped]) -> Summary {
        let mut s = Summary::default();
        let mut waits = Vec::new();
        let mut hold_start: HashMap<JobId, f64> = HashMap::new();
        let mut last_end: f64 = 0.0;
        for st in events {
            match &st.event {
                Event::Queued { .. } => s.jobs += 1,
                Event::Acquired {
                    job, how, waited, ..
                } => {
                    match how {
                        How::Handoff => s.handoffs += 1,
                        How::Takeover => s.takeovers += 1,
                        How::Created => {}
                    }
                    if *job != 0 {
                        waits.push(*waited);
                        hold_start.insert(*job, st.t);
                    }
                }
                // Won but never used: not a hold, but an acquisition all the same.
                Event::NotFencedIn { how, .. } => match how {
                    How::Handoff => s.handoffs += 1,
                    How::Takeover => s.takeovers += 1,
                    How::Created => {}
                },
                Event::Repair { bytes, .. } => {
                    s.repairs += 1;
                    s.repaired_bytes += bytes;
                }
                Event::WriteRejected { .. } => s.writes_rejected += 1,
                Event::Released { job, .. } => {
                    if let Some(t0) = hold_start.remove(job) {
                        s.serial_time += st.t - t0;
                    }
                }
                e if e.is_end() => {
                    let job = e.job().unwrap_or(0);
                    if job == 0 {
                        continue;
                    }
                    if let Some(t0) = hold_start.remove(&job) {
                        s.serial_time += st.t - t0;
                    }
                    last_end = last_end.max(st.t);
                    match e {
                        Event::Finished { .. } => s.finished += 1,
                        Event::Crashed { .. } => s.crashed += 1,
                        Event::Killed { .. } => s.killed += 1,
                        Event::Fenced { .. } => s.fenced += 1,
                        Event::GaveUp { .. } => s.gave_up += 1,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        s.total_time = last_end;
        if !waits.is_empty() {
            s.mean_wait = waits.iter().sum::<f64>() / waits.len() as f64;
            s.max_wait = waits.iter().cloned().fold(0.0, f64::max);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64, event: Event) -> Stamped {
        Stamped { seq: 0, t, event }
    }

    #[test]
    fn a_takeover_the_output_refused_still_counts_as_a_takeover() {
        let won = |job, how, reason: &str| Event::NotFencedIn {
            job,
            client: "c".into(),
            fence: job as u64 + 4,
            how,
            from_job: None,
            from_fence: Some(4),
            committed: 81,
            reason: reason.into(),
        };
        let events = [
            at(3.0, won(1, How::Takeover, "out of step")),
            at(3.1, won(2, How::Handoff, "out of step")),
            at(3.2, won(3, How::Created, "out of step")),
        ];
        let s = Summary::tally(&events);
        assert_eq!((s.takeovers, s.handoffs), (1, 1));
        // Never a hold: no wait and no hold time comes of it.
        assert_eq!((s.mean_wait, s.serial_time), (0.0, 0.0));
    }
}
