//! Plain-text descriptions of events, shared by every front end that shows words
//! (the headless printer, the dashboard's event log).

use std::collections::HashMap;

use crate::events::{Event, How, JobId, SeenLock};

fn who(job: JobId) -> String {
    if job == 0 {
        "recovery".to_string()
    } else {
        format!("job {job}")
    }
}

fn holder(h: &Option<JobId>) -> String {
    h.map(who).unwrap_or_else(|| "an unknown holder".into())
}

/// How a lock was obtained, for a line.
fn how_text(how: &How, from_job: &Option<JobId>) -> String {
    match how {
        How::Created => "first acquisition".to_string(),
        How::Handoff => "handoff".to_string(),
        How::Takeover => format!("takeover from {}", holder(from_job)),
    }
}

/// One line describing `event` (without the time stamp).
///
/// Control characters in names, reasons and store text come out escaped
/// ([`crate::sanitize::printable`]): a line never carries a terminal escape.
pub fn describe(event: &Event) -> String {
    let line = raw_line(event);
    match crate::sanitize::printable(&line) {
        std::borrow::Cow::Borrowed(_) => line,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

fn raw_line(event: &Event) -> String {
    match event {
        Event::RunStarted {
            jobs,
            clients,
            store,
            speed,
            seed,
            clock,
            lease,
            wait,
            outputs,
            ..
        } => format!(
            "run started: {jobs} jobs, {clients} client(s), store {store}, {clock} clock at speed {speed}, lease {lease}s, {wait} mode, seed {seed}, output {}",
            outputs.join(", ")
        ),
        Event::Queued {
            job,
            client,
            hash,
            will_crash,
        } => format!(
            "{} queued for {client} (hash {}){}",
            who(*job),
            short_hash(hash),
            if *will_crash {
                ", crash draw: will crash"
            } else {
                ""
            }
        ),
        Event::LockAttempt {
            job,
            attempt,
            seen,
            client,
        } => match seen {
            SeenLock::Held {
                holder: h,
                fence,
                heartbeat,
            } => format!(
                "{} waits for {client}: attempt {attempt}, held by {} (fence {fence}, heartbeat {heartbeat})",
                who(*job),
                holder(h)
            ),
            SeenLock::LostRace => format!(
                "{} waits for {client}: attempt {attempt} lost the race",
                who(*job)
            ),
            SeenLock::StoreError { error } => format!(
                "{} waits for {client}: attempt {attempt} failed: {error}",
                who(*job)
            ),
        },
        Event::LeaseExpired {
            job,
            client,
            holder: h,
            fence,
            unchanged_for,
        } => format!(
            "{} sees {client}'s lease expired: {} (fence {fence}) silent for {unchanged_for:.3}s",
            who(*job),
            holder(h)
        ),
        Event::Acquired {
            job,
            client,
            fence,
            attempts,
            waited,
            how,
            from_job,
            committed,
            ..
        } => format!(
            "{} acquired {client} with fence {fence} ({}) after {attempts} attempt(s), waited {waited:.3}s, committed {committed} bytes",
            who(*job),
            how_text(how, from_job)
        ),
        Event::Repair {
            job,
            from_len,
            to_len,
            bytes,
            reason,
            fence,
            ..
        } => format!(
            "{} repaired the output with fence {fence}: truncated {bytes} bytes ({from_len} -> {to_len}): {reason}",
            who(*job)
        ),
        Event::ChunkWritten {
            job,
            fence,
            chunk,
            of,
            offset,
            text,
            ..
        } => format!(
            "{} wrote chunk {chunk}/{of} {text:?} at byte {offset} (fence {fence})",
            who(*job)
        ),
        Event::WriteRejected {
            job,
            fence,
            highest,
            ..
        } => format!(
            "{} was REJECTED by the output: fence {fence} < accepted fence {highest}",
            who(*job)
        ),
        Event::Heartbeat {
            job, fence, beat, ..
        } => format!(
            "{} renewed its lease (fence {fence}, heartbeat {beat})",
            who(*job)
        ),
        Event::HeartbeatFailed { job, error, .. } => {
            format!("{} could not renew its lease: {error}", who(*job))
        }
        Event::Stalled { job, secs, .. } => {
            format!(
                "{} stalled for {secs}s (no writes, no heartbeats)",
                who(*job)
            )
        }
        Event::NotFencedIn {
            job,
            client,
            fence,
            how,
            from_job,
            reason,
            ..
        } => format!(
            "{} won {client} with fence {fence} ({}) but did not fence in, and lets it go: {reason}",
            who(*job),
            how_text(how, from_job)
        ),
        Event::Released {
            job,
            client,
            fence,
            committed,
        } => format!(
            "{} released {client} (fence {fence}), committed {committed} bytes",
            who(*job)
        ),
        Event::Finished { job, .. } => format!("{} FINISHED", who(*job)),
        Event::ReleaseUnconfirmed { job, client, fence } => format!(
            "{} sent its release of {client} (fence {fence}) but never heard back; it holds nothing from then on",
            who(*job)
        ),
        Event::OutputFailed { job, client, error } => {
            format!(
                "{} could not write the output of {client}: {error}",
                who(*job)
            )
        }
        Event::Halted {
            job,
            client,
            reason,
        } => {
            format!("RUN HALTED by {} on {client}: {reason}", who(*job))
        }
        Event::Crashed { job, reason, .. } => format!("{} CRASHED: {reason}", who(*job)),
        Event::Killed { job, held, .. } => format!(
            "{} KILLED{}",
            who(*job),
            if *held {
                " while holding the lock (no release: the lease will free it)"
            } else {
                " while waiting"
            }
        ),
        Event::Fenced { job, reason, .. } => format!("{} FENCED: {reason}", who(*job)),
        Event::GaveUp {
            job,
            attempts,
            waited,
            ..
        } => format!(
            "{} GAVE UP after {attempts} attempts, {waited:.3}s",
            who(*job)
        ),
        Event::CommandApplied { command, job } => match job {
            Some(j) => format!("command: {command} -> {}", who(*j)),
            None => format!("command: {command}"),
        },
        Event::CommandIgnored { command, reason } => {
            format!("command ignored: {command}: {reason}")
        }
        Event::CommandStarted {
            job,
            pid,
            fence,
            command,
            ..
        } => format!(
            "{} started pid {pid} at fence {fence}: {}",
            who(*job),
            command.join(" ")
        ),
        Event::CommandSignalled {
            job, signal, why, ..
        } => format!("{} sent {signal} to the command: {why}", who(*job)),
        Event::CommandExited { job, exit, .. } => format!("{} command ended: {exit}", who(*job)),
        Event::FaultInjected { what } => format!("STORE FAULT: {what}"),
        Event::Paused => "paused".into(),
        Event::Resumed => "resumed".into(),
        Event::SpeedChanged { speed } => format!("speed set to {speed}"),
        Event::InvariantBroken { what } => format!("INVARIANT BROKEN: {what}"),
        Event::RunFinished { summary } => format!(
            "run finished: {} finished, {} crashed, {} killed, {} fenced, {} gave up",
            summary.finished, summary.crashed, summary.killed, summary.fenced, summary.gave_up
        ),
    }
}

/// The first 8 characters of a worker hash.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}

/// Decides which lock attempts a text view shows: a waiter's first attempt and
/// those where what it sees changes (new holder or fence, lost race, store error).
#[derive(Debug, Default)]
pub struct AttemptFilter {
    last: HashMap<JobId, Option<(Option<JobId>, u64)>>,
}

impl AttemptFilter {
    /// Whether `event` is worth a line (every event but a repeated attempt is).
    pub fn shows(&mut self, event: &Event) -> bool {
        let Event::LockAttempt { job, seen, .. } = event else {
            return true;
        };
        let key = match seen {
            SeenLock::Held { holder, fence, .. } => Some((*holder, *fence)),
            _ => None,
        };
        match self.last.insert(*job, key) {
            None => true,
            Some(prev) => key.is_none() || prev != key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(job: JobId, holder: Option<JobId>, fence: u64) -> Event {
        Event::LockAttempt {
            job,
            client: "c".into(),
            attempt: 1,
            seen: SeenLock::Held {
                holder,
                fence,
                heartbeat: 0,
            },
        }
    }

    #[test]
    fn repeated_attempts_are_shown_only_when_what_the_waiter_sees_changes() {
        let mut f = AttemptFilter::default();
        assert!(f.shows(&attempt(2, Some(1), 1)));
        assert!(!f.shows(&attempt(2, Some(1), 1)));
        assert!(f.shows(&attempt(3, Some(1), 1)));
        assert!(f.shows(&attempt(2, Some(4), 2)));
        assert!(f.shows(&Event::Paused));
    }
}
