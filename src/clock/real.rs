//! Real mode's sleep: scenario time follows wall time times the speed, so a sleep
//! waits on the clock's condition variable for the matching stretch of wall time.

use std::thread;
use std::time::Duration;

use super::{Clock, Wake};

impl Clock {
    /// Sleeps until scenario time `deadline` on wall time, or until `interrupt` holds.
    ///
    /// The wait is re-planned after every wake-up, because a pause or a change of
    /// speed (both notify the condition variable) moves the deadline in wall time.
    pub(super) fn sleep_real(&self, deadline: Duration, interrupt: &dyn Fn() -> bool) -> Wake {
        let mut st = self.state();
        let mut first = true;
        loop {
            if interrupt() {
                return Wake::Interrupted;
            }
            let now = st.now(false);
            if !st.paused && now >= deadline {
                if first {
                    // A zero-length sleep still gives other threads a turn, so a
                    // waiter polling with no pause cannot starve the holder.
                    drop(st);
                    thread::yield_now();
                }
                return Wake::Elapsed;
            }
            first = false;
            st = if st.paused {
                self.inner
                    .changed
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner())
            } else {
                let real = (deadline - now).div_f64(st.speed);
                self.inner
                    .changed
                    .wait_timeout(st, real)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            };
        }
    }
}
