//! Getting the lock: wait (up to `--wait-timeout`), or skip or fail at once when
//! it is held; give up with 69 when the store stays unreachable; stop waiting on
//! SIGINT, SIGTERM or SIGHUP. A waiter announces itself in the store, so that
//! `joblock locks list` and `watch` show who waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::report::{Level, Reporter};
use super::signals::Signals;
use super::{EX_DATAERR, EX_UNAVAILABLE, JOB, Me, OnConflict, RunConfig};
use crate::clock::Clock;
use crate::events::{Event, How, SeenLock};
use crate::lock::state::{lock_id, read_doc};
use crate::lock::{
    AcquireObserver, AcquireOutcome, Acquisition, Lease, Lock, LockConfig, LockError, Presence,
    Seen, Via,
};
use crate::store::Store;
use crate::worker::Sink;

/// Waiting "for ever": a century, which no arithmetic on it overflows.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Watches the attempts: announces the waiter, notices a conflict (skip/fail)
/// and a store that stays unreachable.
struct Watcher<'a> {
    config: &'a RunConfig,
    reporter: &'a Reporter,
    clock: &'a Clock,
    presence: Presence,
    conflict: &'a AtomicBool,
    unreachable: &'a AtomicBool,
    failing_since: Option<Instant>,
    last_error: Option<String>,
    said_waiting: bool,
}

impl AcquireObserver for Watcher<'_> {
    fn attempt(&mut self, attempt: u32, seen: &Seen) {
        let seen_lock = match seen {
            Seen::Held {
                fence, heartbeat, ..
            } => SeenLock::Held {
                holder: None,
                fence: *fence,
                heartbeat: *heartbeat,
            },
            Seen::LostRace => SeenLock::LostRace,
            Seen::StoreError(e) => SeenLock::StoreError { error: e.clone() },
        };
        self.reporter.report(
            self.clock.now(),
            Event::LockAttempt {
                job: JOB,
                client: self.config.key.clone(),
                attempt,
                seen: seen_lock,
            },
        );
        match seen {
            Seen::StoreError(e) => {
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                self.last_error = Some(e.clone());
                // The very first contact failed, or failures went on for longer
                // than a few store calls: it is down.
                if attempt == 1 || since.elapsed() >= self.config.store_timeout.saturating_mul(2) {
                    self.unreachable.store(true, Ordering::SeqCst);
                }
            }
            _ if self.config.on_conflict != OnConflict::Wait => {
                self.conflict.store(true, Ordering::SeqCst);
            }
            _ => {
                self.failing_since = None;
                if !self.said_waiting {
                    self.said_waiting = true;
                    self.reporter.say(
                        Level::Info,
                        &format!("{} is held; waiting", self.config.key),
                    );
                }
                self.presence.touch(self.clock.now(), self.config.lease / 3);
            }
        }
    }

    fn expired(&mut self, owner: &str, fence: u64, unchanged_for: Duration) {
        self.reporter.report(
            self.clock.now(),
            Event::LeaseExpired {
                job: JOB,
                client: self.config.key.clone(),
                holder: None,
                fence,
                unchanged_for: unchanged_for.as_secs_f64(),
            },
        );
        self.reporter.say(
            Level::Info,
            &format!("the lease of {owner} (fence {fence}) ran out; taking over"),
        );
    }
}

