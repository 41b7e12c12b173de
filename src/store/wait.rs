//! What the stores that notify (Redis, SQLite) share about a wait for a change: its
//! deadline, and one waiter at a time on a handle's waiting connection.

use std::sync::{Mutex, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

/// The instant `timeout` from now; a timeout too long to add (`Duration::MAX`)
/// waits a century instead.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let start = Instant::now();
    start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Runs `wait` on a handle's waiting slot (its subscriber, its watcher) and returns
/// whether it saw a change.
///
/// When another thread of the handle is waiting in the slot, queueing behind its
/// wait could overrun this one's deadline, so this one sees no change. Without a
/// change this returns only at `deadline`: the caller re-reads at once after a
/// wait, so a broken or busy slot must never make it spin.
pub(crate) fn wait_in_slot<W>(
    slot: &Mutex<Option<W>>,
    deadline: Instant,
    wait: impl FnOnce(&mut Option<W>) -> bool,
) -> bool {
    let changed = match slot.try_lock() {
        Ok(mut guard) => wait(&mut guard),
        Err(TryLockError::Poisoned(p)) => wait(&mut p.into_inner()),
        Err(TryLockError::WouldBlock) => false,
    };
    if !changed {
        thread::sleep(deadline.saturating_duration_since(Instant::now()));
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_timeout_is_a_far_deadline_not_a_panic() {
        assert!(deadline_after(Duration::MAX) > Instant::now() + Duration::from_secs(3600));
    }

    #[test]
    fn a_busy_slot_is_no_change_and_a_change_returns_at_once() {
        let slot = Mutex::new(Some(()));
        let held = slot.lock().unwrap();
        let past = Instant::now();
        assert!(!wait_in_slot(&slot, past, |_| true));
        drop(held);
        let far = deadline_after(Duration::from_secs(3600));
        assert!(wait_in_slot(&slot, far, |s| s.is_some()));
    }
}
