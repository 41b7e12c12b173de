//! Signals: wake-ups that reach only the sleepers waiting on them.
//!
//! [`Clock::poke`] wakes every sleeper to re-check its predicate, which is right
//! for a rare command but a herd when it is how one job tells its own heartbeat to
//! stop: with a thousand jobs asleep, every job's end woke all of them. A
//! [`Signal`] is a counter a sleeper waits on; raising it wakes just its sleepers
//! (on a virtual clock; a real clock's sleepers share one condition variable).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Clock, Wake};

/// A wake-up for the sleepers that wait on it; cheap to clone.
#[derive(Clone)]
pub struct Signal {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    raised: AtomicU64,
}

impl Signal {
    /// How many times it was raised: a sleeper passes what it last saw.
    pub fn raised(&self) -> u64 {
        self.inner.raised.load(Ordering::SeqCst)
    }

    pub(super) fn id(&self) -> u64 {
        self.inner.id
    }
}

impl Clock {
    /// A new signal on this clock.
    pub fn signal(&self) -> Signal {
        let mut st = self.state();
        st.next_signal += 1;
        Signal {
            inner: Arc::new(Inner {
                id: st.next_signal,
                raised: AtomicU64::new(0),
            }),
        }
    }

    /// Raises `signal`: its sleepers wake.
    pub fn raise(&self, signal: &Signal) {
        let mut st = self.state();
        signal.inner.raised.fetch_add(1, Ordering::SeqCst);
        for key in st.on_signal.remove(&signal.id()).unwrap_or_default() {
            if let Some(sleeper) = st.sleepers.remove(&key) {
                if sleeper.participant {
                    st.active += 1;
                }
                sleeper.waker.notify_one();
            }
        }
        self.inner.changed.notify_all();
    }

    /// Sleeps for `d` of scenario time, or until `signal` was raised past `seen`.
    pub fn sleep_on(&self, d: Duration, signal: &Signal, seen: u64) -> Wake {
        let deadline = self.now().saturating_add(d);
        self.sleep_until_on(deadline, signal, seen)
    }

    /// Sleeps until scenario time `deadline`, or until `signal` was raised past `seen`.
    pub fn sleep_until_on(&self, deadline: Duration, signal: &Signal, seen: u64) -> Wake {
        self.sleep_until_on_or(deadline, signal, seen, &|| false)
    }

    /// [`Clock::sleep_until_on`], also ended by `interrupt` after a [`Clock::poke`]
    /// (which, like the signal, reports [`Wake::Interrupted`]: the caller reads
    /// [`Signal::raised`] to tell them apart).
    pub fn sleep_until_on_or(
        &self,
        deadline: Duration,
        signal: &Signal,
        seen: u64,
        interrupt: &dyn Fn() -> bool,
    ) -> Wake {
        let woken = || signal.raised() != seen || interrupt();
        if self.inner.is_virtual {
            self.sleep_virtual_on(deadline, &woken, Some(signal))
        } else {
            self.sleep_real(deadline, &woken)
        }
    }
}
