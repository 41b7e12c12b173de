//! Holding the lock while the command runs: start it under the guardian, renew
//! the lease, forward signals, and stop the command the moment the lease can no
//! longer be vouched for; then release and pass the command's exit code on.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, never, select, unbounded};
use rustix::process::Signal;

use super::child::{self, Exit, Running, Spec, signal_name};
use super::guard::{Guardian, Starting};
use super::lookout::Lookout;
use super::report::{Level, Reporter};
use super::signals::Signals;
use super::stop::{Stop, lost_why, lost_why_within};
use super::{EX_LOST, EX_NOEXEC, EX_NOTFOUND, EX_OSERR, JOB, RunConfig, Wrapper};
use crate::clock::Clock;
use crate::events::Event;
use crate::lock::history::{self, now_ms};
use crate::lock::revoke::free_revoked;
use crate::lock::{Acquisition, Lease};
use crate::store::Store;
use crate::worker::{Heartbeat, Sink};

/// What the holder's heartbeat tells the loop, and the wrapper's reporter.
struct HoldSink {
    reporter: Arc<Reporter>,
    beats: Sender<()>,
}

impl Sink for HoldSink {
    fn report(&self, at: Duration, event: Event) {
        let beat = matches!(event, Event::Heartbeat { .. });
        self.reporter.report(at, event);
        if beat {
            let _ = self.beats.send(());
        }
    }
}

/// Runs the command while holding `lease`; returns the wrapper's exit code.
pub fn hold(
    w: &Wrapper<'_>,
    guardian: Starting,
    (lease, acquisition): (Arc<Lease>, &Acquisition),
) -> u8 {
    let Wrapper {
        config,
        store,
        clock,
        me,
        reporter,
        signals,
    } = *w;
    let key = config.key.clone();
    let say = |level, msg: &str| reporter.say(level, msg);
    let report = |event| reporter.report(clock.now(), event);
    // Stopped past the lease while acquiring (SIGSTOP, a slow store): too late.
    if lease.valid_for() <= config.grace + config.margin() {
        say(
            Level::Error,
            &format!(
                "{key}: the lease was nearly over by the time it was acquired; not running the command"
            ),
        );
        let _ = lease.release(0);
        return EX_LOST;
    }
    let mut guardian = match guardian.ready() {
        Ok(g) => g,
        Err(e) => {
            say(
                Level::Error,
                &format!("cannot start the guardian process: {e}; not running the command"),
            );
            let _ = lease.release(0);
            return EX_OSERR;
        }
    };
    let mut guard = GuardClock::new(config.margin() / 2);
    guard.tell(&mut guardian, &lease);
    let spec = Spec {
        argv: config.argv.clone(),
        env: vec![
            ("JOBLOCK_KEY".into(), key.clone()),
            ("JOBLOCK_FENCE".into(), lease.fence().to_string()),
            ("JOBLOCK_OWNER".into(), me.owner.clone()),
        ],
    };
    let running = match child::start(&spec) {
        Ok(r) => r,
        Err(e) => {
            let program = config.argv[0].to_string_lossy().into_owned();
            say(Level::Error, &format!("cannot run {program:?}: {e}"));
            guardian.finish();
            release(config, store, &lease, reporter, clock, None);
            return match e.kind() {
                std::io::ErrorKind::NotFound => EX_NOTFOUND,
                _ => EX_NOEXEC,
            };
        }
    };
    let _ = guardian.guard(running.pid);
    // Written while the command starts work, not before: history is best effort.
    super::record_acquired(config, store, me, &lease, acquisition, reporter);
    report(Event::CommandStarted {
        job: JOB,
        client: key.clone(),
        pid: running.pid,
        fence: lease.fence(),
        command: me.holder.command.clone(),
    });
    let (beat_tx, beat_rx) = unbounded();
    let sink: Arc<dyn Sink> = Arc::new(HoldSink {
        reporter: reporter.clone(),
        beats: beat_tx,
    });
    let mut heartbeat = Heartbeat::start_every(
        clock,
        lease.clone(),
        sink,
        JOB,
        key.clone(),
        config.renew_every(),
    )
    .ok();
    if heartbeat.is_none() {
        say(
            Level::Warn,
            "cannot start the heartbeat thread; the command will be stopped before the lease ends",
        );
    }
    let exited = watch_exit(running.pid);
    let lookout = Lookout::start(
        store,
        lease.key(),
        lease.owner(),
        lease.fence(),
        config.renew_every(),
    );
    let mut watched = Watched {
        config,
        store,
        lease: &lease,
        running: &running,
        guardian: &mut guardian,
        guard: &mut guard,
        reporter,
        clock,
    };
    let stop = watched.watch(signals, &beat_rx, &exited, &lookout.displaced);
    drop(lookout);
    // The command has ended (not reaped yet): the guardian can go.
    guardian.finish();
    if let Some(h) = heartbeat.as_mut() {
        h.stop();
    }
    let exit = match running.reap() {
        Ok(e) => e,
        Err(e) => {
            say(Level::Error, &format!("cannot reap the command: {e}"));
            Exit::Code(255)
        }
    };
    report(Event::CommandExited {
        job: JOB,
        client: key.clone(),
        exit: exit.describe(),
        code: exit.code(),
    });
    // A lease lost while the command ran (even if it then ended by itself) means
    // its work may have overlapped another holder's: say so with 76.
    let stop = stop
        .or_else(|| lease.is_lost().then(|| lost_why(store, &lease)))
        // The wrapper was frozen past the guardian's deadline (SIGSTOP): the
        // guardian may have killed the command, and a renewal since proves
        // nothing about the time in between.
        .or_else(|| guard.passed().then_some(Stop::Frozen));
    match stop {
        None => {
            release(config, store, &lease, reporter, clock, Some(exit));
            report(Event::Finished {
                job: JOB,
                client: key.clone(),
            });
            exit.code()
        }
        Some(stop) => {
            let why = stop.why(config);
            if stop == Stop::Revoked {
                let _ = free_revoked(store.as_ref(), lease.key(), lease.owner(), lease.fence());
            } else if matches!(stop, Stop::NotRenewed | Stop::Frozen) {
                // The store may be back: give the lock back rather than make the
                // next holder wait out the lease.
                let _ = lease.release(0);
            }
            let _ = history::record_ended(
                store.as_ref(),
                lease.key(),
                lease.fence(),
                stop.history_word(),
                now_ms(),
                Some(&exit.describe()),
            );
            report(Event::Fenced {
                job: JOB,
                client: key.clone(),
                reason: why.clone(),
            });
            say(
                Level::Error,
                &format!(
                    "{key}: {why}; the command was stopped ({})",
                    exit.describe()
                ),
            );
            EX_LOST
        }
    }
}

