//! The [`Watcher`]: turns looks at the store into [`LockView`]s, remembering
//! between looks when each key's (fence, heartbeat) last changed, and each
//! waiter's `touched` counter, on this watcher's own clock, and judging whether
//! each lock's output file still agrees with its document.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::LockView;
use super::history::Seen;
use crate::lock::history::{Entry, now_ms};
use crate::lock::revoke::is_revoked;
use crate::lock::state::holders_lease;
use crate::lock::{self, LeaseState, Stillness, Survey};
use crate::store::{Store, StoreError};

/// Remembers what earlier looks saw, so that a look can say how long each holder
/// has been silent and what changed.
pub struct Watcher {
    store: Arc<dyn Store>,
    lease: Duration,
    started: Instant,
    /// The wall clock when `started` was taken: the time of a change it saw.
    started_ms: u64,
    seen: HashMap<String, Option<Stillness>>,
    /// Per waiter announcement: how long its `touched` counter has stood still.
    waiter_seen: HashMap<String, Option<Stillness>>,
    history: Seen,
    /// This machine's name: an output missing here is out of step only if its
    /// holder runs here.
    host: String,
}

impl Watcher {
    /// A watcher on `store`; `lease` judges holders whose documents record none.
    pub fn new(store: Arc<dyn Store>, lease: Duration) -> Watcher {
        Watcher {
            store,
            lease,
            started: Instant::now(),
            started_ms: now_ms(),
            seen: HashMap::new(),
            waiter_seen: HashMap::new(),
            history: Seen::default(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }

    /// Reads every lock document once (one `find_many`) and judges it.
    pub fn look(&mut self) -> Result<Vec<LockView>, StoreError> {
        let survey = lock::survey(self.store.as_ref())?;
        let now = self.started.elapsed();
        Ok(self.judge(survey, now))
    }

    /// Judges one look, taken `now` after this watcher started (on its own
    /// clock): the views, sorted by key.
    pub fn judge(&mut self, survey: Survey, now: Duration) -> Vec<LockView> {
        let at_ms = self
            .started_ms
            .saturating_add(u64::try_from(now.as_millis()).unwrap_or(u64::MAX));
        let mut waiters: HashMap<String, Vec<String>> = HashMap::new();
        for w in survey.waiters {
            // A waiter that died leaves its announcement behind: count it only while
            // its `touched` counter keeps moving.
            let slot = self.waiter_seen.entry(w.id).or_default();
            if Stillness::observe(slot, 0, w.touched, now) < self.lease * 2 {
                waiters.entry(w.key).or_default().push(w.owner);
            }
        }
        let mut stored: HashMap<&str, Vec<&Entry>> = HashMap::new();
        for e in &survey.history {
            stored.entry(e.key.as_str()).or_default().push(e);
        }
        let mut views = Vec::new();
        for doc in &survey.locks {
            let slot = self.seen.entry(doc.key.clone()).or_default();
            let still = Stillness::observe(slot, doc.fence, doc.heartbeat, now);
            let lease = holders_lease(doc, self.lease);
            let held = doc.owner.is_some();
            let judged = LeaseState::judge(held, still, lease);
            let state = match doc.owner.as_deref() {
                Some(o) if is_revoked(o) => "revoked",
                _ => judged.name(),
            };
            self.history.note(doc, held && still >= lease / 2, at_ms);
            let history = self.history.lines(
                &doc.key,
                stored.get(doc.key.as_str()).map_or(&[], Vec::as_slice),
            );
            views.push(LockView {
                waiters: waiters.remove(&doc.key).unwrap_or_default(),
                key: doc.key.clone(),
                holder: doc.holder.clone(),
                lease_ms: doc.lease_ms.filter(|_| held),
                lease_real_ms: held.then(|| u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)),
                owner: doc.owner.clone(),
                fence: doc.fence,
                heartbeat: doc.heartbeat,
                committed: doc.committed,
                unchanged_for: still.as_secs_f64(),
                state: state.to_string(),
                history,
                output: super::output::check(doc, &self.host),
            });
        }
        self.history.looked();
        views.sort_by(|a, b| a.key.cmp(&b.key));
        views
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{Holder, LockDoc};
    use crate::store::{StoreUrl, open_store_read_only};

    const S: Duration = Duration::from_secs(1);

    /// A watcher whose store is never read: the tests feed it looks.
    fn watcher(lease: Duration) -> Watcher {
        match open_store_read_only(&StoreUrl::Memory, "watch") {
            Ok(store) => Watcher::new(store, lease),
            Err(e) => panic!("a memory store: {e}"),
        }
    }

    fn held(heartbeat: u64, lease_ms: Option<u64>, lease_real_ms: Option<u64>) -> Survey {
        let doc = LockDoc {
            owner: Some("w-1".into()),
            fence: 4,
            heartbeat,
            lease_ms,
            lease_real_ms,
            ..LockDoc::free("lock:worker:acme")
        };
        Survey {
            locks: vec![doc],
            ..Survey::default()
        }
    }

    /// The state of the one key after looks at the given (time, heartbeat)s.
    fn states(w: &mut Watcher, looks: &[(Duration, u64)], doc: fn(u64) -> Survey) -> Vec<String> {
        looks
            .iter()
            .map(|&(at, beat)| w.judge(doc(beat), at)[0].state.clone())
            .collect()
    }

    #[test]
    fn a_heartbeat_still_for_the_whole_stored_lease_is_expired() {
        // The document's own 3 s lease judges it, not the watcher's 60 s fallback.
        let mut w = watcher(60 * S);
        let doc = |beat| held(beat, Some(3000), Some(3000));
        let looks = [
            (Duration::ZERO, 7),
            (S, 7),
            (2 * S, 7),
            (3 * S, 7),
            (4 * S, 8),
        ];
        assert_eq!(
            states(&mut w, &looks, doc),
            ["held", "held", "silent", "expired", "held"]
        );
        let v = &w.judge(doc(8), 4 * S)[0];
        assert_eq!((v.lease_ms, v.lease_real_ms), (Some(3000), Some(3000)));
    }

    #[test]
    fn a_scenario_lease_is_judged_in_real_time() {
        // An engine at --speed 10: a 3 s scenario lease is 0.3 s of real time.
        let mut w = watcher(60 * S);
        let doc = |beat| held(beat, Some(3000), Some(300));
        let ms = Duration::from_millis;
        let looks = [(ms(0), 1), (ms(100), 1), (ms(200), 1), (ms(300), 1)];
        assert_eq!(
            states(&mut w, &looks, doc),
            ["held", "held", "silent", "expired"]
        );
        let v = &w.judge(doc(1), ms(300))[0];
        assert_eq!((v.lease_ms, v.lease_real_ms), (Some(3000), Some(300)));
    }

    #[test]
    fn old_documents_fall_back_to_lease_ms_then_to_the_flag() {
        let mut w = watcher(2 * S);
        let doc = |beat| held(beat, Some(10_000), None);
        assert_eq!(
            states(&mut w, &[(Duration::ZERO, 1), (5 * S, 1)], doc),
            ["held", "silent"]
        );
        let mut w = watcher(2 * S);
        let doc = |beat| held(beat, None, None);
        assert_eq!(
            states(&mut w, &[(Duration::ZERO, 1), (2 * S, 1)], doc),
            ["held", "expired"]
        );
        assert_eq!(w.judge(doc(1), 2 * S)[0].lease_real_ms, Some(2000));
    }

    #[test]
    fn the_view_carries_the_holder_and_what_this_watcher_saw_change() {
        let mut w = watcher(3 * S);
        let job = |owner: &str, fence, heartbeat| LockDoc {
            owner: Some(owner.into()),
            fence,
            heartbeat,
            lease_real_ms: Some(3000),
            holder: Some(Holder {
                owner: owner.into(),
                host: "box-1".into(),
                pid: 4242,
                command: vec![],
                job: Some(fence),
                started_at_ms: 0,
            }),
            ..LockDoc::free("lock:worker:acme")
        };
        let one = |d| Survey {
            locks: vec![d],
            ..Survey::default()
        };
        w.judge(one(job("w-1", 1, 1)), Duration::ZERO);
        w.judge(one(job("w-1", 1, 1)), 3 * S);
        let views = w.judge(one(job("w-2", 2, 2)), 4 * S);
        let v = &views[0];
        assert_eq!(
            v.holder.as_ref().map(Holder::describe).as_deref(),
            Some("job 2 · host box-1 pid 4242")
        );
        let line = &v.history[0];
        assert_eq!(
            (line.fence, line.how.as_str(), line.from_fence),
            (2, "takeover", Some(1))
        );
        assert_eq!(line.at_ms, w.started_ms + 4000);
    }
}
