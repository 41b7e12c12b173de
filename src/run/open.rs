//! Reaching the store before anything else happens: the open, bounded in time, so that a store that is down or hung makes the wrapper
//! exit 69 without ever starting the command.

use std::sync::Arc;
use std::time::Duration;

use super::RunConfig;
use crate::clock::Clock;
use crate::store::bounded::{Bounded, Interrupt, open_in_time};
use crate::store::{Limits, MemoryConfig, Store, open_store_within};

/// How much longer than `--store-timeout` the backstop gives an open: a networked
/// store gives up on its own at `--store-timeout`, with the line that names the
/// server, before the backstop's more general one.
const BACKSTOP_GRACE: Duration = Duration::from_millis(500);

/// Opens the store with every call bounded (and its waits for a change ended by
/// `interrupt`), so that a failed first read is exit 69.
///
/// A networked store bounds its own sockets: the open by `--store-timeout`, each
/// call by `--store-timeout` or a third of the lease if that is shorter (a
/// renewal must fail in time to be retried before the lease runs out). The
/// `Bounded` wrapper around it keeps every call of every store within
/// `--store-timeout` (SQLite's calls have no deadline of their own).
pub fn open(config: &RunConfig, interrupt: Interrupt) -> Result<Arc<dyn Store>, String> {
    let (url, ns) = (config.store.clone(), config.namespace.clone());
    let kind = config.store.kind();
    let clock = Clock::real(1.0);
    let limits =
        Limits::new(config.store_timeout, config.store_timeout).holding(&clock, config.lease);
    let backstop = config.store_timeout.saturating_add(BACKSTOP_GRACE);
    let store = open_in_time(kind, backstop, move || {
        open_store_within(&url, &ns, &clock, MemoryConfig::default(), 0, &limits)
    })
    .map_err(|e| format!("cannot open the {kind} store: {e} (--store-timeout)"))?;
    // The first attempt to acquire is the first read: a store error there (before
    // anything succeeded) ends the run with 69 too (`wait.rs`).
    Ok(Arc::new(
        Bounded::new(store, config.store_timeout).interruptible(interrupt),
    ))
}
