//! The holder's heartbeat: renews the lease every `lease / 3`, independently of the
//! job's writes, so that a job busy writing (or pausing between chunks) keeps its lock
//! and a job that is dead or frozen loses it.
//!
//! The renewals run on a thread of their own, reused from one holder to the next
//! of the same runner (`beater.rs`).

mod beater;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Sink;
use crate::clock::{Clock, Finish, Signal, Wake};
use crate::events::{Event, JobId};
use crate::lock::{Lease, Renewal};
use beater::{Beater, Task};

/// Control of one running heartbeat.
pub struct Heartbeat {
    clock: Clock,
    /// Raised to stop: it wakes this heartbeat alone, not every sleeper of the run.
    stop: Signal,
    /// Scenario time (nanoseconds) until which the holder is frozen; 0 when not.
    stall_until: Arc<AtomicU64>,
    /// The thread it renews on and the end of its renewals, until stopped.
    running: Option<(Beater, Finish)>,
}

impl Heartbeat {
    /// Starts renewing `lease` for `job` every third of the lease, reporting each
    /// renewal to `sink`.
    pub fn start(
        clock: &Clock,
        lease: Arc<Lease>,
        sink: Arc<dyn Sink>,
        job: JobId,
        client: String,
    ) -> std::io::Result<Heartbeat> {
        let every = lease.lease() / 3;
        Heartbeat::start_every(clock, lease, sink, job, client, every)
    }

    /// Starts renewing `lease` for `job` every `every`, reporting each renewal to
    /// `sink` (a command wrapper renews more often, to ride out failed renewals).
    pub fn start_every(
        clock: &Clock,
        lease: Arc<Lease>,
        sink: Arc<dyn Sink>,
        job: JobId,
        client: String,
        every: Duration,
    ) -> std::io::Result<Heartbeat> {
        let stop = clock.signal();
        let stall_until = Arc::new(AtomicU64::new(0));
        let (c, s, st) = (clock.clone(), stop.clone(), stall_until.clone());
        let finish = Finish::default();
        let mut task = Task {
            // Counted before the task is handed over, so time cannot start early.
            ticket: clock.enlist(),
            finish: finish.clone(),
            body: Box::new(move || beat(&c, &lease, sink.as_ref(), job, &client, every, (&s, &st))),
        };
        let mut beater = Beater::take_or_start(clock)?;
        if let Err(back) = beater.run(task) {
            // A parked thread that is gone: start a fresh one.
            task = back;
            beater = Beater::take_or_start(clock)?;
            beater.run(task).map_err(|_| {
                std::io::Error::other("the heartbeat thread ended before its first task")
            })?;
        }
        Ok(Heartbeat {
            clock: clock.clone(),
            stop,
            stall_until,
            running: Some((beater, finish)),
        })
    }

    /// Freezes renewals until scenario time `until` (the holder is stalled).
    pub fn stall_until(&self, until: Duration) {
        self.stall_until
            .store(until.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Stops renewing and waits for the renewals to end; the thread is kept for
    /// this thread's next heartbeat.
    pub fn stop(&mut self) {
        self.clock.raise(&self.stop);
        if let Some((beater, finish)) = self.running.take() {
            self.clock.wait_finish(&finish);
            beater.park();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop();
    }
}

fn beat(
    clock: &Clock,
    lease: &Lease,
    sink: &dyn Sink,
    job: JobId,
    client: &str,
    every: Duration,
    (stop, stall_until): (&Signal, &AtomicU64),
) {
    let stopped = || stop.raised() != 0;
    loop {
        if clock.sleep_on(every, stop, 0) == Wake::Interrupted {
            return;
        }
        let frozen = Duration::from_nanos(stall_until.load(Ordering::SeqCst));
        if frozen > clock.now() && clock.sleep_until_on(frozen, stop, 0) == Wake::Interrupted {
            return;
        }
        match lease.renew() {
            Ok(Renewal::Renewed(beat)) => {
                if !stopped() {
                    sink.report(
                        clock.now(),
                        Event::Heartbeat {
                            job,
                            client: client.to_string(),
                            fence: lease.fence(),
                            beat,
                        },
                    );
                }
            }
            // The job notices through `Lease::is_valid` and ends fenced.
            Ok(Renewal::Lost) => return,
            Err(e) => sink.report(
                clock.now(),
                Event::HeartbeatFailed {
                    job,
                    client: client.to_string(),
                    error: e.to_string(),
                },
            ),
        }
    }
}
