//! Scenario time: the one clock every job, heartbeat and store latency goes through.
//!
//! Two modes share one interface:
//!
//! * **real**: scenario time is wall time multiplied by `speed`, and can be paused
//!   and re-speeded live (the dashboard's space, `+` and `-`).
//! * **virtual**: scenario time stands still while any *participant* thread is
//!   running and jumps straight to the earliest deadline once every participant is
//!   asleep. A run takes only as long as its CPU work, and, more importantly, a
//!   thread can never be "paused by the OS" past a lease: a heartbeat due at t=1 s
//!   runs at t=1 s however loaded the machine is. This is what makes the high-speed
//!   tests free of spurious lease expiries.
//!
//! Participants are the threads that take part in the scenario (jobs, heartbeats,
//! schedulers). They are enlisted with [`Clock::spawn`] (or [`Clock::enlist`]) so the
//! count is raised *before* the thread exists; otherwise time could jump while a
//! freshly spawned job has not started yet.
//!
//! Sleeps can be interrupted: a sleeper passes a predicate, and [`Clock::poke`] makes
//! every sleeper re-evaluate its predicate. Predicates run under the clock's mutex,
//! so they must only read atomics (never call back into the clock).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Stack size for scenario threads: jobs need little, and thousands may run.
const THREAD_STACK: usize = 256 * 1024;

thread_local! {
    /// The id of the clock this thread is a participant of (0: none).
    static PARTICIPANT_OF: Cell<usize> = const { Cell::new(0) };
}