/// Acquires the lock, or returns the exit code to end with.
pub fn acquire(
    config: &RunConfig,
    store: &Arc<dyn Store>,
    clock: &Clock,
    me: &Me,
    reporter: &Reporter,
    signals: &Signals,
) -> Result<(Arc<Lease>, Acquisition), u8> {
    let key = lock_id(&config.key);
    let lock_config = LockConfig {
        lease: config.lease,
        retry: config.retry,
        give_up: config.wait_timeout.unwrap_or(FOREVER).min(FOREVER),
    };
    let lock = Lock::new(store.clone(), clock.clone(), key.clone(), lock_config)
        .with_holder(Some(me.holder.clone()));
    reporter.report(
        clock.now(),
        Event::Queued {
            job: JOB,
            client: config.key.clone(),
            hash: me.owner.clone(),
            will_crash: false,
        },
    );
    let (conflict, unreachable) = (AtomicBool::new(false), AtomicBool::new(false));
    let mut watcher = Watcher {
        config,
        reporter,
        clock,
        presence: Presence::new(store.clone(), &key, &me.owner),
        conflict: &conflict,
        unreachable: &unreachable,
        failing_since: None,
        last_error: None,
        said_waiting: false,
    };
    let abort = || {
        conflict.load(Ordering::SeqCst)
            || unreachable.load(Ordering::SeqCst)
            || signals.first().is_some()
    };
    let outcome = lock.acquire(&me.owner, &mut watcher, &abort);
    watcher.presence.withdraw();
    let last_error = watcher.last_error.take();
    match outcome {
        Ok(AcquireOutcome::Acquired(lease, acq)) => {
            report_acquired(config, clock, reporter, &lease, &acq);
            Ok((lease, acq))
        }
        Ok(AcquireOutcome::GaveUp { attempts, waited }) => {
            reporter.report(
                clock.now(),
                Event::GaveUp {
                    job: JOB,
                    client: config.key.clone(),
                    attempts,
                    waited: waited.as_secs_f64(),
                },
            );
            let holder = describe_holder(store.as_ref(), &key);
            reporter.say(
                Level::Error,
                &format!(
                    "waited {:.1} s for {} ({holder}); giving up (--wait-timeout)",
                    waited.as_secs_f64(),
                    config.key
                ),
            );
            Err(config.conflict_exit)
        }
        Ok(AcquireOutcome::Aborted { .. }) => {
            if let Some(sig) = signals.first() {
                reporter.say(
                    Level::Error,
                    &format!(
                        "{} while waiting for {}; the command never ran",
                        super::child::signal_name(sig),
                        config.key
                    ),
                );
                return Err(super::child::Exit::Signal(sig).code());
            }
            if unreachable.load(Ordering::SeqCst) {
                let e = last_error.unwrap_or_default();
                reporter.say(
                    Level::Error,
                    &format!(
                        "the store stayed unreachable while waiting for {}: {e}",
                        config.key
                    ),
                );
                return Err(EX_UNAVAILABLE);
            }
            let holder = describe_holder(store.as_ref(), &key);
            let msg = format!(
                "{} is held by {holder}; not running the command",
                config.key
            );
            if config.on_conflict == OnConflict::Skip {
                // Skip is success: one line on stderr, whatever the log level.
                reporter.say(Level::Warn, &format!("{msg} (--on-conflict skip)"));
                Err(0)
            } else {
                reporter.say(Level::Error, &format!("{msg} (--on-conflict fail)"));
                Err(config.conflict_exit)
            }
        }
        Err(LockError::Store(e)) => {
            reporter.say(Level::Error, &format!("cannot acquire {}: {e}", config.key));
            Err(EX_UNAVAILABLE)
        }
        Err(e) => {
            reporter.say(Level::Error, &format!("cannot acquire {}: {e}", config.key));
            Err(EX_DATAERR)
        }
    }
}

fn report_acquired(
    config: &RunConfig,
    clock: &Clock,
    reporter: &Reporter,
    lease: &Lease,
    acq: &Acquisition,
) {
    let (how, from_fence) = match &acq.via {
        Via::Created => (How::Created, None),
        Via::Free => (How::Handoff, None),
        Via::Takeover { fence, .. } => (How::Takeover, Some(*fence)),
    };
    reporter.report(
        clock.now(),
        Event::Acquired {
            job: JOB,
            client: config.key.clone(),
            fence: lease.fence(),
            attempts: acq.attempts,
            waited: acq.waited.as_secs_f64(),
            how,
            from_job: None,
            from_fence,
            committed: acq.committed,
            wseq: 0,
        },
    );
}

/// Who holds `key`, for a message: `run:host:pid (python worker.py on host,
/// pid 12, fence 7)`, or just the owner id and fence.
pub fn describe_holder(store: &dyn Store, key: &str) -> String {
    match read_doc(store, key) {
        Ok(Some(doc)) => match (&doc.owner, &doc.holder) {
            (Some(_), Some(h)) => format!(
                "`{}` on {} (pid {}, fence {})",
                h.command_line(),
                h.host,
                h.pid,
                doc.fence
            ),
            (Some(owner), None) => format!("{owner} (fence {})", doc.fence),
            (None, _) => "nobody now".into(),
        },
        Ok(None) => "nobody now".into(),
        Err(e) => format!("an unknown holder ({e})"),
    }
}
