//! Scenario time: the one clock every job, heartbeat and store latency goes through.
//!
//! Two modes share one interface:
//!
//! * **real** (`real.rs`): scenario time is wall time multiplied by
//!   `speed`, and can be paused and re-speeded live (the dashboard's space, `+` and
//!   `-`).
//! * **virtual** (`virtual_time.rs`): scenario time stands still
//!   while any *participant* thread is running and jumps straight to the earliest
//!   deadline once every participant is asleep. A run takes only as long as its CPU
//!   work, and, more importantly, a thread can never be "paused by the OS" past a
//!   lease: a heartbeat due at t=1 s runs at t=1 s however loaded the machine is.
//!   This is what makes the high-speed tests free of spurious lease expiries.
//!
//! Participants are the threads that take part in the scenario (jobs, heartbeats,
//! schedulers). They are enlisted with [`Clock::spawn`] (or [`Clock::enlist`]) so the
//! count is raised *before* the thread exists; otherwise time could jump while a
//! freshly spawned job has not started yet (`threads.rs`).
//!
//! Sleeps can be interrupted: a sleeper passes a predicate, and [`Clock::poke`] makes
//! every sleeper re-evaluate its predicate. Predicates run under the clock's mutex,
//! so they must only read atomics (never call back into the clock).
//!
//! This file is the facade: the shared state, reading the time, and the controls
//! (pause, resume, speed, poke) that apply to both modes.

mod real;
mod signal;
#[cfg(test)]
mod tests;
mod threads;
mod virtual_time;

pub use signal::Signal;
pub use threads::{Enlisted, Finish, Joinable, THREAD_STACK, ThreadMark};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use virtual_time::Sleeper;

/// How a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The deadline was reached.
    Elapsed,
    /// The interrupt predicate became true first.
    Interrupted,
}

/// Shared scenario clock; cheap to clone.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

struct Inner {
    is_virtual: bool,
    state: Mutex<State>,
    /// Real-mode sleepers wait here; pauses, speed changes and pokes notify it.
    changed: Condvar,
}

struct State {
    paused: bool,
    speed: f64,
    /// Real mode: scenario time at `base_instant`.
    base_scenario: Duration,
    base_instant: Instant,
    /// Virtual mode: the current scenario time.
    now_virtual: Duration,
    /// Virtual mode: participants that are running (not asleep).
    active: usize,
    /// Virtual mode: sleepers by (deadline, ticket).
    sleepers: BTreeMap<(Duration, u64), Sleeper>,
    next_ticket: u64,
    /// Virtual mode: the sleepers (by their key in `sleepers`) waiting on each signal.
    on_signal: HashMap<u64, Vec<(Duration, u64)>>,
    next_signal: u64,
}

impl State {
    fn now(&self, is_virtual: bool) -> Duration {
        if is_virtual {
            self.now_virtual
        } else if self.paused {
            self.base_scenario
        } else {
            self.base_scenario + self.base_instant.elapsed().mul_f64(self.speed)
        }
    }
}

impl Clock {
    /// A clock that follows wall time multiplied by `speed` (must be > 0).
    pub fn real(speed: f64) -> Clock {
        Clock::new(false, speed)
    }

    /// A virtual clock: time advances only when every participant sleeps.
    pub fn virtual_time() -> Clock {
        Clock::new(true, 1.0)
    }

    fn new(is_virtual: bool, speed: f64) -> Clock {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Clock {
            inner: Arc::new(Inner {
                is_virtual,
                state: Mutex::new(State {
                    paused: false,
                    speed,
                    base_scenario: Duration::ZERO,
                    base_instant: Instant::now(),
                    now_virtual: Duration::ZERO,
                    active: 0,
                    sleepers: BTreeMap::new(),
                    next_ticket: 0,
                    on_signal: HashMap::new(),
                    next_signal: 0,
                }),
                changed: Condvar::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this mutex leaves plain numbers behind, never a broken
        // invariant worth refusing to read, so poisoning is ignored.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this clock is virtual.
    pub fn is_virtual(&self) -> bool {
        self.inner.is_virtual
    }

    /// Scenario time since the clock was made.
    pub fn now(&self) -> Duration {
        self.state().now(self.inner.is_virtual)
    }

    /// Scenario time in seconds.
    pub fn now_secs(&self) -> f64 {
        self.now().as_secs_f64()
    }

    /// Sleeps for `d` of scenario time.
    pub fn sleep(&self, d: Duration) {
        self.sleep_or(d, &|| false);
    }

    /// Sleeps for `d` of scenario time, or until `interrupt` holds after a [`poke`](Self::poke).
    pub fn sleep_or(&self, d: Duration, interrupt: &dyn Fn() -> bool) -> Wake {
        let deadline = self.now().saturating_add(d);
        self.sleep_until_or(deadline, interrupt)
    }

    /// Sleeps until scenario time `deadline`, or until `interrupt` holds.
    pub fn sleep_until_or(&self, deadline: Duration, interrupt: &dyn Fn() -> bool) -> Wake {
        if self.inner.is_virtual {
            self.sleep_virtual(deadline, interrupt)
        } else {
            self.sleep_real(deadline, interrupt)
        }
    }

    /// Makes every sleeper re-check its interrupt predicate.
    pub fn poke(&self) {
        let mut st = self.state();
        self.wake_all(&mut st);
    }

    /// Freezes scenario time.
    pub fn pause(&self) {
        let mut st = self.state();
        if !st.paused {
            st.base_scenario = st.now(self.inner.is_virtual);
            st.paused = true;
        }
        self.inner.changed.notify_all();
    }

    /// Lets scenario time run again.
    pub fn resume(&self) {
        let mut st = self.state();
        if st.paused {
            st.paused = false;
            st.base_instant = Instant::now();
            // Virtual sleepers that came due while paused wake now.
            self.advance(&mut st);
        }
        self.inner.changed.notify_all();
    }

    /// Whether scenario time is frozen.
    pub fn is_paused(&self) -> bool {
        self.state().paused
    }

    /// Changes how many scenario seconds pass per real second (ignored if not > 0).
    pub fn set_speed(&self, speed: f64) {
        if !(speed.is_finite() && speed > 0.0) {
            return;
        }
        let mut st = self.state();
        // Re-base, so the time already elapsed keeps the speed it passed at.
        st.base_scenario = st.now(self.inner.is_virtual);
        st.base_instant = Instant::now();
        st.speed = speed;
        self.inner.changed.notify_all();
    }

    /// Scenario seconds per real second.
    pub fn speed(&self) -> f64 {
        self.state().speed
    }
}
