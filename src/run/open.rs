//! Reaching the store before anything else happens: the open, bounded in time, so that a store that is down or hung makes the wrapper
//! exit 69 without ever starting the command.

use std::sync::Arc;

use super::RunConfig;
use crate::clock::Clock;
use crate::store::bounded::{Interrupt, open_within};
use crate::store::{MemoryConfig, Store, open_store};

/// Opens the store with every call bounded (and its waits for a change ended by
/// `interrupt`), so that a failed first read is exit 69.
pub fn open(config: &RunConfig, interrupt: Interrupt) -> Result<Arc<dyn Store>, String> {
    let (url, ns) = (config.store.clone(), config.namespace.clone());
    let kind = config.store.kind();
    let store = open_within(kind, config.store_timeout, move || {
        open_store(&url, &ns, &Clock::real(1.0), MemoryConfig::default(), 0)
    })
    .map_err(|e| format!("cannot open the {kind} store: {e} (--store-timeout)"))?;
    // The first attempt to acquire is the first read: a store error there (before
    // anything succeeded) ends the run with 69 too (`wait.rs`).
    Ok(Arc::new(store.interruptible(interrupt)))
}
