//! The live view's looks, on a thread of their own: a store that hangs holds up
//! this thread (each read gives up after the store's bound, `store::bounded`),
//! never the keys, so `q` quits at any moment.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::{LockView, Watcher};
use crate::lock::history::now_ms;
use crate::store::StoreError;

/// One look, as the looking thread reports it.
pub(super) struct Looked {
    /// When the look was sent (wall clock, ms since the Unix epoch).
    pub at_ms: u64,
    /// What it found.
    pub result: Result<Vec<LockView>, StoreError>,
}

/// Starts looking every `interval` (from the start of one look to the next); the
/// thread ends once the receiver is gone.
pub(super) fn spawn(mut watcher: Watcher, interval: Duration) -> io::Result<Receiver<Looked>> {
    // One look in hand at most: a slow screen never piles up stale looks.
    let (tx, rx) = crossbeam_channel::bounded(1);
    thread::Builder::new()
        .name("watch-looks".into())
        .spawn(move || {
            loop {
                let (at_ms, sent) = (now_ms(), Instant::now());
                let result = watcher.look();
                if tx.send(Looked { at_ms, result }).is_err() {
                    return;
                }
                // Pacing, not synchronisation: the next look is due `interval` after
                // this one was sent.
                thread::sleep(interval.saturating_sub(sent.elapsed()));
            }
        })?;
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use serde_json::{Value, json};

    use super::*;
    use crate::store::bounded::Bounded;
    use crate::store::{OpCounts, Store};
    use crate::watch::state::Shown;

    /// A store with one lock whose reads hang, while `hang` is set, until it is
    /// cleared: a server that accepts and stops answering, then comes back.
    struct Hanging {
        hang: Arc<AtomicBool>,
    }

    impl Store for Hanging {
        fn name(&self) -> &str {
            "hanging"
        }
        fn insert_one(&self, _: Value) -> Result<(), StoreError> {
            Err(StoreError::Invalid("read only".into()))
        }
        fn insert_many(&self, _: Vec<Value>) -> Result<(), StoreError> {
            Err(StoreError::Invalid("read only".into()))
        }
        fn find_one(&self, _: &Value) -> Result<Option<Value>, StoreError> {
            Ok(None)
        }
        fn find_many(&self, _: &Value) -> Result<Vec<Value>, StoreError> {
            while self.hang.load(Ordering::SeqCst) {
                thread::park_timeout(Duration::from_millis(10));
            }
            let lock = json!({"_id": "lock:worker:acme", "owner": "w-1", "fence": 3,
                "heartbeat": 1, "committed": 0, "lease_real_ms": 3000});
            Ok(vec![lock])
        }
        fn count(&self, _: &Value) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn update_one(&self, _: &Value, _: &Value) -> Result<Option<Value>, StoreError> {
            Err(StoreError::Invalid("read only".into()))
        }
        fn update_many(&self, _: &Value, _: &Value) -> Result<u64, StoreError> {
            Err(StoreError::Invalid("read only".into()))
        }
        fn delete_one(&self, _: &Value) -> Result<u64, StoreError> {
            Err(StoreError::Invalid("read only".into()))
        }
        fn delete_many(&self, _: &Value) -> Result<u64, StoreError> {
            Err(StoreError::Invalid("read only".into()))
        }
        fn op_counts(&self) -> OpCounts {
            OpCounts::default()
        }
        fn for_caller(&self, _: u64) -> Arc<dyn Store> {
            Arc::new(Hanging {
                hang: self.hang.clone(),
            })
        }
    }

    /// Generous: a busy machine must not fail this.
    const PATIENCE: Duration = Duration::from_secs(30);

    fn next(rx: &Receiver<Looked>, shown: &mut Shown) {
        match rx.recv_timeout(PATIENCE) {
            Ok(l) => shown.apply(l.at_ms, l.result),
            Err(e) => panic!("no look within {PATIENCE:?}: {e}"),
        }
    }

    #[test]
    fn a_store_that_stops_answering_is_reported_and_its_recovery_seen() {
        let hang = Arc::new(AtomicBool::new(false));
        let store = Bounded::new(
            Arc::new(Hanging { hang: hang.clone() }),
            Duration::from_millis(100),
        );
        let watcher = Watcher::new(Arc::new(store), Duration::from_secs(3));
        let rx = match spawn(watcher, Duration::from_millis(10)) {
            Ok(rx) => rx,
            Err(e) => panic!("cannot start looking: {e}"),
        };
        let mut shown = Shown::default();
        next(&rx, &mut shown);
        assert_eq!(shown.views.len(), 1);
        hang.store(true, Ordering::SeqCst);
        // The looks that were under way may still answer; the first hung one fails
        // after the bound, and the table stays.
        while shown.trouble.is_none() {
            next(&rx, &mut shown);
        }
        let error = shown
            .trouble
            .as_ref()
            .map(|t| t.error.clone())
            .unwrap_or_default();
        assert!(error.contains("did not answer within"), "{error}");
        assert_eq!(shown.views.len(), 1, "the last table is kept");
        hang.store(false, Ordering::SeqCst);
        while shown.trouble.is_some() {
            next(&rx, &mut shown);
        }
        assert_eq!(shown.views[0].key, "lock:worker:acme");
    }
}
