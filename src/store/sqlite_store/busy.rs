//! How a writer waits for the file's write lock while another connection holds it:
//! short sleeps, then failure after [`BUSY_TIMEOUT`].

use std::thread;
use std::time::{Duration, Instant};

use rusqlite::ErrorCode;

/// How long a write waits for another connection's write lock before it fails
/// `Unavailable`: far longer than any joblock transaction holds it (microseconds),
/// short enough that a process stuck inside one is reported rather than waited on.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a writer sleeps between its first tries at a taken write lock, and
/// after [`QUICK_TRIES`] of them. SQLite's own busy timeout sleeps 1, 2, 5, 10, ...
/// up to 100 ms, far longer than joblock's transactions hold the lock, which would
/// make a contended handoff wait milliseconds for a lock free after microseconds.
const QUICK_SLEEP: Duration = Duration::from_micros(50);
const SLOW_SLEEP: Duration = Duration::from_millis(1);
const QUICK_TRIES: i32 = 100;

/// A busy handler for one connection: retry after short sleeps until
/// [`BUSY_TIMEOUT`] of real time has passed since this lock attempt's first try.
pub(super) fn patient() -> impl FnMut(i32) -> bool + Send + 'static {
    let mut first_try = Instant::now();
    move |tries| {
        // SQLite counts the tries of one attempt from 0.
        if tries == 0 {
            first_try = Instant::now();
        }
        if first_try.elapsed() >= BUSY_TIMEOUT {
            return false;
        }
        nap(tries);
        true
    }
}

/// The sleep before try number `tries + 1` at a taken lock.
fn nap(tries: i32) {
    thread::sleep(if tries < QUICK_TRIES {
        QUICK_SLEEP
    } else {
        SLOW_SLEEP
    });
}

/// Runs `attempt` again while it fails with `SQLITE_BUSY`, for up to [`BUSY_TIMEOUT`].
///
/// For the statements SQLite will not wait for itself: when waiting could deadlock
/// (a connection holding a read lock wants to write while another does the same),
/// it returns `SQLITE_BUSY` at once without calling the busy handler. Switching a
/// new file to WAL is such a statement, and every process of a fleet opening the
/// default store for the first time runs it at once; the loser simply tries again.
pub(super) fn retry_busy<T>(
    mut attempt: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let first_try = Instant::now();
    let mut tries = 0;
    loop {
        match attempt() {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && first_try.elapsed() < BUSY_TIMEOUT =>
            {
                nap(tries);
                tries += 1;
            }
            result => return result,
        }
    }
}
