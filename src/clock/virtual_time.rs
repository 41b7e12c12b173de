//! Virtual mode's scheduler: the timeline of sleepers and the jump of scenario time
//! to the earliest deadline once every participant is asleep.

use std::sync::{Arc, Condvar};
use std::time::Duration;

use super::{Clock, Signal, State, Wake};

/// A virtual-mode sleeper on the timeline.
pub(super) struct Sleeper {
    /// Whether it must be counted active again on waking.
    pub(super) participant: bool,
    /// Its thread's wake-up signal.
    pub(super) waker: Arc<Condvar>,
}

impl Clock {
    /// Sleeps until virtual time reaches `deadline`, or until `interrupt` holds.
    pub(super) fn sleep_virtual(&self, deadline: Duration, interrupt: &dyn Fn() -> bool) -> Wake {
        self.sleep_virtual_on(deadline, interrupt, None)
    }

    /// [`Clock::sleep_virtual`], also woken by raising `signal` (if any).
    pub(super) fn sleep_virtual_on(
        &self,
        deadline: Duration,
        interrupt: &dyn Fn() -> bool,
        signal: Option<&Signal>,
    ) -> Wake {
        let participant = self.is_participant();
        let mut st = self.state();
        // Each sleep has its own wake-up signal: waking one sleeper must not wake all
        // of them (a thundering herd at every step of virtual time).
        let waker = Arc::new(Condvar::new());
        loop {
            // Here we count as running: either we just arrived, or `advance` / `poke`
            // removed our entry and counted us active again.
            if deadline <= st.now_virtual {
                return Wake::Elapsed;
            }
            if interrupt() {
                return Wake::Interrupted;
            }
            let key = (deadline, st.next_ticket);
            st.next_ticket += 1;
            st.sleepers.insert(
                key,
                Sleeper {
                    participant,
                    waker: waker.clone(),
                },
            );
            if let Some(signal) = signal {
                st.on_signal.entry(signal.id()).or_default().push(key);
            }
            if participant {
                st.active -= 1;
            }
            self.advance(&mut st);
            while st.sleepers.contains_key(&key) {
                st = waker.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            // Woken by time or a poke: our entry under the signal is stale.
            if let Some(signal) = signal
                && let Some(keys) = st.on_signal.get_mut(&signal.id())
            {
                keys.retain(|k| *k != key);
                if keys.is_empty() {
                    st.on_signal.remove(&signal.id());
                }
            }
        }
    }

    /// Virtual mode: when nobody runs, jump to the earliest deadline and wake its sleepers.
    pub(super) fn advance(&self, st: &mut State) {
        if !self.inner.is_virtual || st.active > 0 || st.paused {
            return;
        }
        let Some((&(first, _), _)) = st.sleepers.first_key_value() else {
            return;
        };
        if first > st.now_virtual {
            st.now_virtual = first;
        }
        while let Some((&(t, _), _)) = st.sleepers.first_key_value() {
            if t > st.now_virtual {
                break;
            }
            if let Some((_, sleeper)) = st.sleepers.pop_first() {
                if sleeper.participant {
                    st.active += 1;
                }
                sleeper.waker.notify_one();
            }
        }
    }

    /// Wakes every sleeper to re-check its predicate.
    ///
    /// Virtual sleepers are taken off the timeline and counted as running until they
    /// have re-checked (and gone back to sleep): otherwise time could jump past the
    /// moment a poked sleeper should have acted. Real-mode sleepers wait on the
    /// shared condition variable instead, so it is notified too.
    pub(super) fn wake_all(&self, st: &mut State) {
        for (_, sleeper) in std::mem::take(&mut st.sleepers) {
            if sleeper.participant {
                st.active += 1;
            }
            sleeper.waker.notify_one();
        }
        self.inner.changed.notify_all();
    }
}
