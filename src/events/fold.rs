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
        Tally::of(events).faults
    }

    /// The trouble lines the events show (see [`Summary::trouble`]); `halted` is the
    /// run's halt reason, if any.
    pub fn trouble_of(&self, events: &[Stamped], halted: Option<String>) -> Vec<String> {
        Tally::of(events).trouble(self, halted)
    }

    /// Finished jobs per client, from the events.
    pub fn finished_per_client(events: &[Stamped]) -> HashMap<String, usize> {
        Tally::of(events).finished
    }

    /// Counts and timings folded from the events (outputs and violations left empty).
    pub fn tally(events: &[Stamped]) -> Summary {
        Tally::of(events).summary()
    }
}

/// The summary's counts folded one event at a time, so a run need not keep its
/// events to sum them up at the end.
#[derive(Debug, Default)]
pub struct Tally {
    counts: Summary,
    wait_sum: f64,
    waits: u64,
    hold_start: HashMap<JobId, f64>,
    last_end: f64,
    faults: BTreeMap<String, u64>,
    finished: HashMap<String, usize>,
    output_failures: Vec<String>,
    /// The fastest speed the run went at (from `RunStarted` and `SpeedChanged`).
    fastest: Option<f64>,
    /// Why fenced jobs are the machine's doing, when the engine found the lease
    /// under its floor (see [`Tally::blame_floor`]).
    floor_cause: Option<String>,
}

impl Tally {
    /// The tally of `events`.
    pub fn of(events: &[Stamped]) -> Tally {
        let mut t = Tally::default();
        for s in events {
            t.observe(s);
        }
        t
    }

