//! How each event changes the dashboard's model: one arm per event kind.

use super::{ClientView, DashState, JobRow, JobState, Level, Mark, MarkKind, RunInfo, state_index};
use crate::events::{Event, How, JobId};

impl DashState {
    /// Updates the model; returns how the event's log line should stand out.
    pub(super) fn fold(&mut self, t: f64, event: &Event) -> Level {
        match event {
            Event::RunStarted {
                jobs,
                store,
                speed,
                seed,
                clock,
                lease,
                wait,
                client_names,
                outputs,
                ..
            } => {
                self.info = RunInfo {
                    jobs: *jobs,
                    store: store.clone(),
                    seed: *seed,
                    clock: clock.clone(),
                    lease: *lease,
                    wait: wait.clone(),
                };
                self.speed = *speed;
                self.clients = client_names
                    .iter()
                    .zip(outputs)
                    .map(|(n, o)| ClientView::new(n.clone(), o.clone()))
                    .collect();
            }
            Event::Queued {
                job,
                client,
                hash,
                will_crash,
            } => {
                let row = JobRow::new(*job, hash.clone(), client.clone(), t, *will_crash);
                let index = (*job as usize).wrapping_sub(1);
                if *job > 0 && index == self.jobs.len() {
                    self.jobs.push(row);
                    self.counts[state_index(JobState::Queued)] += 1;
                    self.count_waiter(client, JobState::Queued, 1);
                }
            }
            Event::LockAttempt { job, attempt, .. } => {
                if let Some(j) = self.job_mut(*job) {
                    j.attempts = *attempt;
                    if j.first_attempt_at.is_none() {
                        j.first_attempt_at = Some(t);
                        j.note(t, "asked for the lock");
                    }
                }
                if self.job(*job).map(|j| j.state) == Some(JobState::Queued) {
                    self.set_state(*job, JobState::Waiting, t);
                }
            }
            Event::LeaseExpired {
                job,
                client,
                holder,
                fence,
                ..
            } => {
                if let Some(c) = self.client_mut(client) {
                    c.marks.push(Mark::new(t, MarkKind::Expired, *job));
                }
                let holder_job = holder.and_then(|h| self.job(h));
                let alive = holder_job
                    .is_some_and(|j| matches!(j.state, JobState::Running | JobState::Stalled));
                // A stalled holder or a store fault makes an expiry expected.
                let explained = self.store_faults > 0 || holder_job.is_some_and(|j| j.faulted);
                if alive && !explained {
                    let who = holder.map(|h| format!("job {h}")).unwrap_or_default();
                    self.warn(
                        t,
                        format!(
                            "{client}: lease of {who} (fence {fence}) expired while it was alive"
                        ),
                    );
                }
                return Level::Notice;
            }
            Event::Acquired {
                job,
                client,
                fence,
                attempts,
                waited,
                how,
                from_job,
                ..
            } => {
                if let Some(j) = self.job_mut(*job) {
                    j.fence = Some(*fence);
                    j.acquired_at = Some(t);
                    j.waited = Some(*waited);
                    j.attempts = (*attempts).max(j.attempts);
                    let how = match how {
                        How::Created => "first acquisition",
                        How::Handoff => "handoff",
                        How::Takeover => "takeover",
                    };
                    j.note(t, format!("acquired the lock with fence {fence} ({how})"));
                }
                self.set_state(*job, JobState::Running, t);
                if let Some(c) = self.client_mut(client) {
                    c.acquired(t, *job, *fence, *how, *from_job);
                }
                if *how == How::Takeover {
                    return Level::Notice;
                }
            }
            Event::NotFencedIn {
                job, fence, reason, ..
            } => {
                // Not a hold (it never fences in); the halt that follows says why.
                if let Some(j) = self.job_mut(*job) {
                    j.note(
                        t,
                        format!("won the lock with fence {fence} but did not fence in: {reason}"),
                    );
                }
                return Level::Notice;
            }
            Event::Repair {
                job, client, bytes, ..
            } => {
                if let Some(c) = self.client_mut(client) {
                    c.repaired(t, *job, event);
                }
                if let Some(j) = self.job_mut(*job) {
                    j.note(t, format!("repaired the output: cut {bytes} bytes"));
                }
                return Level::Notice;
            }
            Event::ChunkWritten {
                job,
                client,
                chunk,
                of,
                ..
            } => {
                if let Some(j) = self.job_mut(*job) {
                    j.chunks = *chunk;
                    j.of = *of;
                    if *chunk == 1 {
                        j.note(t, "started writing");
                    }
                }
                if let Some(c) = self.client_mut(client) {
                    c.wrote(*job, event);
                }
            }
            Event::WriteRejected {
                job,
                client,
                fence,
                highest,
            } => {
                if let Some(c) = self.client_mut(client) {
                    c.marks.push(Mark::new(t, MarkKind::Rejected, *job));
                }
                if let Some(j) = self.job_mut(*job) {
                    j.note(t, format!("write rejected: fence {fence} < {highest}"));
                }
                // The fence stopping a stalled job is the lock working, not a fault.
                let explained = self.store_faults > 0 || self.job(*job).is_some_and(|j| j.faulted);
                if explained {
                    return Level::Notice;
                }
                self.warn(
                    t,
                    format!("{client}: job {job}'s write was rejected by the fence ({fence} < {highest})"),
                );
                return Level::Warning;
            }
            Event::Heartbeat { job, client, .. } => {
                if let Some(c) = self.client_mut(client)
                    && c.holder == Some(*job)
                {
                    c.heartbeat_at = t;
                }
            }
            Event::HeartbeatFailed { .. } => return Level::Notice,
            Event::Stalled { job, secs, .. } => {
                self.set_state(*job, JobState::Stalled, t);
                if let Some(j) = self.job_mut(*job) {
                    j.faulted = true;
                    j.note(t, format!("stalled for {secs}s"));
                }
                return Level::Notice;
            }
            Event::Released { job, client, .. } => {
                if let Some(c) = self.client_mut(client) {
                    c.released(t, *job);
                }
                if let Some(j) = self.job_mut(*job) {
                    j.note(t, "released the lock");
                }
            }
            Event::ReleaseUnconfirmed { job, client, .. } => {
                // It holds nothing from here on, whatever the store did.
                if let Some(c) = self.client_mut(client) {
                    c.released(t, *job);
                }
                if let Some(j) = self.job_mut(*job) {
                    j.note(t, "released the lock (never confirmed)");
                }
                return Level::Notice;
            }
            Event::OutputFailed { error, .. } => {
                self.warn(t, format!("output failed: {error}"));
                return Level::Warning;
            }
            Event::Halted { reason, .. } => {
                // Halting after an injected store reset is the safe answer to it.
                if self.store_faults == 0 {
                    self.warn(t, format!("run halted: {reason}"));
                }
                return Level::Warning;
            }
            Event::Finished { job, client } => {
                self.ended(t, *job, client, JobState::Finished, "finished".into());
            }
            Event::Crashed {
                job,
                client,
                reason,
            } => {
                self.ended(t, *job, client, JobState::Crashed, reason.clone());
                return Level::Notice;
            }
            Event::Killed { job, client, held } => {
                let reason = if *held {
                    "killed holding the lock"
                } else {
                    "killed while waiting"
                };
                self.ended(t, *job, client, JobState::Killed, reason.into());
                return Level::Notice;
            }
            Event::Fenced {
                job,
                client,
                reason,
            } => {
                self.ended(t, *job, client, JobState::Fenced, reason.clone());
                return Level::Warning;
            }
            Event::GaveUp { job, client, .. } => {
                self.ended(t, *job, client, JobState::GaveUp, "gave up".into());
                return Level::Notice;
            }
            Event::CommandApplied { command, job } => {
                if ["crash ", "kill ", "stall "]
                    .iter()
                    .any(|p| command.starts_with(p))
                {
                    self.faults += 1;
                    if let Some(j) = job.and_then(|j| self.job_mut(j)) {
                        j.faulted = true;
                    }
                }
                return Level::Notice;
            }
            Event::CommandIgnored { .. } => return Level::Notice,
            Event::FaultInjected { what } => {
                // Turning faults off is not a fault.
                if !what.starts_with("clear") {
                    self.faults += 1;
                    self.store_faults += 1;
                }
                return Level::Notice;
            }
            Event::Paused => self.paused = true,
            Event::Resumed => self.paused = false,
            Event::SpeedChanged { speed } => self.speed = *speed,
            Event::InvariantBroken { what } => {
                self.invariants_broken = true;
                self.warn(t, format!("invariant broken: {what}"));
                return Level::Warning;
            }
            Event::RunFinished { summary } => {
                self.invariants_broken |= !summary.violations.is_empty();
                self.summary = Some((**summary).clone());
            }
            // A command wrapper's events; the dashboard runs no commands.
            Event::CommandStarted { .. }
            | Event::CommandSignalled { .. }
            | Event::CommandExited { .. } => {}
        }
        Level::Info
    }

    fn ended(&mut self, t: f64, job: JobId, client: &str, state: JobState, reason: String) {
        if job == 0 {
            return;
        }
        self.set_state(job, state, t);
        if let Some(j) = self.job_mut(job) {
            j.note(t, format!("ended {}: {reason}", state.word()));
            j.reason = reason;
        }
        if let Some(c) = self.client_mut(client) {
            c.ended(t, job, state);
        }
    }
}