/// A virtual-mode sleeper.
struct Sleeper {
    /// Whether it must be counted active again on waking.
    participant: bool,
    /// Its thread's wake-up signal.
    waker: Arc<Condvar>,
}

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
                }),
                changed: Condvar::new(),
            }),
        }
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
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
        let deadline = self.now() + d;
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

    fn sleep_real(&self, deadline: Duration, interrupt: &dyn Fn() -> bool) -> Wake {
        let mut st = self.state();
        let mut first = true;
        loop {
            if interrupt() {
                return Wake::Interrupted;
            }
            let now = st.now(false);
            if !st.paused && now >= deadline {
                if first {
                    // A zero-length sleep still gives other threads a turn, so a
                    // waiter polling with no pause cannot starve the holder.
                    drop(st);
                    thread::yield_now();
                }
                return Wake::Elapsed;
            }
            first = false;
            st = if st.paused {
                self.inner
                    .changed
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner())
            } else {
                let real = (deadline - now).div_f64(st.speed);
                self.inner
                    .changed
                    .wait_timeout(st, real)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            };
        }
    }

    fn sleep_virtual(&self, deadline: Duration, interrupt: &dyn Fn() -> bool) -> Wake {
        let participant = PARTICIPANT_OF.with(|p| p.get()) == self.id();
        let mut st = self.state();
        // Each sleep has its own wake-up signal: waking one sleeper must not wake all
        // of them (a thundering herd at every step of virtual time).
        let waker = Arc::new(Condvar::new());
        loop {
            // Here we count as running: either we just arrived, or `advance` / `poke`
            // removed our entry and counted us active again.
            if deadline <= st.now_virtual {
                return Wake::Elapsed;
            }
            if interrupt() {
                return Wake::Interrupted;
            }
            let key = (deadline, st.next_ticket);
            st.next_ticket += 1;
            st.sleepers.insert(
                key,
                Sleeper {
                    participant,
                    waker: waker.clone(),
                },
            );
            if participant {
                st.active -= 1;
            }
            self.advance(&mut st);
            while st.sleepers.contains_key(&key) {
                st = waker.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Virtual mode: when nobody runs, jump to the earliest deadline and wake its sleepers.
    fn advance(&self, st: &mut State) {
        if !self.inner.is_virtual || st.active > 0 || st.paused {
            return;
        }
        let Some((&(first, _), _)) = st.sleepers.first_key_value() else {
            return;
        };
        if first > st.now_virtual {
            st.now_virtual = first;
        }
        while let Some((&(t, _), _)) = st.sleepers.first_key_value() {
            if t > st.now_virtual {
                break;
            }
            if let Some((_, sleeper)) = st.sleepers.pop_first() {
                if sleeper.participant {
                    st.active += 1;
                }
                sleeper.waker.notify_one();
            }
        }
    }

    /// Wakes every sleeper to re-check its predicate.
    ///
    /// Virtual sleepers are taken off the timeline and counted as running until they
    /// have re-checked (and gone back to sleep): otherwise time could jump past the
    /// moment a poked sleeper should have acted.
    fn wake_all(&self, st: &mut State) {
        for (_, sleeper) in std::mem::take(&mut st.sleepers) {
            if sleeper.participant {
                st.active += 1;
            }
            sleeper.waker.notify_one();
        }
        self.inner.changed.notify_all();
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
        st.base_scenario = st.now(self.inner.is_virtual);
        st.base_instant = Instant::now();
        st.speed = speed;
        self.inner.changed.notify_all();
    }

    /// Scenario seconds per real second.
    pub fn speed(&self) -> f64 {
        self.state().speed
    }

    /// Counts a participant that is about to start; see [`Enlisted`].
    pub fn enlist(&self) -> Enlisted {
        self.state().active += 1;
        Enlisted {
            clock: self.clone(),
        }
    }

    /// Spawns a named participant thread (enlisted before it exists).
    pub fn spawn<F, T>(&self, name: String, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.start_thread(name, move |ticket| {
            let _mark = ticket.mark_current_thread();
            f()
        })
    }

    /// Spawns a participant whose retirement is handed to whoever joins it.
    ///
    /// If its joiner is already waiting when the thread ends, the thread's ticket
    /// goes to the joiner, so it still counts as running until the joiner wakes:
    /// virtual time cannot jump in that gap. If nobody waits yet, the thread retires
    /// at once, so a thread that ends on its own never freezes time.
    pub fn spawn_joinable<F, T>(&self, name: String, f: F) -> io::Result<Joinable<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(AtomicU8::new(SLOT_RUNNING));
        let (clock, thread_slot) = (self.clone(), slot.clone());
        let handle = self.start_thread(name, move |ticket| {
            let result = {
                let _mark = ticket.mark_current_thread();
                f()
            };
            // Decided under the clock's mutex, so it cannot cross a joiner arriving.
            let st = clock.state();
            let joiner_waits = thread_slot.swap(SLOT_DONE, Ordering::SeqCst) == SLOT_JOINER_WAITS;
            drop(st);
            (result, joiner_waits.then_some(ticket))
        })?;
        Ok(Joinable { handle, slot })
    }

    /// Enlists a participant, then starts its thread with the ticket.
    fn start_thread<F, R>(&self, name: String, body: F) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce(Enlisted) -> R + Send + 'static,
        R: Send + 'static,
    {
        let ticket = self.enlist();
        thread::Builder::new()
            .name(name)
            .stack_size(THREAD_STACK)
            .spawn(move || body(ticket))
    }

    /// Joins a thread made by [`Clock::spawn_joinable`].
    ///
    /// A participant blocked in a join is idle, so virtual time may advance for the
    /// thread it waits on (which may be sleeping on a store latency).
    pub fn join<T>(&self, joinable: Joinable<T>) -> thread::Result<T> {
        let participant = self.inner.is_virtual && PARTICIPANT_OF.with(|p| p.get()) == self.id();
        let mut idle = false;
        if participant {
            let mut st = self.state();
            // A thread already done has retired; joining it is instant, not idle.
            if joinable
                .slot
                .compare_exchange(
                    SLOT_RUNNING,
                    SLOT_JOINER_WAITS,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            {
                idle = true;
                st.active -= 1;
                self.advance(&mut st);
            }
        }
        let joined = joinable.handle.join();
        if idle {
            self.state().active += 1;
        }
        // A handed-over ticket drops here, after we count as running again.
        joined.map(|(result, _ticket)| result)
    }
}

const SLOT_RUNNING: u8 = 0;
const SLOT_JOINER_WAITS: u8 = 1;
const SLOT_DONE: u8 = 2;

/// A thread made by [`Clock::spawn_joinable`]; join it with [`Clock::join`].
pub struct Joinable<T> {
    handle: JoinHandle<(T, Option<Enlisted>)>,
    slot: Arc<AtomicU8>,
}

/// A running participant: while it lives, virtual time cannot move unless it sleeps.
///
/// Dropping it retires the participant. A thread that sleeps must first call
/// [`Enlisted::mark_current_thread`] so its sleeps are counted as the participant's.
pub struct Enlisted {
    clock: Clock,
}

impl Enlisted {
    /// Binds this participant to the calling thread until the guard drops.
    pub fn mark_current_thread(&self) -> ThreadMark {
        let previous = PARTICIPANT_OF.with(|p| p.replace(self.clock.id()));
        ThreadMark { previous }
    }
}

impl Drop for Enlisted {
    fn drop(&mut self) {
        let mut st = self.clock.state();
        st.active = st.active.saturating_sub(1);
        self.clock.advance(&mut st);
    }
}

/// Restores the thread's previous participant binding on drop.
pub struct ThreadMark {
    previous: usize,
}

impl Drop for ThreadMark {
    fn drop(&mut self) {
        PARTICIPANT_OF.with(|p| p.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn virtual_sleep_jumps_to_the_deadline() {
        let clock = Clock::virtual_time();
        let c = clock.clone();
        let h = clock
            .spawn("t".into(), move || {
                c.sleep(Duration::from_secs(1000));
                c.now()
            })
            .unwrap();
        assert_eq!(h.join().unwrap(), Duration::from_secs(1000));
    }

    #[test]
    fn virtual_time_waits_for_running_participants() {
        let clock = Clock::virtual_time();
        let hold = clock.enlist();
        let c = clock.clone();
        let h = clock
            .spawn("sleeper".into(), move || {
                c.sleep(Duration::from_secs(5));
            })
            .unwrap();
        // The sleeper cannot wake while `hold` counts as running.
        assert_eq!(clock.now(), Duration::ZERO);
        drop(hold);
        h.join().unwrap();
        assert_eq!(clock.now(), Duration::from_secs(5));
    }

    #[test]
    fn sleepers_wake_in_deadline_order() {
        let clock = Clock::virtual_time();
        let hold = clock.enlist();
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut handles = Vec::new();
        for secs in [3u64, 1, 2] {
            let c = clock.clone();
            let tx = tx.clone();
            handles.push(
                clock
                    .spawn(format!("s{secs}"), move || {
                        c.sleep(Duration::from_secs(secs));
                        tx.send((secs, c.now())).unwrap();
                    })
                    .unwrap(),
            );
        }
        drop(hold);
        for h in handles {
            h.join().unwrap();
        }
        let got: Vec<(u64, Duration)> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![
                (1, Duration::from_secs(1)),
                (2, Duration::from_secs(2)),
                (3, Duration::from_secs(3))
            ]
        );
    }

    #[test]
    fn poke_interrupts_a_sleeper_whose_predicate_holds() {
        let clock = Clock::real(1.0);
        let flag = Arc::new(AtomicBool::new(false));
        let (c, f) = (clock.clone(), flag.clone());
        let h = thread::spawn(move || {
            c.sleep_or(Duration::from_secs(3600), &|| f.load(Ordering::SeqCst))
        });
        flag.store(true, Ordering::SeqCst);
        clock.poke();
        assert_eq!(h.join().unwrap(), Wake::Interrupted);
    }

    #[test]
    fn paused_real_clock_stands_still() {
        let clock = Clock::real(1000.0);
        clock.pause();
        let t = clock.now();
        thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), t);
        clock.resume();
    }

    #[test]
    fn paused_virtual_clock_does_not_advance_until_resumed() {
        let clock = Clock::virtual_time();
        clock.pause();
        let c = clock.clone();
        let h = clock
            .spawn("s".into(), move || c.sleep(Duration::from_secs(7)))
            .unwrap();
        assert_eq!(clock.now(), Duration::ZERO);
        clock.resume();
        h.join().unwrap();
        assert_eq!(clock.now(), Duration::from_secs(7));
    }
}
