//! The job body: wait for the client's lock, then (unless the crash draw says
//! otherwise) append the record in chunks, pausing after each, and release.
//!
//! Every way a job can end is handled here, each in one function:
//! finished (record written, release recorded the new committed length), crashed
//! (partial write repaired, lock released at once), killed (nothing: the lease frees
//! the lock), fenced (lost the lock: stop writing at once), gave up.

mod ending;
mod heartbeat;
mod mailbox;
mod out_of_step;
mod record;
mod reporter;
mod sink;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::events::{Event, How, JobId, Order};
use crate::lock::{AcquireOutcome, Acquisition, Lease, Lock, LockError, Presence};
use crate::output::{FencedOutput, OutputError};

pub use heartbeat::Heartbeat;
pub use mailbox::Mailbox;
use reporter::Reporter;
pub use sink::Sink;

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum End {
    /// Wrote its record and released.
    Finished,
    /// Clean failure.
    Crashed,
    /// Died without releasing.
    Killed,
    /// Lost the lock.
    Fenced,
    /// Never got the lock.
    GaveUp,
}

/// One job's identity.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job number.
    pub id: JobId,
    /// Client name.
    pub client: String,
    /// Client index.
    pub client_index: usize,
    /// The worker hash (the lock owner id).
    pub hash: String,
    /// The crash draw, decided at the job's start.
    pub will_crash: bool,
}

/// What a job works with.
pub struct Context {
    /// The scenario clock.
    pub clock: Clock,
    /// The client's lock, on this job's own store handle.
    pub lock: Lock,
    /// The client's output.
    pub output: Arc<FencedOutput>,
    /// Whoever runs the job: where its events go.
    pub sink: Arc<dyn Sink>,
    /// Orders from whoever runs the job.
    pub mailbox: Arc<Mailbox>,
    /// The record to write.
    pub text: Vec<u8>,
    /// Bytes per write.
    pub chunk: usize,
    /// Pause after each chunk.
    pub chunk_pause: Duration,
    /// Whether waiters announce themselves in the store (worker processes do, so
    /// `joblock watch` can show what waits).
    pub announce: bool,
}

/// Runs one job to its end state.
pub fn run(job: &Job, cx: &Context) -> End {
    let end = Worker { job, cx }.run();
    cx.sink.ended(job);
    end
}

struct Worker<'a> {
    job: &'a Job,
    cx: &'a Context,
}

/// A job that holds the lock.
struct Held {
    lease: Arc<Lease>,
    committed: u64,
    heartbeat: Option<Heartbeat>,
}

impl Held {
    fn stop_heartbeat(&mut self) {
        if let Some(mut hb) = self.heartbeat.take() {
            hb.stop();
        }
    }
}

