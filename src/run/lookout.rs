//! Noticing at once that the lock is no longer ours, on a store that notifies.
//!
//! A renewal finds a revocation or a takeover, but renewals come only every
//! `lease / 6`. On a store with change notification a lookout thread waits for
//! the lock document to change and reads it: if the owner or fence is no longer
//! ours, the wrapper acts within milliseconds. It uses a store handle of its own,
//! so its waits never delay a renewal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, bounded, never};

use crate::lock::state::read_doc;
use crate::store::Store;

/// A running lookout; it ends when dropped (within one wait).
pub struct Lookout {
    stop: Arc<AtomicBool>,
    /// Ready (once) when the document shows somebody else's owner or fence.
    pub displaced: Receiver<()>,
}

impl Lookout {
    /// Starts watching `key` for a change away from (`owner`, `fence`); a lookout
    /// that never fires on a store without notifications.
    pub fn start(
        store: &Arc<dyn Store>,
        key: &str,
        owner: &str,
        fence: u64,
        every: Duration,
    ) -> Lookout {
        let stop = Arc::new(AtomicBool::new(false));
        if !store.notifies() {
            return Lookout {
                stop,
                displaced: never(),
            };
        }
        let (tx, rx) = bounded(1);
        // The handle (a connection of its own) is opened on the lookout's thread:
        // a short command need not wait for it.
        let (store, key, owner, halt) = (
            store.clone(),
            key.to_string(),
            owner.to_string(),
            stop.clone(),
        );
        let spawned = thread::Builder::new()
            .name("lookout".into())
            .spawn(move || {
                let store = store.for_caller(rand::random());
                while !halt.load(Ordering::SeqCst) {
                    if !store.wait_for_change(&key, every) {
                        continue;
                    }
                    if let Ok(Some(doc)) = read_doc(store.as_ref(), &key)
                        && (doc.owner.as_deref() != Some(owner.as_str()) || doc.fence != fence)
                    {
                        let _ = tx.send(());
                        return;
                    }
                }
            });
        let displaced = if spawned.is_ok() { rx } else { never() };
        Lookout { stop, displaced }
    }
}

impl Drop for Lookout {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