/// A thread that says when the command has ended (without reaping it).
fn watch_exit(pid: u32) -> Receiver<()> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = thread::Builder::new()
        .name("wait-command".into())
        .spawn(move || {
            let _ = child::wait_exited(pid);
            let _ = tx.send(());
        });
    if spawned.is_err() {
        // Without the waiter the loop would never learn of the exit; the channel
        // closing says "ended", and the loop's reap then blocks until it has.
    }
    rx
}

/// When the guardian kills the command unless told otherwise: the lease's end
/// less half the margin, moved on after every renewal.
struct GuardClock {
    slack: Duration,
    until: Instant,
}

impl GuardClock {
    fn new(slack: Duration) -> GuardClock {
        GuardClock {
            slack,
            until: Instant::now(),
        }
    }

    /// Tells the guardian the deadline `lease` allows now.
    fn tell(&mut self, guardian: &mut Guardian, lease: &Lease) {
        let left = lease.valid_for().saturating_sub(self.slack);
        self.until = Instant::now() + left;
        let _ = guardian.deadline(left);
    }

    /// Whether the deadline last told has passed.
    fn passed(&self) -> bool {
        Instant::now() >= self.until
    }
}

/// What the loop while the command runs works with.
struct Watched<'a> {
    config: &'a RunConfig,
    store: &'a Arc<dyn Store>,
    lease: &'a Lease,
    running: &'a Running,
    guardian: &'a mut Guardian,
    guard: &'a mut GuardClock,
    reporter: &'a Reporter,
    clock: &'a Clock,
}

