//! Reaching the store before anything else happens: the open and a first read,
//! both bounded in time, so that a store that is down or hung makes the wrapper
//! exit 69 without ever starting the command.

use std::sync::Arc;
use std::thread;

use crossbeam_channel::bounded;

use super::RunConfig;
use super::bounded::{Bounded, Interrupt, secs};
use crate::clock::Clock;
use crate::lock::LockError;
use crate::lock::state::{lock_id, read_doc};
use crate::store::{MemoryConfig, Store, open_store};

/// Opens the store with every call bounded (and its waits for a change ended by
/// `interrupt`), and reads the lock document once.
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
    let store: Arc<dyn Store> =
        Arc::new(Bounded::new(inner, config.store_timeout).interruptible(interrupt));
    // A malformed document is not the store's fault: acquiring reports it.
    if let Err(LockError::Store(e)) = read_doc(store.as_ref(), &lock_id(&config.key)) {
        return Err(format!(
            "cannot read the lock {} in the {kind} store: {e}",
            config.key
        ));
    }
    Ok(store)
}
