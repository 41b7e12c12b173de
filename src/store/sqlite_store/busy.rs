//! How a writer waits for the file's write lock while another connection holds it:
//! short sleeps, then failure after [`BUSY_TIMEOUT`].

use std::thread;
use std::time::{Duration, Instant};

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
        thread::sleep(if tries < QUICK_TRIES {
            QUICK_SLEEP
        } else {
            SLOW_SLEEP
        });
        true
    }
}
