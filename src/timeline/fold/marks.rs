//! The events that only leave a mark on a lane (or on the run's own row): what
//! happened, in words, for the mark's tooltip.

use super::{Folder, job_name, secs};
use crate::events::Event;
use crate::timeline::model::MarkKind;

impl Folder {
    /// The events that only leave a mark.
    pub(super) fn plain_mark(&mut self, t: f64, event: &Event) {
        let (client, kind, text) = match event {
            Event::LeaseExpired {
                job,
                client,
                holder,
                fence,
                unchanged_for,
            } => {
                let whose = holder.map_or_else(|| "a holder".to_string(), job_name);
                let text = format!(
                    "{} saw the lease of {whose} (fence {fence}) expire: no heartbeat for {}",
                    job_name(*job),
                    secs(*unchanged_for)
                );
                (Some(client), MarkKind::Expired, text)
            }
            Event::Repair {
                job,
                client,
                bytes,
                from_len,
                to_len,
                reason,
                ..
            } => {
                let text = format!(
                    "{} cut {bytes} bytes ({from_len} to {to_len}): {reason}",
                    job_name(*job)
                );
                (Some(client), MarkKind::Repair, text)
            }
            Event::WriteRejected {
                job,
                client,
                fence,
                highest,
            } => {
                let text = format!(
                    "{}'s write with fence {fence} rejected: the output is at fence {highest}",
                    job_name(*job)
                );
                (Some(client), MarkKind::Rejected, text)
            }
            Event::Stalled {
                job,
                client,
                secs: s,
            } => (
                Some(client),
                MarkKind::Stall,
                format!("{} frozen for {}", job_name(*job), secs(*s)),
            ),
            Event::CommandSignalled {
                job,
                client,
                signal,
                why,
            } => (
                Some(client),
                MarkKind::Signal,
                format!("{}'s command sent {signal}: {why}", job_name(*job)),
            ),
            Event::HeartbeatFailed { job, client, error } => (
                Some(client),
                MarkKind::BeatFailed,
                format!("{}'s renewal failed: {error}", job_name(*job)),
            ),
            Event::OutputFailed { job, client, error } => (
                Some(client),
                MarkKind::OutputFailed,
                format!("{} could not write: {error}", job_name(*job)),
            ),
            Event::Halted { client, reason, .. } => (
                Some(client).filter(|c| !c.is_empty()),
                MarkKind::Halt,
                format!("run halted: {reason}"),
            ),
            Event::FaultInjected { what } => {
                (None, MarkKind::Fault, format!("store fault: {what}"))
            }
            Event::InvariantBroken { what } => (
                None,
                MarkKind::Invariant,
                format!("invariant broken: {what}"),
            ),
            _ => return,
        };
        let lane = client.map(|c| self.lane(c));
        self.mark(lane, t, kind, text);
    }
}