    /// Takes one event into account.
    pub fn observe(&mut self, st: &Stamped) {
        self.observe_faults(&st.event);
        let s = &mut self.counts;
        match &st.event {
            // A recording may hold anything; NaN must not win a max.
            Event::RunStarted { speed, .. } | Event::SpeedChanged { speed }
                if speed.is_finite() =>
            {
                self.fastest = Some(self.fastest.map_or(*speed, |f| f.max(*speed)));
            }
            Event::Queued { .. } => s.jobs += 1,
            Event::Acquired {
                job, how, waited, ..
            } => {
                s.acquisitions += 1;
                match how {
                    How::Handoff => s.handoffs += 1,
                    How::Takeover => s.takeovers += 1,
                    How::Created => {}
                }
                if *job != 0 {
                    self.wait_sum += *waited;
                    self.waits += 1;
                    s.max_wait = s.max_wait.max(*waited);
                    self.hold_start.insert(*job, st.t);
                }
            }
            // Won but never used: not a hold, but an acquisition all the same.
            Event::NotFencedIn { how, .. } => {
                s.acquisitions += 1;
                match how {
                    How::Handoff => s.handoffs += 1,
                    How::Takeover => s.takeovers += 1,
                    How::Created => {}
                }
            }
            Event::Heartbeat { .. } | Event::HeartbeatFailed { .. } => s.heartbeats += 1,
            Event::Repair { bytes, .. } => {
                s.repairs += 1;
                s.repaired_bytes += bytes;
            }
            Event::WriteRejected { .. } => s.writes_rejected += 1,
            Event::OutputFailed { job, error, .. } => self
                .output_failures
                .push(format!("job {job} could not write: {error}")),
            Event::Released { job, .. } => {
                if let Some(t0) = self.hold_start.remove(job) {
                    s.serial_time += st.t - t0;
                }
            }
            e if e.is_end() => {
                let job = e.job().unwrap_or(0);
                if job == 0 {
                    return;
                }
                if let Some(t0) = self.hold_start.remove(&job) {
                    s.serial_time += st.t - t0;
                }
                self.last_end = self.last_end.max(st.t);
                match e {
                    Event::Finished { client, .. } => {
                        s.finished += 1;
                        match self.finished.get_mut(client) {
                            Some(n) => *n += 1,
                            None => {
                                self.finished.insert(client.clone(), 1);
                            }
                        }
                    }
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

    fn observe_faults(&mut self, event: &Event) {
        let m = &mut self.faults;
        match event {
            Event::FaultInjected { what } if what.starts_with("store reset") => {
                *m.entry("store reset".to_string()).or_insert(0) += 1;
            }
            Event::CommandApplied { command, job: None } if command == "stop" => {
                *m.entry("run stop".to_string()).or_insert(0) += 1;
            }
            Event::CommandApplied {
                command,
                job: Some(_),
            } => {
                for kind in ["crash", "kill", "stall"] {
                    if command.starts_with(kind) {
                        *m.entry(format!("job {kind}")).or_insert(0) += 1;
                    }
                }
            }
            _ => {}
        }
    }

    /// Counts and timings (outputs, violations and faults left empty).
    pub fn summary(&self) -> Summary {
        let mut s = self.counts.clone();
        s.total_time = self.last_end;
        if self.waits > 0 {
            s.mean_wait = self.wait_sum / self.waits as f64;
        }
        s
    }

    /// Job faults by kind (see [`Summary::job_faults`]).
    pub fn faults(&self) -> BTreeMap<String, u64> {
        self.faults.clone()
    }

    /// Finished jobs of `client`.
    pub fn finished_of(&self, client: &str) -> usize {
        self.finished.get(client).copied().unwrap_or(0)
    }

    /// The fastest speed seen, if a speed was.
    pub fn fastest_speed(&self) -> Option<f64> {
        self.fastest
    }

    /// Names the cause of fenced jobs: the lease (at the run's fastest speed) was
    /// under the machine's floor. The rule is the engine's (`engine::floor`); the
    /// tally only words the summary with it.
    pub fn blame_floor(&mut self, cause: Option<String>) {
        self.floor_cause = cause;
    }

    /// The trouble lines for `summary` (see [`Summary::trouble`]).
    pub fn trouble(&self, summary: &Summary, halted: Option<String>) -> Vec<String> {
        let mut lines: Vec<String> = halted.into_iter().map(|r| format!("halted: {r}")).collect();
        lines.extend(self.output_failures.iter().cloned());
        if summary.fenced > 0 && summary.faults.is_empty() {
            lines.push(match &self.floor_cause {
                Some(cause) => cause.clone(),
                None => format!(
                    "{} job(s) lost the lock with no fault injected: the store was slow or unreachable, or the machine stalled a heartbeat past its lease (see the fenced reasons above)",
                    summary.fenced
                ),
            });
        }
        lines
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

    fn fenced(job: JobId) -> Event {
        Event::Fenced {
            job,
            client: "c".into(),
            reason: "lease not renewed in time".into(),
        }
    }

    #[test]
    fn the_fastest_speed_is_the_highest_of_the_start_and_every_change() {
        let events = [
            at(0.0, crate::events::for_tests::started(2.0, "real")),
            at(1.0, Event::SpeedChanged { speed: 1000.0 }),
            at(2.0, Event::SpeedChanged { speed: f64::NAN }),
            at(3.0, Event::SpeedChanged { speed: 4.0 }),
        ];
        assert_eq!(Tally::of(&events).fastest_speed(), Some(1000.0));
        assert_eq!(Tally::default().fastest_speed(), None);
    }

    #[test]
    fn fenced_jobs_name_the_floor_when_the_engine_blamed_it() {
        let events = [
            at(0.0, crate::events::for_tests::started(1000.0, "real")),
            at(1.0, fenced(1)),
            at(2.0, fenced(2)),
        ];
        let mut tally = Tally::of(&events);
        let summary = tally.summary();
        assert_eq!(summary.fenced, 2);
        let plain = tally.trouble(&summary, None);
        assert_eq!(plain.len(), 1);
        assert!(
            plain[0].starts_with("2 job(s) lost the lock with no fault injected"),
            "{plain:?}"
        );
        tally.blame_floor(Some(
            "2 job(s) fenced: the lease was below the machine's floor".into(),
        ));
        assert_eq!(
            tally.trouble(&summary, None),
            vec!["2 job(s) fenced: the lease was below the machine's floor".to_string()]
        );
        // No fenced job, no trouble, whatever the floor.
        let quiet = Tally::of(&events[..1]);
        assert!(quiet.trouble(&quiet.summary(), None).is_empty());
    }
}
