//! The playback position in a recording and every way it moves.

use std::ops::Range;
use std::time::Duration;

use super::marks::is_mark;
use crate::events::Stamped;

/// The slowest playback: one scenario second per 64 real seconds.
pub const MIN_SPEED: f64 = 1.0 / 64.0;
/// The fastest playback: 1024 scenario seconds per real second.
pub const MAX_SPEED: f64 = 1024.0;

/// What the caller must do to its state after a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Fold `events[range]` onto the current state (an empty range: nothing moved).
    Forward(Range<usize>),
    /// Start from an empty state and fold `events[..n]`.
    Rebuild(usize),
}

impl Step {
    /// Whether the caller's state stays as it is.
    pub fn is_none(&self) -> bool {
        matches!(self, Step::Forward(r) if r.is_empty())
    }
}

/// Where playback stands: a scenario time and how many events are applied.
///
/// An event is due at its `t`, or at the latest `t` before it if that is later:
/// a real clock stamps an event when its job takes the time, and jobs emit in
/// another order than they read the clock, so `t` can step back a little along
/// the stream (and a hand-made file can hold anything). The applied events are
/// always a prefix of the stream, so a state folded from them is one the run
/// really passed through. Negative times count as 0.
///
/// The player starts paused at time 0 with nothing applied.
#[derive(Debug, Clone)]
pub struct Player {
    events: Vec<Stamped>,
    /// When each event is due: the running maximum of the times so far.
    due: Vec<f64>,
    /// The indices of the mark events ([`is_mark`]), in order.
    marks: Vec<usize>,
    /// Scenario seconds; `due[cursor - 1] <= time <= due[cursor]`.
    time: f64,
    /// Events applied: `events[..cursor]`.
    cursor: usize,
    playing: bool,
    speed: f64,
}

impl Player {
    /// A player over `events` (in stream order), paused at time 0.
    pub fn new(events: Vec<Stamped>) -> Player {
        let mut latest = 0.0_f64;
        let due = events
            .iter()
            .map(|s| {
                // NaN and negatives count as 0, infinity as the largest time.
                if !s.t.is_nan() {
                    latest = latest.max(s.t.min(f64::MAX));
                }
                latest
            })
            .collect();
        let marks = events
            .iter()
            .enumerate()
            .filter(|(_, s)| is_mark(&s.event))
            .map(|(i, _)| i)
            .collect();
        Player {
            events,
            due,
            marks,
            time: 0.0,
            cursor: 0,
            playing: false,
            speed: 1.0,
        }
    }

    /// The recording's events, in stream order.
    pub fn events(&self) -> &[Stamped] {
        &self.events
    }

    /// The indices of the mark events (faults, losses, takeovers), in order.
    pub fn marks(&self) -> &[usize] {
        &self.marks
    }

    /// The playback position, in scenario seconds.
    pub fn time(&self) -> f64 {
        self.time
    }

    /// How many events are applied (`events()[..cursor()]`).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The time the last event is due (0 without events): playback never passes it.
    pub fn end_time(&self) -> f64 {
        self.due.last().copied().unwrap_or(0.0)
    }

    /// Whether every event is applied and time is at the end.
    pub fn at_end(&self) -> bool {
        self.cursor == self.events.len() && self.time >= self.end_time()
    }

    /// How far playback is, from 0 to 1 (by time; by events when all share one time).
    pub fn fraction(&self) -> f64 {
        let end = self.end_time();
        if end > 0.0 {
            (self.time / end).clamp(0.0, 1.0)
        } else if self.events.is_empty() {
            1.0
        } else {
            self.cursor as f64 / self.events.len() as f64
        }
    }

    /// Whether time runs on [`Player::advance`].
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Plays or pauses. At the end playing stays off: go back first.
    pub fn set_playing(&mut self, playing: bool) {
        self.playing = playing && !self.at_end();
    }

    /// Scenario seconds per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Sets the speed, clamped to [`MIN_SPEED`]..=[`MAX_SPEED`]; NaN is ignored.
    pub fn set_speed(&mut self, speed: f64) {
        if !speed.is_nan() {
            self.speed = speed.clamp(MIN_SPEED, MAX_SPEED);
        }
    }

