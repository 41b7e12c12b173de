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
