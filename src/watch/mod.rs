//! `joblock watch`: the locks in a store, whoever runs their workers.
//!
//! The watcher only reads, with one `find_many({})` per look (the lock documents,
//! the waiters' announcements and the keys' history documents all come back from
//! it). It judges a lease the way a waiter does: by how long the (fence, heartbeat)
//! pair has stood still on its *own* clock, never by comparing timestamps written
//! by other machines, against the holder's own lease in real time when the document
//! records one (`lease_real_ms`, else `lease_ms`, else `--lease`).
//!
//! * [`judge`]: the [`Watcher`], which turns looks into views (states, history).
//! * [`history`]: each key's recent acquisitions, stored and seen.
//! * [`output`](mod@output): whether each lock's output file agrees with its document.
//! * [`once`](mod@once): `--once`, which keeps looking until every held key is told.
//! * [`text`]: the `--once` text form.
//! * [`look`], [`state`], [`draw`], [`live`](mod@live): the live view, whose looks
//!   run on a thread of their own so that a store that hangs never holds up the keys.

mod draw;
mod history;
mod judge;
mod live;
mod look;
mod once;
mod output;
mod state;
mod text;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use history::HistoryLine;
pub use judge::Watcher;
pub use live::live;
pub use once::{ONCE_LIMIT, once};
pub use output::OutputView;
pub use text::{output_note, process, write_text};

use crate::lock::Holder;
use crate::store::bounded::{DEFAULT_LIMIT, open_within};
use crate::store::{Store, StoreError, StoreUrl, open_store_read_only};

/// How to watch.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workers' namespace.
    pub namespace: String,
    /// Time between two looks.
    pub interval: Duration,
    /// The lease to judge a holder by when its document records none.
    pub lease: Duration,
}

/// One lock key as the watcher sees it. The JSON field names are an interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LockView {
    /// The lock key.
    pub key: String,
    /// Holder id, if held (a revoked holder's tombstone is `revoked:<owner>`).
    pub owner: Option<String>,
    /// Who holds it: host and pid, with the command of a `joblock run` wrapper or
    /// the job number of an engine's job.
    pub holder: Option<Holder>,
    /// The lease the holder keeps, in ms, as its document records it (in scenario
    /// time for an engine's job).
    pub lease_ms: Option<u64>,
    /// The lease the state is judged by, in real ms: the holder's own in real time
    /// (`lease_real_ms` of its document), else its `lease_ms`, else `--lease`;
    /// `null` when nobody holds the key.
    pub lease_real_ms: Option<u64>,
    /// Fence of the latest acquisition.
    pub fence: u64,
    /// The holder's heartbeat counter.
    pub heartbeat: u64,
    /// Output bytes committed by finished holders.
    pub committed: u64,
    /// Seconds the (fence, heartbeat) pair has stood still, as far as this watcher saw.
    pub unchanged_for: f64,
    /// `free`, `held` (heartbeat moving), `silent` (still for half a lease),
    /// `expired` (still for a whole lease: a waiter may take it over) or `revoked`
    /// (`joblock locks release`: held by a tombstone until its holder stops).
    pub state: String,
    /// Waiters that announced themselves (worker processes do).
    pub waiters: Vec<String>,
    /// The key's recent acquisitions, oldest first: its history documents (written
    /// by `joblock run`) and the fence changes this watcher saw itself.
    pub history: Vec<HistoryLine>,
    /// Whether the output the document commits to agrees with it on this machine
    /// (`null`: the document names no output, as a `joblock run` key's).
    pub output: Option<OutputView>,
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

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Terminal(io::Error),
    /// The thread that reads the store could not be started.
    #[error("cannot start reading the store: {0}")]
    Thread(io::Error),
}
