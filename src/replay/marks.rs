//! Marks: the events a person hunting trouble jumps between.

use crate::events::{Event, How};

/// Whether `event` is a mark: a fault, a loss or a takeover.
///
/// Marks are the injected faults (a store fault; a crash, kill or stall command
/// that hit a job; its `CommandApplied` for a store fault is left out, since the
/// `FaultInjected` just before it is the mark), the end states that are not a
/// clean finish (crashed, killed, fenced, gave up), expired leases and takeovers,
/// writes the fence rejected, acquisitions the output refused, repairs, failed renewals, unconfirmed releases,
/// failed writes, halts, broken invariants, and `joblock run` signalling its
/// command. Handoffs, heartbeats, chunks, attempts and clean finishes are not.
pub fn is_mark(event: &Event) -> bool {
    // Every variant is named, so a new event cannot be left out without a choice.
    match event {
        Event::CommandApplied { command, job } => {
            job.is_some()
                && ["crash", "kill", "stall"]
                    .iter()
                    .any(|kind| command.starts_with(kind))
        }
        Event::Acquired { how, .. } => *how == How::Takeover,
        Event::FaultInjected { .. }
        | Event::Crashed { .. }
        | Event::Killed { .. }
        | Event::Fenced { .. }
        | Event::GaveUp { .. }
        | Event::LeaseExpired { .. }
        | Event::WriteRejected { .. }
        | Event::Repair { .. }
        | Event::HeartbeatFailed { .. }
        | Event::ReleaseUnconfirmed { .. }
        | Event::OutputFailed { .. }
        | Event::Halted { .. }
        | Event::NotFencedIn { .. }
        | Event::InvariantBroken { .. }
        | Event::CommandSignalled { .. } => true,
        Event::RunStarted { .. }
        | Event::Queued { .. }
        | Event::LockAttempt { .. }
        | Event::ChunkWritten { .. }
        | Event::Heartbeat { .. }
        | Event::Stalled { .. }
        | Event::Released { .. }
        | Event::Finished { .. }
        | Event::CommandIgnored { .. }
        | Event::Paused
        | Event::Resumed
        | Event::SpeedChanged { .. }
        | Event::CommandStarted { .. }
        | Event::CommandExited { .. }
        | Event::RunFinished { .. } => false,
    }
}