    /// Moves time on by `real` times the speed while playing; stops at the end.
    pub fn advance(&mut self, real: Duration) -> Step {
        if !self.playing {
            return self.stay();
        }
        let time = self.time + real.as_secs_f64() * self.speed;
        self.seek_to(time)
    }

    /// Moves to scenario time `t` (clamped to 0..=end), applying every event due by then.
    pub fn seek_to(&mut self, t: f64) -> Step {
        if t.is_nan() {
            return self.stay();
        }
        let time = t.clamp(0.0, self.end_time());
        let cursor = self.due.partition_point(|&due| due <= time);
        self.go(cursor, time)
    }

    /// Moves by `dt` scenario seconds (back when negative), clamped like [`Player::seek_to`].
    pub fn seek_by(&mut self, dt: f64) -> Step {
        self.seek_to(self.time + dt)
    }

    /// Back to time 0 with nothing applied.
    pub fn to_start(&mut self) -> Step {
        self.go(0, 0.0)
    }

    /// To the end: every event applied; playing stops.
    pub fn to_end(&mut self) -> Step {
        self.go(self.events.len(), self.end_time())
    }

    /// Applies exactly one more event and moves time to when it is due; pauses.
    pub fn step_forward(&mut self) -> Step {
        self.playing = false;
        match self.due.get(self.cursor) {
            Some(&due) => self.go(self.cursor + 1, due),
            None => self.stay(),
        }
    }

    /// Takes back the last applied event, time moving to when the one before it
    /// was due (0 if none); pauses. With nothing applied it goes to time 0.
    pub fn step_back(&mut self) -> Step {
        self.playing = false;
        match self.cursor {
            0 => self.go(0, 0.0),
            n => self.go(n - 1, self.due_before(n - 1)),
        }
    }

    /// To the next mark not yet applied: it and the events before it are applied,
    /// time moves to when it is due. Without one, nothing moves.
    pub fn next_mark(&mut self) -> Step {
        let i = self.marks.partition_point(|&m| m < self.cursor);
        match self.marks.get(i) {
            Some(&m) => self.go(m + 1, self.due[m]),
            None => self.stay(),
        }
    }

    /// To the mark before the last applied event (the one before the current mark
    /// when standing on one). Without one, nothing moves.
    pub fn prev_mark(&mut self) -> Step {
        let i = self.marks.partition_point(|&m| m + 1 < self.cursor);
        match i.checked_sub(1).map(|i| self.marks[i]) {
            Some(m) => self.go(m + 1, self.due[m]),
            None => self.stay(),
        }
    }

    /// A header line: `▶ 2x  t=34.5s/120.0s  event 812/2000` (`‖` when paused).
    pub fn label(&self) -> String {
        format!(
            "{} {}  t={}s/{}s  event {}/{}",
            if self.playing { "▶" } else { "‖" },
            speed_text(self.speed),
            secs_text(self.time),
            secs_text(self.end_time()),
            self.cursor,
            self.events.len()
        )
    }

    /// When the event before `index` is due (0 for the first).
    fn due_before(&self, index: usize) -> f64 {
        index.checked_sub(1).map_or(0.0, |i| self.due[i])
    }

    /// Nothing moves.
    fn stay(&self) -> Step {
        Step::Forward(self.cursor..self.cursor)
    }

    /// Moves to `cursor` events applied at `time`, saying how to get there.
    fn go(&mut self, cursor: usize, time: f64) -> Step {
        let from = self.cursor;
        self.cursor = cursor;
        self.time = time;
        if self.at_end() {
            self.playing = false;
        }
        if cursor >= from {
            Step::Forward(from..cursor)
        } else {
            Step::Rebuild(cursor)
        }
    }
}

/// `2x`, `1.5x`, `1/4x`.
fn speed_text(speed: f64) -> String {
    let inverse = 1.0 / speed;
    if speed < 1.0 && inverse.fract() == 0.0 {
        format!("1/{inverse}x")
    } else {
        format!("{speed}x")
    }
}

/// Seconds with one decimal; huge ones in exponent form, so a label stays short.
fn secs_text(secs: f64) -> String {
    if secs < 1e7 {
        format!("{secs:.1}")
    } else {
        format!("{secs:.3e}")
    }
}
