//! What hovering a bar or a waiting line tells: job, fence, how it came to
//! hold, from and to, how long it waited, how it ended.

use super::fold::job_name;
use super::model::{Hold, Tail, Wait};
use super::xml::secs;
use crate::events::How;

/// A hold's tooltip.
pub(super) fn hold_lines(h: &Hold) -> Vec<String> {
    let how = match (h.how, h.from) {
        (How::Created, _) => "first acquisition".to_string(),
        (How::Handoff, _) => "handoff".to_string(),
        (How::Takeover, Some((job, fence))) => format!(
            "takeover from {} (fence {})",
            job.map_or_else(|| "a holder".to_string(), job_name),
            fence.map_or_else(|| "?".to_string(), |f| f.to_string())
        ),
        (How::Takeover, None) => "takeover".to_string(),
    };
    let mut lines = vec![
        format!("{} \u{b7} fence {} \u{b7} {how}", job_name(h.job), h.fence),
        format!(
            "held {} to {} ({})",
            secs(h.start),
            secs(h.end),
            secs(h.end - h.start)
        ),
    ];
    match h.tail {
        Some(Tail::Dead(u)) => lines.push(format!("dead holder (killed) until {}", secs(u))),
        Some(Tail::Stale(u)) => lines.push(format!("taken over, still acting until {}", secs(u))),
        None => {}
    }
    lines.push(format!(
        "waited {}, {} attempt(s)",
        secs(h.waited),
        h.attempts
    ));
    if h.beats > 0 || h.chunks > 0 {
        lines.push(format!(
            "{} heartbeat(s), {} chunk(s) written",
            h.beats, h.chunks
        ));
    }
    if let Some((command, exit)) = &h.command {
        lines.push(format!("command: {command}"));
        if let Some(exit) = exit {
            lines.push(format!("command ended: {exit}"));
        }
    }
    lines.push(format!("ended: {}", h.ended));
    lines
}

/// A wait's tooltip.
pub(super) fn wait_lines(w: &Wait) -> Vec<String> {
    let mut lines = vec![format!(
        "{} waited {}: {} to {}",
        job_name(w.job),
        secs(w.end - w.start),
        secs(w.start),
        secs(w.end)
    )];
    if w.attempts > 0 {
        lines.push(format!("{} attempt(s)", w.attempts));
    }
    lines.push(format!("then: {}", w.outcome));
    lines
}