impl Worker<'_> {
    fn emit(&self, event: Event) {
        self.cx.sink.report(self.cx.clock.now(), event);
    }

    fn client(&self) -> String {
        self.job.client.clone()
    }

    fn run(&self) -> End {
        loop {
            // Another job of this process found the output out of step: this one
            // would hit the same wall, so it does not take the lock at all.
            if let Some(end) = self.known_out_of_step("not started") {
                return end;
            }
            let abort = || self.cx.mailbox.has_order();
            let presence = self
                .cx
                .announce
                .then(|| Presence::new(self.cx.lock.store(), self.cx.lock.key(), &self.job.hash));
            let mut reporter = Reporter { w: self, presence };
            let outcome = self.cx.lock.acquire(&self.job.hash, &mut reporter, &abort);
            if let Some(p) = reporter.presence.as_mut() {
                p.withdraw();
            }
            match outcome {
                // Every job of this run would meet the same document: halt.
                Err(e @ LockError::OtherOutput { .. }) => return self.refused_by_lock(&e),
                Err(e) => return self.crashed(format!("lock error: {e}")),
                Ok(AcquireOutcome::GaveUp { attempts, waited }) => {
                    self.emit(Event::GaveUp {
                        job: self.job.id,
                        client: self.client(),
                        attempts,
                        waited: waited.as_secs_f64(),
                    });
                    return End::GaveUp;
                }
                Ok(AcquireOutcome::Aborted { .. }) => match self.cx.mailbox.take() {
                    Some(Order::Kill) => return self.killed(false),
                    Some(Order::Crash) => return self.crashed("crashed while waiting".into()),
                    Some(Order::Stop) => {
                        return self
                            .known_out_of_step("stopped while waiting")
                            .unwrap_or_else(|| self.crashed("run stopped while waiting".into()));
                    }
                    // Stalling a waiter changes nothing: it just keeps waiting.
                    Some(Order::Stall(_)) | None => continue,
                },
                Ok(AcquireOutcome::Acquired(lease, acq)) => return self.hold(lease, acq),
            }
        }
    }

    fn hold(&self, lease: Arc<Lease>, acq: Acquisition) -> End {
        let fence = lease.fence();
        // A fault can strike between winning the lock in the store and touching the
        // output: a kill leaves the lock to expire. A crash or stop is taken after the
        // fence-in below, so that its repair cuts whatever a dead holder left torn.
        let mut crash_order = None;
        match self.cx.mailbox.take() {
            Some(Order::Kill) => return self.killed(true),
            Some(Order::Crash) => crash_order = Some("crashed right after acquiring"),
            Some(Order::Stop) => crash_order = Some("run stopped right after acquiring"),
            // A stall here would just delay the fence-in; apply it as a pause.
            Some(Order::Stall(d)) => {
                let interrupt = || self.cx.mailbox.has_order();
                let _ = self.cx.clock.sleep_or(d, &interrupt);
            }
            None => {}
        }
        let mut held = Held {
            lease: lease.clone(),
            committed: acq.committed,
            heartbeat: None,
        };
        // Found out of step by another job of ours since we started waiting: the
        // fence-in would be refused the same way, so let the lock go at once.
        if let Some(o) = self.cx.output.out_of_step() {
            let ns = self.namespace();
            let what = o.what(ns.as_deref());
            self.report_not_fenced_in(fence, &acq, format!("{what} (found by another job)"));
            self.halt(&o.line(ns.as_deref()));
            self.release(&mut held);
            return self.crashed(format!("let the lock go at once: {what} (the run halted)"));
        }
        let claim = self.claim(&lease);
        let fenced_in = match self.cx.output.fence_in(&claim, acq.committed) {
            Ok(f) => f,
            Err(OutputError::Fenced { highest, .. }) if !self.store_went_back(&lease, highest) => {
                // We froze between winning the lock and fencing in, and a later
                // holder already fenced in: the lock is no longer ours.
                self.emit(Event::WriteRejected {
                    job: self.job.id,
                    client: self.client(),
                    fence,
                    highest,
                });
                return self.fenced("a later holder fenced in first".into());
            }
            Err(e) => {
                let (_, short) = self.refusal_lines(&held, &e);
                self.report_not_fenced_in(fence, &acq, short);
                return self.refused(&mut held, e);
            }
        };
        self.cx.sink.holds(self.job);
        let (how, from_job, from_fence) = self.how_of(&acq);
        self.emit(Event::Acquired {
            job: self.job.id,
            client: self.client(),
            fence,
            attempts: acq.attempts,
            waited: acq.waited.as_secs_f64(),
            how,
            from_job,
            from_fence,
            committed: acq.committed,
            wseq: fenced_in.seq,
        });
        if fenced_in.truncated() > 0 {
            let reason = match how {
                How::Takeover => "torn write left by the holder taken over",
                _ => "torn tail found at acquisition",
            };
            self.emit_repair(fence, fenced_in, reason);
        }
        if let Some(reason) = crash_order {
            return self.crash_path(&mut held, reason.into());
        }
        let heartbeat = Heartbeat::start(
            &self.cx.clock,
            lease.clone(),
            self.cx.sink.clone(),
            self.job.id,
            self.client(),
        );
        match heartbeat {
            Ok(hb) => held.heartbeat = Some(hb),
            Err(e) => return self.crash_path(&mut held, format!("cannot start heartbeat: {e}")),
        }
        if self.job.will_crash {
            return self.crash_path(&mut held, "crash draw".into());
        }
        self.write_record(&mut held)
    }

    fn lost_reason(&self, held: &Held) -> String {
        if held.lease.is_lost() {
            "lock taken over (renewal matched nothing)".into()
        } else {
            "lease not renewed within its length".into()
        }
    }

    fn crash_path(&self, held: &mut Held, reason: String) -> End {
        self.repair_and_release(held, "crash");
        self.crashed(reason)
    }

    fn crashed(&self, reason: String) -> End {
        let event = Event::Crashed {
            job: self.job.id,
            client: self.client(),
            reason,
        };
        self.end(End::Crashed, event)
    }

    /// Reports an end state; the runner stops counting this job as a holder.
    fn end(&self, end: End, event: Event) -> End {
        self.cx.sink.lets_go(self.job);
        self.emit(event);
        end
    }

    fn fenced_path(&self, held: &mut Held, reason: String) -> End {
        self.repair_and_release(held, "self-fenced");
        self.fenced(reason)
    }

    fn fenced(&self, reason: String) -> End {
        let event = Event::Fenced {
            job: self.job.id,
            client: self.client(),
            reason,
        };
        self.end(End::Fenced, event)
    }

    fn kill_path(&self, held: &mut Held) -> End {
        // The process is gone: its heartbeat dies with it, nothing is repaired or released.
        held.stop_heartbeat();
        self.killed(true)
    }

    fn killed(&self, held: bool) -> End {
        let event = Event::Killed {
            job: self.job.id,
            client: self.client(),
            held,
        };
        self.end(End::Killed, event)
    }
}
