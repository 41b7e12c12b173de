//! Helpers of the `joblock run` tests (`tests/run_*.rs`): the stores every test
//! runs against (a list of makers, [`stores`]), the tiny python command the
//! wrapper runs ([`child`]: it appends timestamped lines to a log), the real
//! wrapper as a child process ([`wrapper`]), and polling with deadlines instead of
//! sleeps.

mod child;
mod stores;
mod wrapper;

// Each test crate uses only some of these.
#[allow(unused_imports)]
pub use child::{Line, Workdir};
#[allow(unused_imports)]
pub use stores::{Maker, STORES, Tcp, TestStore, each_networked_store, each_store};
#[allow(unused_imports)]
pub use wrapper::{Done, Run, Wrapper, joblock, json_lines, types};

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::process::{Pid, Signal, kill_process};

/// How long any awaited condition may take: generous, so that a slow, busy
/// machine never fails a test that would pass on a fast one.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often a condition is looked at.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// Polls `f` every 20 ms until it gives `Some`, for at most [`PATIENCE`]; panics
/// naming `what` if it never does.
pub fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        thread::sleep(POLL);
    }
}

/// Wall-clock nanoseconds since the epoch: what the command's log lines carry.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_nanos()
}

/// Whether process `pid` is gone: no `/proc` entry, or a zombie nobody reaped yet.
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S ...`: the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Sends `signal` to process `pid`.
pub fn send(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(pid as i32).expect("a real pid");
    kill_process(pid, signal).unwrap_or_else(|e| panic!("kill {signal:?} {pid:?}: {e}"));
}
