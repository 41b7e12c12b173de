//! A waiter's attempts as events, and its presence announcements for `watch`.

use std::time::Duration;

use super::Worker;
use crate::events::{Event, SeenLock};
use crate::lock::{AcquireObserver, Presence, Seen};

/// Reports a waiter's attempts as events (and, if asked, announces the waiter).
pub(super) struct Reporter<'a> {
    pub(super) w: &'a Worker<'a>,
    pub(super) presence: Option<Presence>,
}

impl Reporter<'_> {
    /// Announces the waiter for `joblock watch`, or shows it is still alive.
    fn touch_presence(&mut self) {
        if let Some(p) = self.presence.as_mut() {
            let cx = self.w.cx;
            p.touch(cx.clock.now(), cx.lock.config().lease / 3);
        }
    }
}

impl AcquireObserver for Reporter<'_> {
    fn in_line(&mut self) {
        self.touch_presence();
    }

    fn attempt(&mut self, attempt: u32, seen: &Seen) {
        self.touch_presence();
        let seen = match seen {
            Seen::Held {
                owner,
                fence,
                heartbeat,
            } => SeenLock::Held {
                holder: self.w.cx.sink.job_of(owner),
                fence: *fence,
                heartbeat: *heartbeat,
            },
            Seen::LostRace => SeenLock::LostRace,
            Seen::StoreError(e) => SeenLock::StoreError { error: e.clone() },
        };
        self.w.emit(Event::LockAttempt {
            job: self.w.job.id,
            client: self.w.job.client.clone(),
            attempt,
            seen,
        });
    }

    fn expired(&mut self, owner: &str, fence: u64, unchanged_for: Duration) {
        self.w.emit(Event::LeaseExpired {
            job: self.w.job.id,
            client: self.w.job.client.clone(),
            holder: self.w.cx.sink.job_of(owner),
            fence,
            unchanged_for: unchanged_for.as_secs_f64(),
        });
    }
}
