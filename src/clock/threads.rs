//! Participants: the threads that take part in the scenario, counted so that virtual
//! time never moves while one of them is running.
//!
//! A participant is counted *before* its thread exists ([`Clock::enlist`], done by
//! [`Clock::spawn`]); otherwise time could jump while a freshly spawned job has not
//! started yet. A thread-local binding ([`ThreadMark`]) tells a sleep or a join on
//! which clock the calling thread counts as running.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use super::Clock;

/// Stack size for scenario threads: jobs need little, and thousands may run.
pub const THREAD_STACK: usize = 256 * 1024;

thread_local! {
    /// The id of the clock this thread is a participant of (0: none).
    static PARTICIPANT_OF: Cell<usize> = const { Cell::new(0) };
}

// A joinable thread's hand-over slot: who retires its ticket (see `spawn_joinable`).
const SLOT_RUNNING: u8 = 0;
const SLOT_JOINER_WAITS: u8 = 1;
const SLOT_DONE: u8 = 2;

impl Clock {
    /// This clock's identity for the thread-local binding (its shared state's address).
    fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Whether `other` is this very clock (a clone of it), not merely one like it.
    pub fn same_as(&self, other: &Clock) -> bool {
        self.id() == other.id()
    }

    /// Whether the calling thread is bound as a participant of this clock.
    pub(super) fn is_participant(&self) -> bool {
        PARTICIPANT_OF.with(|p| p.get()) == self.id()
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
        let participant = self.inner.is_virtual && self.is_participant();
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

impl Clock {
    /// Ends a task run under `ticket` on a thread that lives on (a reused one):
    /// [`Clock::join`]'s hand-over, for a task instead of a thread.
    ///
    /// If the task's waiter is already waiting, the ticket goes to it, so virtual
    /// time cannot jump between this task's end and the waiter's wake-up; if nobody
    /// waits yet, the task retires at once.
    pub fn finish(&self, task: &Finish, ticket: Enlisted) {
        let st = self.state();
        let joiner_waits = task.slot.swap(SLOT_DONE, Ordering::SeqCst) == SLOT_JOINER_WAITS;
        drop(st);
        let mut end = task.end();
        end.done = true;
        end.ticket = joiner_waits.then_some(ticket);
        drop(end);
        task.state.1.notify_all();
    }

    /// Waits for a task to [`finish`](Clock::finish); like [`Clock::join`], a
    /// participant waiting here is idle, so virtual time may advance for the task.
    pub fn wait_finish(&self, task: &Finish) {
        let participant = self.inner.is_virtual && self.is_participant();
        let mut idle = false;
        if participant {
            let mut st = self.state();
            if task
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
        let mut end = task.end();
        while !end.done {
            end = task.state.1.wait(end).unwrap_or_else(|p| p.into_inner());
        }
        let ticket = end.ticket.take();
        drop(end);
        if idle {
            self.state().active += 1;
        }
        // A handed-over ticket drops here, after we count as running again.
        drop(ticket);
    }
}

/// One task's end on a reused thread: [`Clock::finish`] on one side,
/// [`Clock::wait_finish`] on the other; cheap to clone.
#[derive(Clone, Default)]
pub struct Finish {
    slot: Arc<AtomicU8>,
    state: Arc<(Mutex<TaskEnd>, Condvar)>,
}

#[derive(Default)]
struct TaskEnd {
    done: bool,
    /// The finished task's ticket, when its waiter was already waiting.
    ticket: Option<Enlisted>,
}

impl Finish {
    fn end(&self) -> MutexGuard<'_, TaskEnd> {
        self.state.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

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
