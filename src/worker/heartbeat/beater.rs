//! The thread a heartbeat renews on, kept for the next holder of the same runner.
//!
//! A run of 100,000 jobs used to start (and tear down) a thread per holder: the
//! clone, the guard page and signal stack set-up and the unmapping at its end were a
//! good part of a job's cost. A runner takes its jobs one after another and each
//! holds at most one heartbeat at a time, so the thread that renewed for its last
//! job is parked in the runner's thread-local slot and renews for its next one.
//!
//! A parked beater is no clock participant: it waits on a channel, outside the
//! clock. Each task comes with its own ticket ([`Clock::enlist`], taken before the
//! task is handed over, as [`Clock::spawn_joinable`] does before a thread exists),
//! and its end is handed to whoever stops it through a [`Finish`], with
//! [`Clock::join`]'s rules: virtual time sees exactly what a fresh thread gave it.

use std::cell::RefCell;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;

use crossbeam_channel::{Receiver, Sender};

use crate::clock::{Clock, Enlisted, Finish, THREAD_STACK};

/// One heartbeat's work, run on a beater under its own ticket.
pub(super) struct Task {
    /// Counts the task as running from before it was handed over.
    pub ticket: Enlisted,
    /// Where its end is handed to the one who stops it.
    pub finish: Finish,
    /// The renewals themselves.
    pub body: Box<dyn FnOnce() + Send>,
}

/// A beater thread: hand it tasks one at a time.
pub(super) struct Beater {
    clock: Clock,
    tasks: Sender<Task>,
}

thread_local! {
    /// The calling thread's parked beater, if its last heartbeat stopped.
    static PARKED: RefCell<Option<Beater>> = const { RefCell::new(None) };
}

impl Beater {
    /// The calling thread's parked beater for `clock`, or a new thread.
    pub fn take_or_start(clock: &Clock) -> io::Result<Beater> {
        let parked = PARKED
            .try_with(|p| p.borrow_mut().take())
            .ok()
            .flatten()
            .filter(|b| b.clock.same_as(clock));
        match parked {
            Some(b) => Ok(b),
            None => Beater::start(clock),
        }
    }

    fn start(clock: &Clock) -> io::Result<Beater> {
        let (tasks, inbox) = crossbeam_channel::bounded(1);
        let c = clock.clone();
        thread::Builder::new()
            .name("heartbeat".into())
            .stack_size(THREAD_STACK)
            .spawn(move || serve(&c, &inbox))?;
        Ok(Beater {
            clock: clock.clone(),
            tasks,
        })
    }

    /// Hands `task` over; gives it back if the thread is gone.
    pub fn run(&self, task: Task) -> Result<(), Task> {
        self.tasks.send(task).map_err(|e| e.into_inner())
    }

    /// Parks this beater in the calling thread's slot for its next heartbeat (one
    /// parked already, of another clock, is let go: its thread ends).
    pub fn park(self) {
        let _ = PARKED.try_with(|p| p.borrow_mut().replace(self));
    }
}

/// A beater's life: run tasks until every sender is gone (its runner ended).
fn serve(clock: &Clock, inbox: &Receiver<Task>) {
    while let Ok(Task {
        ticket,
        finish,
        body,
    }) = inbox.recv()
    {
        {
            let _mark = ticket.mark_current_thread();
            // A panicking heartbeat has stopped renewing, which is all its holder
            // needs; the thread stays good for the next one.
            let _ = catch_unwind(AssertUnwindSafe(body));
        }
        clock.finish(&finish, ticket);
    }
}