impl Watched<'_> {
    /// Signals the command's group and records it.
    fn signal(&self, sig: Signal, why: &str) {
        self.running.signal_group(sig);
        self.reporter.report(
            self.clock.now(),
            Event::CommandSignalled {
                job: JOB,
                client: self.config.key.clone(),
                signal: signal_name(sig.as_raw()).into(),
                why: why.into(),
            },
        );
    }

    /// Whether the wrapper must stop the command now, and why.
    fn must_stop(&self, displaced: bool) -> Option<Stop> {
        if self.lease.is_lost() || displaced {
            Some(lost_why_within(
                self.store,
                self.lease,
                self.config.margin(),
            ))
        } else if self.guard.passed() {
            Some(Stop::Frozen)
        } else if self.lease.valid_for() <= self.config.grace + self.config.margin() {
            Some(Stop::NotRenewed)
        } else {
            None
        }
    }

    /// Runs until the command has ended; returns why the wrapper stopped it, if
    /// it did.
    fn watch(
        &mut self,
        signals: &Signals,
        beats: &Receiver<()>,
        exited: &Receiver<()>,
        displaced: &Receiver<()>,
    ) -> Option<Stop> {
        let mut gone = false;
        // It fires once; after that its sender is gone, and a closed channel
        // would be ready for ever.
        let mut displaced = displaced.clone();
        let mut stopping: Option<(Stop, Instant)> = None;
        let mut killed = false;
        // Even with no event the loop looks at the lease this often (a lost lease
        // leaves the heartbeat silently).
        let tick = Duration::from_millis(100);
        // A channel whose sender is gone (the heartbeat thread ends when a renewal
        // finds the lease lost) is ready at once for ever: it is swapped for one
        // that never is, so that the loop neither spins nor reads the closing as
        // a renewal.
        let (mut signals, mut beats) = (signals.rx.clone(), beats.clone());
        loop {
            select! {
                recv(exited) -> _ => return stopping.map(|(s, _)| s),
                recv(signals) -> sig => match sig {
                    Ok(sig) => {
                        if let Some(s) = Signal::from_named_raw(sig) {
                            self.signal(s, "forwarded");
                        }
                    }
                    Err(_) => signals = never(),
                },
                recv(beats) -> beat => match beat {
                    Ok(()) => {
                        if stopping.is_none() && !self.guard.passed() {
                            self.guard.tell(self.guardian, self.lease);
                        }
                    }
                    Err(_) => beats = never(),
                },
                recv(displaced) -> _ => {
                    gone = true;
                    displaced = never();
                }
                default(tick) => {}
            }
            if stopping.is_none()
                && let Some(stop) = self.must_stop(gone)
            {
                let why = stop.why(self.config);
                if matches!(stop, Stop::TakenOver(_)) || self.guard.passed() {
                    // Somebody else may already be running: no grace.
                    self.signal(Signal::KILL, &why);
                    killed = true;
                } else {
                    self.signal(Signal::TERM, &why);
                }
                stopping = Some((stop, Instant::now() + self.config.grace));
            }
            if let Some((_, kill_at)) = &stopping
                && !killed
                && Instant::now() >= *kill_at
            {
                self.signal(Signal::KILL, "the grace ran out");
                killed = true;
            }
        }
    }
}

/// Releases after the command ended on its own, recording how it ended.
fn release(
    config: &RunConfig,
    store: &Arc<dyn Store>,
    lease: &Lease,
    reporter: &Reporter,
    clock: &Clock,
    exit: Option<Exit>,
) {
    let committed = 0;
    reporter.report(
        clock.now(),
        Event::Released {
            job: JOB,
            client: config.key.clone(),
            fence: lease.fence(),
            committed,
        },
    );
    let mut released = lease.release(committed);
    if released.is_err() {
        released = lease.release(committed);
    }
    let exit = exit.map(Exit::describe);
    match released {
        Ok(true) => {
            let _ = history::record_ended(
                store.as_ref(),
                lease.key(),
                lease.fence(),
                "released",
                now_ms(),
                exit.as_deref(),
            );
        }
        Ok(false) => reporter.say(
            Level::Warn,
            &format!(
                "{}: the lock had been taken over by the time the command ended",
                config.key
            ),
        ),
        Err(e) => reporter.say(
            Level::Warn,
            &format!(
                "{}: cannot release the lock ({e}); it frees itself when its lease runs out",
                config.key
            ),
        ),
    }
}
