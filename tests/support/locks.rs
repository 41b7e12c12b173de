//! Small helpers of the lock tests (`tests/lock.rs`, `tests/queue.rs`).

use std::sync::Arc;
use std::time::Duration;

use joblock::lock::{AcquireOutcome, Acquisition, Lease, Lock, LockError, Quiet, lock_key};

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The lock key every lock test fights over.
pub fn key() -> String {
    lock_key("worker", "client-1")
}

/// The outcome of `acquire`, which must be an acquisition.
pub fn acquired(outcome: Result<AcquireOutcome, LockError>) -> (Arc<Lease>, Acquisition) {
    match outcome.expect("acquire failed") {
        AcquireOutcome::Acquired(lease, acq) => (lease, acq),
        AcquireOutcome::GaveUp { attempts, waited } => {
            panic!("gave up after {attempts} attempts and {waited:?}")
        }
        AcquireOutcome::Aborted { attempts, waited } => {
            panic!("aborted after {attempts} attempts and {waited:?}")
        }
    }
}

/// Acquires as `owner`, waiting as long as the lock's config allows.
pub fn acquire(lock: &Lock, owner: &str) -> (Arc<Lease>, Acquisition) {
    acquired(lock.acquire(owner, &mut Quiet, &|| false))
}
