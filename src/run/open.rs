//! Reaching the store before anything else happens: the open, bounded in time, so that a store that is down or hung makes the wrapper
//! exit 69 without ever starting the command.

use std::sync::Arc;
use std::thread;

use crossbeam_channel::bounded;

use super::RunConfig;
use super::bounded::{Bounded, Interrupt, secs};
use crate::clock::Clock;
use crate::store::{MemoryConfig, Store, open_store};

/// Opens the store with every call bounded (and its waits for a change ended by
/// `interrupt`), so that a failed first read is exit 69.
pub fn open(config: &RunConfig, interrupt: Interrupt) -> Result<Arc<dyn Store>, String> {
    let (tx, rx) = bounded(1);
    let (url, ns) = (config.store.clone(), config.namespace.clone());
    thread::Builder::new()
        .name("store-open".into())
        .spawn(move || {
            let opened = open_store(&url, &ns, &Clock::real(1.0), MemoryConfig::default(), 0);
            let _ = tx.send(opened);
        })
        .map_err(|e| format!("cannot start opening the store: {e}"))?;
    let kind = config.store.kind();
    let inner = match rx.recv_timeout(config.store_timeout) {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => return Err(format!("cannot open the {kind} store: {e}")),
        Err(_) => {
            return Err(format!(
                "the {kind} store did not answer within {} (--store-timeout)",
                secs(config.store_timeout)
            ));
        }
    };
    // The first attempt to acquire is the first read: a store error there (before
    // anything succeeded) ends the run with 69 too (`wait.rs`).
    Ok(Arc::new(
        Bounded::new(inner, config.store_timeout).interruptible(interrupt),
    ))
}
