//! `joblock run`: any command under the lock.
//!
//! The wrapper acquires the lock with the same protocol as the demo's jobs, runs
//! the command directly (no shell) in its own process group with the fence in its
//! environment, renews the lease while it runs, and releases when it ends. The
//! command never runs without the lock:
//!
//! * the wrapper's watchdog stops it (SIGTERM, SIGKILL after the grace) when the
//!   lease has not been renewed within a margin of its end, or a renewal finds it
//!   revoked, and kills it at once when it finds the lease taken over;
//! * a guardian process ([`guard`]) kills its group when the wrapper dies or is
//!   frozen past the lease;
//! * the kernel kills it if the wrapper's main thread dies (parent-death signal);
//! * every store call is bounded in time ([`bounded`]), so a hung store cannot
//!   stall the wrapper.

pub mod child;
pub mod guard;
mod hold;
mod lookout;
mod open;
pub mod report;
mod signals;
mod stop;
mod wait;

use std::ffi::OsString;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::lock::history::{self, Entry};
use crate::lock::{Acquisition, Holder, Lease, Via};
use crate::store::StoreUrl;
use report::{Level, LogFormat, Reporter};

/// The store could not be reached (sysexits EX_UNAVAILABLE): the command never ran.
pub const EX_UNAVAILABLE: u8 = 69;
/// Bad data in the store (EX_DATAERR): the lock document is not one.
pub const EX_DATAERR: u8 = 65;
/// The wrapper could not start what it needs (EX_OSERR): the guardian.
pub const EX_OSERR: u8 = 71;
/// The lock was held and the wrapper did not wait (EX_TEMPFAIL), by default.
pub const EX_CONFLICT: u8 = 75;
/// The lease was lost while the command ran (EX_PROTOCOL): it was stopped.
pub const EX_LOST: u8 = 76;
/// The command could not be executed (as shells report it).
pub const EX_NOEXEC: u8 = 126;
/// The command was not found (as shells report it).
pub const EX_NOTFOUND: u8 = 127;

/// The job number a wrapper's events carry: one wrapper, one job.
pub const JOB: u32 = 1;

/// What to do when somebody else holds the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Wait for it (up to `--wait-timeout`).
    Wait,
    /// Exit 0 at once, saying who holds it.
    Skip,
    /// Exit with the conflict code at once.
    Fail,
}

/// Everything `joblock run` was asked to do.
pub struct RunConfig {
    /// Where the lock lives.
    pub store: StoreUrl,
    /// The namespace in the store.
    pub namespace: String,
    /// The user's key, e.g. `worker:acme` (the document is `lock:worker:acme`).
    pub key: String,
    /// The command and its arguments.
    pub argv: Vec<OsString>,
    /// What to do when the lock is held.
    pub on_conflict: OnConflict,
    /// How long to wait at most (`None`: for ever).
    pub wait_timeout: Option<Duration>,
    /// The exit code for "held, did not wait" and "waited too long".
    pub conflict_exit: u8,
    /// The lease.
    pub lease: Duration,
    /// How long the command gets between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Pause between attempts while waiting (stores that notify wake sooner).
    pub retry: Duration,
    /// The bound on every store call.
    pub store_timeout: Duration,
    /// Where to record the lifecycle as JSON lines.
    pub events: Option<File>,
    /// How stderr lines look.
    pub log: LogFormat,
    /// Say what happens even when all goes well.
    pub verbose: bool,
}

impl RunConfig {
    /// The margin kept before the lease's end: the command is stopped (SIGKILL
    /// included) this long before a waiter could take the lock over.
    pub fn margin(&self) -> Duration {
        (self.lease / 10)
            .max(Duration::from_millis(50))
            .min(self.lease / 4)
    }

    /// How often the lease is renewed: six times a lease, so that a couple of
    /// failed renewals are ridden out before the watchdog must act.
    pub fn renew_every(&self) -> Duration {
        self.lease / 6
    }

