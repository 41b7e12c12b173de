//! `joblock watch`: the locks in a store, whoever runs their workers.
//!
//! The watcher only reads, with the same exact-match operations the lock uses plus a
//! `find_many({})` to list documents. It judges a lease the way a waiter does: by
//! how long the (fence, heartbeat) pair has stood still on its *own* clock, never by
//! comparing timestamps written by other machines, against the holder's own lease
//! when the document records one (`--lease` otherwise). A holder that is a
//! `joblock run` wrapper is shown with its host, pid and command.

mod live;

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use live::live;

use crate::lock::revoke::is_revoked;
use crate::lock::state::holders_lease;
use crate::lock::{self, Holder, LeaseState, Stillness};
use crate::sanitize::printable;
use crate::store::bounded::{DEFAULT_LIMIT, open_within};
use crate::store::{Store, StoreError, StoreUrl, open_store_read_only};

/// How to watch.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workers' namespace.
    pub namespace: String,
    /// Time between two looks.
    pub interval: Duration,
    /// The workers' lease, to tell a live holder from a silent one.
    pub lease: Duration,
}

/// One lock key as the watcher sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockView {
    /// The lock key.
    pub key: String,
    /// Holder id, if held (a revoked holder's tombstone is `revoked:<owner>`).
    pub owner: Option<String>,
    /// Who holds it (host, pid, command, start), when a `joblock run` wrapper does.
    pub holder: Option<Holder>,
    /// The lease the holder keeps, in ms, if its document records one; the state
    /// is judged by it (by `--lease` otherwise).
    pub lease_ms: Option<u64>,
    /// Fence of the latest acquisition.
    pub fence: u64,
    /// The holder's heartbeat counter.
    pub heartbeat: u64,
    /// Output bytes committed by finished holders.
    pub committed: u64,
    /// Seconds the (fence, heartbeat) pair has stood still, as far as this watcher saw.
    pub unchanged_for: f64,
    /// `free`, `held` (heartbeat moving), `silent` (still for a while),
    /// `expired` (still for a whole lease: a waiter may take it over) or `revoked`
    /// (`joblock locks release`: held by a tombstone until its holder stops).
    pub state: String,
    /// Waiters that announced themselves (worker processes do).
    pub waiters: Vec<String>,
}

/// Remembers when each key's (fence, heartbeat) last changed, and each waiter's
/// `touched` counter, on this watcher's own clock.
pub struct Watcher {
    store: Arc<dyn Store>,
    lease: Duration,
    started: Instant,
    seen: HashMap<String, Option<Stillness>>,
    /// Per waiter announcement: how long its `touched` counter has stood still.
    waiter_seen: HashMap<String, Option<Stillness>>,
}

impl Watcher {
    /// A watcher on `store`.
    pub fn new(store: Arc<dyn Store>, lease: Duration) -> Watcher {
        Watcher {
            store,
            lease,
            started: Instant::now(),
            seen: HashMap::new(),
            waiter_seen: HashMap::new(),
        }
    }

    /// Reads every lock document once.
    pub fn look(&mut self) -> Result<Vec<LockView>, StoreError> {
        let survey = lock::survey(self.store.as_ref())?;
        let now = self.started.elapsed();
        let mut waiters: HashMap<String, Vec<String>> = HashMap::new();
        for w in survey.waiters {
            // A waiter that died leaves its announcement behind: count it only while
            // its `touched` counter keeps moving.
            let slot = self.waiter_seen.entry(w.id).or_default();
            if Stillness::observe(slot, 0, w.touched, now) < self.lease * 2 {
                waiters.entry(w.key).or_default().push(w.owner);
            }
        }
        let mut views = Vec::new();
        for doc in survey.locks {
            let slot = self.seen.entry(doc.key.clone()).or_default();
            let still = Stillness::observe(slot, doc.fence, doc.heartbeat, now);
            let lease = holders_lease(&doc, self.lease);
            let state = match doc.owner.as_deref() {
                Some(o) if is_revoked(o) => "revoked",
                _ => LeaseState::judge(doc.owner.is_some(), still, lease).name(),
            };
            views.push(LockView {
                waiters: waiters.remove(&doc.key).unwrap_or_default(),
                key: doc.key,
                holder: doc.holder,
                lease_ms: doc.lease_ms.filter(|_| doc.owner.is_some()),
                owner: doc.owner,
                fence: doc.fence,
                heartbeat: doc.heartbeat,
                committed: doc.committed,
                unchanged_for: still.as_secs_f64(),
                state: state.to_string(),
            });
        }
        views.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(views)
    }
}

/// Opens the store read-only: watching creates nothing (a namespace with no table
/// yet reads as empty) and can write nothing.
///
/// The open and every read are bounded in time: a server that never answers is
/// reported, not waited on.
fn open(url: &StoreUrl, options: &Options) -> Result<Arc<dyn Store>, StoreError> {
    let (u, ns) = (url.clone(), options.namespace.clone());
    let store = open_within(url.kind(), DEFAULT_LIMIT, move || {
        open_store_read_only(&u, &ns)
    })?;
    Ok(Arc::new(store))
}

/// Looks twice, a third of a lease apart, so a live heartbeat can be told from a
/// silent one; returns the second look.
pub fn once(url: &StoreUrl, options: &Options) -> Result<Vec<LockView>, StoreError> {
    let mut w = Watcher::new(open(url, options)?, options.lease);
    w.look()?;
    thread::sleep(options.lease / 3 + Duration::from_millis(50));
    w.look()
}

/// The text form of a look, one line per lock key. An empty or absent namespace
/// is named, so that a mistyped `--namespace` shows. A last `process` column
/// (host, pid, command) appears only when some holder is a `joblock run` wrapper.
pub fn write_text(views: &[LockView], namespace: &str, out: &mut dyn Write) -> io::Result<()> {
    if views.is_empty() {
        return writeln!(out, "no locks yet in namespace {}", printable(namespace));
    }
    let processes = views.iter().any(|v| v.holder.is_some());
    let header = format!(
        "{:<28} {:<9} {:<38} {:>6} {:>9} {:>9} {:>9}  waiters",
        "key", "state", "holder", "fence", "heartbeat", "still", "committed"
    );
    let width = header.len();
    writeln!(out, "{header}{}", if processes { "  process" } else { "" })?;
    for v in views {
        let line = format!(
            "{:<28} {:<9} {:<38} {:>6} {:>9} {:>8.1}s {:>9}  {}",
            printable(&v.key),
            printable(&v.state),
            printable(v.owner.as_deref().unwrap_or("-")),
            v.fence,
            v.heartbeat,
            v.unchanged_for,
            v.committed,
            v.waiters.len()
        );
        if processes {
            let p = v.holder.as_ref().map_or("-".to_string(), process);
            writeln!(out, "{line:<width$}  {p}")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// A wrapper's process for people, made printable: `host pid 42: python job.py`.
pub fn process(h: &Holder) -> String {
    printable(&format!("{} pid {}: {}", h.host, h.pid, h.command_line())).into_owned()
}

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Terminal(io::Error),
}
