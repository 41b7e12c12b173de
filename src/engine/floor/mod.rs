//! The lease floor: the shortest real-time slack a holder's heartbeat can be
//! trusted to keep on this kind of machine, and the rule that says when a run's
//! lease (divided by `--speed`) leaves less than that.
//!
//! At `--speed 1000` the default 3 s lease is 3 ms of real time. The lock is still
//! safe (a late renewal is fenced, never a double write), but on a busy machine the
//! heartbeat thread wakes late, misses its lease, and jobs end `fenced` for no
//! reason the run could see. The rule lets the front ends say so up front.

use std::time::Duration;

use super::scenario::{ClockKind, Scenario};
use crate::events::Event;
use crate::store::StoreUrl;

/// The real-time slack a holder's renewal needs, at least.
///
/// Measured with `benches/sleep_floor.rs` (how late a 1 ms thread sleep wakes):
/// under a load average of ~20 on 2 cores, p50 0.12 ms, p99 2.5-7 ms, p99.9
/// 13-116 ms, max 166-609 ms. A run renews thousands of times, so the tail is what
/// fences a job; 200 ms covers all but the worst outliers of that machine (README,
/// "The lease floor").
pub const FLOOR: Duration = Duration::from_millis(200);

/// What the rule looks at: the run's lease and store latency (scenario seconds),
/// its speed and its clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeaseTiming {
    /// Lease length, scenario seconds.
    pub lease: f64,
    /// The longest a simulated store call may take, scenario seconds (0 for a real
    /// store: its latency is real time the rule cannot know in advance).
    pub latency: f64,
    /// Scenario seconds per real second.
    pub speed: f64,
    /// Which clock: a virtual clock waits for every thread, so it has no floor.
    pub clock: ClockKind,
    /// The floor to judge by, real seconds (0: not judged, as in a recording made
    /// before runs stated their floor).
    pub floor: f64,
}

/// A lease whose real-time slack is under the floor, with the figures that say so.
#[derive(Debug, Clone, PartialEq)]
pub struct BelowFloor {
    /// Speed the figures are for.
    pub speed: f64,
    /// Lease, scenario seconds.
    pub lease: f64,
    /// Lease, real seconds.
    pub lease_real: f64,
    /// What a holder has left to land its first renewal, real seconds (may be <= 0
    /// when the store latency alone eats it).
    pub slack_real: f64,
    /// The floor, real seconds.
    pub floor: f64,
    /// The fastest speed that keeps the floor (none when even the slowest does not).
    pub fastest_ok: Option<f64>,
}

impl LeaseTiming {
    /// The timing a scenario runs with, judged by [`FLOOR`].
    pub fn of_scenario(sc: &Scenario) -> LeaseTiming {
        // The latency model is the memory store's; a real store's latency is real.
        let latency = match sc.store {
            StoreUrl::Memory => sc.db_latency.max(sc.op_latency),
            _ => 0.0,
        };
        LeaseTiming {
            lease: sc.lease,
            latency,
            speed: sc.speed,
            clock: sc.clock,
            floor: FLOOR.as_secs_f64(),
        }
    }

    /// The timing a `RunStarted` event states (`None` for any other event).
    pub fn of_event(event: &Event) -> Option<LeaseTiming> {
        match event {
            Event::RunStarted {
                lease,
                latency,
                speed,
                clock,
                floor,
                ..
            } => Some(LeaseTiming {
                lease: *lease,
                latency: *latency,
                speed: *speed,
                clock: if clock == "virtual" {
                    ClockKind::Virtual
                } else {
                    ClockKind::Real
                },
                floor: *floor,
            }),
            _ => None,
        }
    }

    /// The same run at another speed.
    pub fn at_speed(self, speed: f64) -> LeaseTiming {
        LeaseTiming { speed, ..self }
    }

    /// Scenario seconds a holder has to land its first renewal: it renews a third
    /// into the lease, so two thirds are left, less the longest store call.
    pub fn slack(&self) -> f64 {
        self.lease * 2.0 / 3.0 - self.latency
    }