    /// The parameters a recording's header names (the flags, underscored; seconds
    /// as numbers). The store URL has no password.
    pub fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let on_conflict = match self.on_conflict {
            OnConflict::Wait => "wait",
            OnConflict::Skip => "skip",
            OnConflict::Fail => "fail",
        };
        let command: Vec<String> = self
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let serde_json::Value::Object(params) = serde_json::json!({
            "key": self.key,
            "lease": self.lease.as_secs_f64(),
            "grace": self.grace.as_secs_f64(),
            "on_conflict": on_conflict,
            "wait_timeout": self.wait_timeout.map(|d| d.as_secs_f64()),
            "conflict_exit_code": self.conflict_exit,
            "retry": self.retry.as_secs_f64(),
            "store_timeout": self.store_timeout.as_secs_f64(),
            "store": self.store.redacted(),
            "namespace": self.namespace,
            "command": command,
        }) else {
            return serde_json::Map::new();
        };
        params
    }

    /// Checks the timing makes sense; the error names the values.
    pub fn check(&self) -> Result<(), String> {
        if self.argv.is_empty() {
            return Err("no command given: joblock run --key KEY -- COMMAND [ARGS...]".into());
        }
        if self.grace > self.lease / 2 {
            return Err(format!(
                "--grace {} must be at most half of --lease {}: the command must be dead before the lease can be taken over",
                self.grace.as_secs_f64(),
                self.lease.as_secs_f64()
            ));
        }
        if self.lease < Duration::from_millis(300) {
            return Err(format!(
                "--lease {} is too short: use at least 0.3 s",
                self.lease.as_secs_f64()
            ));
        }
        crate::lock::state::check_key(&self.key)
    }
}

/// What every stage of a wrapper's run works with.
#[derive(Clone, Copy)]
pub(crate) struct Wrapper<'a> {
    config: &'a RunConfig,
    store: &'a Arc<dyn crate::store::Store>,
    clock: &'a Clock,
    me: &'a Me,
    reporter: &'a Arc<Reporter>,
    signals: &'a signals::Signals,
}

/// The wrapper's identity: owner id and the description stored with the lock.
struct Me {
    owner: String,
    holder: Holder,
}

impl Me {
    fn new(argv: &[OsString]) -> Me {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let pid = std::process::id();
        let owner = format!("run:{host}:{pid}:{:08x}", rand::random::<u32>());
        let holder = Holder {
            owner: owner.clone(),
            host,
            pid,
            command: argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            job: None,
            started_at_ms: history::now_ms(),
        };
        Me { owner, holder }
    }
}

/// Runs the command under the lock; returns the wrapper's exit code.
pub fn run(config: RunConfig) -> u8 {
    let reporter = Arc::new(Reporter::new(
        config.log,
        config.events.as_ref().and_then(|f| f.try_clone().ok()),
        &config.key,
        config.verbose,
    ));
    let code = run_with(&config, &reporter);
    reporter.flush();
    code
}

fn run_with(config: &RunConfig, reporter: &Arc<Reporter>) -> u8 {
    let clock = Clock::real(1.0);
    let me = Me::new(&config.argv);
    // Only a run that acquires needs it; started first, while this process still
    // has one thread, it is a cheap fork (and its start-up overlaps the rest).
    let guardian = guard::Guardian::start_soon();
    let signals = match signals::Signals::catch() {
        Ok(s) => s,
        Err(e) => {
            reporter.say(Level::Error, &format!("cannot catch signals: {e}"));
            return EX_OSERR;
        }
    };
    let store = match open::open(config, signals.interrupt()) {
        Ok(s) => s,
        Err(msg) => {
            reporter.say(Level::Error, &msg);
            return EX_UNAVAILABLE;
        }
    };
    let (lease, acquisition) = match wait::acquire(config, &store, &clock, &me, reporter, &signals)
    {
        Ok(got) => got,
        Err(code) => return code,
    };
    let w = Wrapper {
        config,
        store: &store,
        clock: &clock,
        me: &me,
        reporter,
        signals: &signals,
    };
    hold::hold(&w, guardian, (lease, &acquisition))
}

/// Writes the acquisition into the key's history (best effort).
fn record_acquired(
    config: &RunConfig,
    store: &Arc<dyn crate::store::Store>,
    me: &Me,
    lease: &Lease,
    acq: &Acquisition,
    reporter: &Reporter,
) {
    let (via, from_fence) = match &acq.via {
        Via::Created => ("created", None),
        Via::Free => ("free", None),
        Via::Takeover { fence, .. } => ("takeover", Some(*fence)),
    };
    let entry = Entry {
        key: lease.key().to_string(),
        fence: lease.fence(),
        owner: me.owner.clone(),
        holder: Some(me.holder.clone()),
        via: via.into(),
        from_fence,
        acquired_at_ms: history::now_ms(),
        ended: None,
        ended_at_ms: None,
        exit: None,
    };
    if let Err(e) = history::record_acquired(store.as_ref(), &entry) {
        reporter.say(
            Level::Warn,
            &format!("{}: history not recorded: {e}", config.key),
        );
    }
}
