//! One client's lock, output and timeline, as the dashboard shows them.

use crate::events::{Event, How, JobId};
use crate::tui::state::JobState;

/// Bytes of output kept for the tail view; older bytes are dropped in halves.
const TAIL_KEEP: usize = 8 * 1024;

/// What a timeline mark records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A clean failure.
    Crash,
    /// A job died.
    Kill,
    /// A waiter saw a lease expire.
    Expired,
    /// A takeover.
    Takeover,
    /// The output rejected a write.
    Rejected,
    /// The output was truncated.
    Repair,
}

impl MarkKind {
    /// The character drawn on the timeline.
    pub fn symbol(self) -> char {
        match self {
            MarkKind::Crash => 'x',
            MarkKind::Kill => 'K',
            MarkKind::Expired => 'e',
            MarkKind::Takeover => 'T',
            MarkKind::Rejected => '!',
            MarkKind::Repair => 'r',
        }
    }
}

/// A moment on the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// When.
    pub t: f64,
    /// What.
    pub kind: MarkKind,
    /// Which job.
    pub job: JobId,
}

impl Mark {
    /// A mark.
    pub fn new(t: f64, kind: MarkKind, job: JobId) -> Mark {
        Mark { t, kind, job }
    }
}

/// One holder's stretch of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The holder.
    pub job: JobId,
    /// Its fence.
    pub fence: u64,
    /// When it acquired.
    pub from: f64,
    /// When its hold ended (`None`: still holding, or dead until taken over).
    pub to: Option<f64>,
    /// When the holder died while still holding (killed), if it did.
    pub dead_from: Option<f64>,
}

/// The tail of a client's output file, rebuilt from chunk and repair events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputTail {
    /// File length.
    pub len: u64,
    /// Offset of the first byte kept in `text`.
    pub start: u64,
    /// The kept bytes.
    pub text: String,
    /// The latest accepted chunk: (offset, length, fence, job).
    pub last_write: Option<(u64, u64, u64, JobId)>,
    /// The latest repair: (time, bytes cut, job).
    pub last_repair: Option<(f64, u64, JobId)>,
}

impl OutputTail {
    fn write(&mut self, offset: u64, text: &str, fence: u64, job: JobId) {
        if offset < self.len {
            self.truncate(offset);
        }
        self.text.push_str(text);
        // A corrupt recording's offset may be anything: saturate, never overflow.
        self.len = offset.saturating_add(text.len() as u64);
        self.last_write = Some((offset, text.len() as u64, fence, job));
        if self.text.len() > 2 * TAIL_KEEP {
            let mut cut = self.text.len() - TAIL_KEEP;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
            self.start += cut as u64;
        }
    }

    fn truncate(&mut self, to: u64) {
        if to < self.start {
            self.text.clear();
            self.start = to;
        } else {
            let mut keep = (to - self.start) as usize;
            keep = keep.min(self.text.len());
            while !self.text.is_char_boundary(keep) {
                keep -= 1;
            }
            self.text.truncate(keep);
        }
        self.len = to;
        if let Some((off, _, _, _)) = self.last_write
            && off >= to
        {
            self.last_write = None;
        }
    }
}

/// A client's lock key as seen from the events.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientView {
    /// Client name.
    pub name: String,
    /// Output path.
    pub output_path: String,
    /// The job that holds the lock (a dead holder stays until taken over).
    pub holder: Option<JobId>,
    /// Whether the holder is alive.
    pub holder_alive: bool,
    /// Fence of the latest acquisition.
    pub fence: u64,
    /// When the holder last renewed (or acquired).
    pub heartbeat_at: f64,
    /// Acquisitions of a released lock.
    pub handoffs: u32,
    /// Acquisitions after an expired lease.
    pub takeovers: u32,
    /// The output's tail.
    pub output: OutputTail,
    /// Who held the lock when.
    pub segments: Vec<Segment>,
    /// Crashes, kills, expiries, takeovers, rejected writes, repairs.
    pub marks: Vec<Mark>,
}

impl ClientView {
    /// A client with nothing happened yet.
    pub fn new(name: String, output_path: String) -> ClientView {
        ClientView {
            name,
            output_path,
            holder: None,
            holder_alive: false,
            fence: 0,
            heartbeat_at: 0.0,
            handoffs: 0,
            takeovers: 0,
            output: OutputTail::default(),
            segments: Vec::new(),
            marks: Vec::new(),
        }
    }

    fn close_open_segment(&mut self, t: f64) {
        if let Some(seg) = self.segments.iter_mut().rev().find(|s| s.to.is_none()) {
            seg.to = Some(t);
        }
    }

    pub(super) fn acquired(
        &mut self,
        t: f64,
        job: JobId,
        fence: u64,
        how: How,
        from: Option<JobId>,
    ) {
        // A dead (or stalled) holder's stretch ends where the next one starts.
        self.close_open_segment(t);
        self.holder = Some(job);
        self.holder_alive = true;
        self.fence = fence;
        self.heartbeat_at = t;
        match how {
            How::Handoff => self.handoffs += 1,
            How::Takeover => {
                self.takeovers += 1;
                self.marks
                    .push(Mark::new(t, MarkKind::Takeover, from.unwrap_or(job)));
            }
            How::Created => {}
        }
        self.segments.push(Segment {
            job,
            fence,
            from: t,
            to: None,
            dead_from: None,
        });
    }

    pub(super) fn released(&mut self, t: f64, job: JobId) {
        if self.holder == Some(job) {
            self.holder = None;
            self.holder_alive = false;
            self.heartbeat_at = t;
            if let Some(seg) = self
                .segments
                .iter_mut()
                .rev()
                .find(|s| s.job == job && s.to.is_none())
            {
                seg.to = Some(t);
            }
        }
    }

    pub(super) fn wrote(&mut self, job: JobId, event: &Event) {
        if let Event::ChunkWritten {
            offset,
            text,
            fence,
            ..
        } = event
        {
            self.output.write(*offset, text, *fence, job);
        }
    }

    pub(super) fn repaired(&mut self, t: f64, job: JobId, event: &Event) {
        if let Event::Repair { to_len, bytes, .. } = event {
            self.output.truncate(*to_len);
            self.output.last_repair = Some((t, *bytes, job));
            self.marks.push(Mark::new(t, MarkKind::Repair, job));
        }
    }

    pub(super) fn ended(&mut self, t: f64, job: JobId, state: JobState) {
        match state {
            JobState::Crashed => self.marks.push(Mark::new(t, MarkKind::Crash, job)),
            JobState::Killed => self.marks.push(Mark::new(t, MarkKind::Kill, job)),
            _ => {}
        }
        if self.holder == Some(job) {
            if state == JobState::Killed {
                // Still the holder in the store until a waiter takes over.
                self.holder_alive = false;
                if let Some(seg) = self
                    .segments
                    .iter_mut()
                    .rev()
                    .find(|s| s.job == job && s.to.is_none())
                {
                    seg.dead_from = Some(t);
                }
            } else {
                self.released(t, job);
            }
        }
    }
}