    /// Whether the real-time slack is under the floor, and by how much. A virtual
    /// clock never is; nor is a timing with a number no run can have (a recording
    /// may hold anything).
    pub fn below_floor(&self) -> Option<BelowFloor> {
        let sane = |x: f64| x.is_finite() && x >= 0.0;
        if self.clock == ClockKind::Virtual
            || !(sane(self.lease) && sane(self.latency) && sane(self.floor))
            || !(self.speed.is_finite() && self.speed > 0.0)
            || self.floor == 0.0
        {
            return None;
        }
        let slack = self.slack();
        let slack_real = slack / self.speed;
        if slack_real >= self.floor {
            return None;
        }
        let fastest_ok = Some(slack / self.floor)
            .filter(|s| *s >= crate::events::schedule::MIN_SPEED && s.is_finite());
        Some(BelowFloor {
            speed: self.speed,
            lease: self.lease,
            lease_real: self.lease / self.speed,
            slack_real,
            floor: self.floor,
            fastest_ok,
        })
    }
}

impl BelowFloor {
    /// What is wrong and what to do, for a warning line after "at speed X": the
    /// lease in real time, the slack, the floor, the way out.
    pub fn explain(&self) -> String {
        format!(
            "the {}s lease is {} of real time, {}, under the {} this machine can keep; heartbeats may miss it and jobs end fenced; {}",
            number(self.lease),
            real(self.lease_real),
            self.slack_text(),
            real(self.floor),
            self.remedy()
        )
    }

    /// The header's few words.
    pub fn short(&self) -> String {
        format!(
            "lease {} real < {} floor: --clock virtual",
            real(self.lease_real),
            real(self.floor)
        )
    }

    /// Why jobs were fenced, for the summary's trouble line.
    pub fn cause(&self, fenced: u32) -> String {
        format!(
            "{fenced} job(s) fenced: the lease was below the machine's floor (at speed {} the {}s lease is {} of real time, {}, under {}); {}",
            number(self.speed),
            number(self.lease),
            real(self.lease_real),
            self.slack_text(),
            real(self.floor),
            self.remedy()
        )
    }

    fn slack_text(&self) -> String {
        if self.slack_real > 0.0 {
            format!("leaving a holder {} to renew", real(self.slack_real))
        } else {
            "leaving a holder no time to renew after its store call".into()
        }
    }

    fn remedy(&self) -> String {
        match self.fastest_ok {
            Some(s) => format!("use --clock virtual or --speed {} or lower", number(s)),
            None => "use --clock virtual or a longer --lease".into(),
        }
    }
}

/// Follows a run's events and says, in one line, when its lease is under the floor:
/// at the start, and whenever a speed change crosses the floor either way.
#[derive(Debug, Default)]
pub struct Crossings {
    timing: Option<LeaseTiming>,
    below: bool,
}

impl Crossings {
    /// How far under the floor the lease is now, if it is.
    pub fn below(&self) -> Option<BelowFloor> {
        self.timing?.below_floor()
    }

    /// The line `event` calls for, if any.
    pub fn line(&mut self, event: &Event) -> Option<String> {
        let (timing, start) = match event {
            Event::RunStarted { .. } => (LeaseTiming::of_event(event)?, true),
            Event::SpeedChanged { speed } => (self.timing?.at_speed(*speed), false),
            _ => return None,
        };
        self.timing = Some(timing);
        let now = timing.below_floor();
        let was = std::mem::replace(&mut self.below, now.is_some());
        match (now, start, was) {
            (Some(b), true, _) => Some(format!(
                "warning: at --speed {} {}",
                number(b.speed),
                b.explain()
            )),
            (Some(b), false, false) => Some(format!(
                "warning: speed set to {}: {}",
                number(b.speed),
                b.explain()
            )),
            (None, false, true) => Some(format!(
                "note: speed set to {}: the lease is back above the {} floor, leaving a holder {} to renew",
                number(timing.speed),
                real(timing.floor),
                real(timing.slack() / timing.speed)
            )),
            _ => None,
        }
    }
}

/// A number without trailing zeros (at most three decimals): 3, 0.5, 1000.
pub fn number(x: f64) -> String {
    let t = format!("{x:.3}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    if t == "0" || t == "-0" {
        // Too small for three decimals: say how small.
        format!("{x:.1e}")
    } else {
        t.to_string()
    }
}

/// Real seconds, in the unit a person reads them in: 3µs, 3ms, 1.5s.
pub fn real(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{}s", number(secs))
    } else if secs >= 0.000_999_5 {
        format!("{:.0}ms", secs * 1e3)
    } else if secs >= 0.000_000_5 {
        format!("{:.0}µs", secs * 1e6)
    } else {
        "under 1µs".into()
    }
}

#[cfg(test)]
mod tests;
