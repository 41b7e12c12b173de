//! The lock's state as an onlooker reads it: which documents are locks and which
//! are waiters' announcements, and how long a holder has been silent.
//!
//! This is the one place that knows the id prefixes and the expiry rule; the
//! waiter's own takeover decision ([`Stillness`]), the engine, `watch` and the
//! dashboard all ask it. The rule never compares clocks across processes: a lease
//! counts as expired when one observer has seen the same (fence, heartbeat) for a
//! whole lease on its *own* clock.

use std::time::Duration;

use serde_json::{Value, json};

use super::history::{Entry, HISTORY_PREFIX};
use super::{LockDoc, LockError};
use crate::store::{Store, StoreError};

/// The `_id` prefix of every lock document.
pub const LOCK_PREFIX: &str = "lock:";
/// The `_id` prefix of a waiter's announcement ([`super::Presence`]).
pub const PRESENCE_PREFIX: &str = "wait:";

/// Whether a document `_id` names a lock document.
pub fn is_lock_id(id: &str) -> bool {
    id.starts_with(LOCK_PREFIX)
}

/// The `_id` of waiter `owner`'s announcement on lock `key`.
pub fn presence_id(key: &str, owner: &str) -> String {
    format!("{PRESENCE_PREFIX}{key}:{owner}")
}

/// Checks a user's lock key (`joblock run --key`): 1-200 bytes, no control
/// characters or whitespace; the error names it.
pub fn check_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 200
        && !key.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a lock key: use 1-200 bytes without spaces or control characters, e.g. worker:acme"
        ))
    }
}

/// The lock document `_id` of a user's key: `worker:acme` is `lock:worker:acme`.
pub fn lock_id(key: &str) -> String {
    format!("{LOCK_PREFIX}{key}")
}

/// Reads the lock document of `key`, if it exists.
pub fn read_doc(store: &dyn Store, key: &str) -> Result<Option<LockDoc>, LockError> {
    match store.find_one(&json!({ "_id": key }))? {
        Some(v) => Ok(Some(LockDoc::from_value(&v)?)),
        None => Ok(None),
    }
}

/// Times how long a holder's (fence, heartbeat) pair has stood still, on the
/// observer's own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stillness {
    fence: u64,
    heartbeat: u64,
    since: Duration,
}

impl Stillness {
    /// Starts timing the pair seen at `now`.
    pub fn new(fence: u64, heartbeat: u64, now: Duration) -> Stillness {
        Stillness {
            fence,
            heartbeat,
            since: now,
        }
    }

    /// When this observer first saw the pair.
    pub fn since(&self) -> Duration {
        self.since
    }

    /// Notes the pair seen at `now` and returns how long it has stood still: any
    /// change (a renewal, a new holder) starts the timing again.
    pub fn observe(
        slot: &mut Option<Stillness>,
        fence: u64,
        heartbeat: u64,
        now: Duration,
    ) -> Duration {
        match slot {
            Some(s) if s.fence == fence && s.heartbeat == heartbeat => now.saturating_sub(s.since),
            _ => {
                *slot = Some(Stillness::new(fence, heartbeat, now));
                Duration::ZERO
            }
        }
    }
}

/// What a lock looks like to one observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Nobody holds it.
    Free,
    /// Held, and the heartbeat moved within half a lease.
    Held,
    /// Held, but the heartbeat has stood still for half a lease or more.
    Silent,
    /// Held, and still for a whole lease: a waiter may take it over.
    Expired,
}

impl LeaseState {
    /// The state of a lock that is `held` and whose pair has stood still for `still`.
    pub fn judge(held: bool, still: Duration, lease: Duration) -> LeaseState {
        match held {
            false => LeaseState::Free,
            true if is_expired(still, lease) => LeaseState::Expired,
            true if still >= lease / 2 => LeaseState::Silent,
            true => LeaseState::Held,
        }
    }

    /// The state's name, as `watch` prints it.
    pub fn name(self) -> &'static str {
        match self {
            LeaseState::Free => "free",
            LeaseState::Held => "held",
            LeaseState::Silent => "silent",
            LeaseState::Expired => "expired",
        }
    }
}

/// Whether a holder silent for `still` has lost its lease of length `lease`.
pub fn is_expired(still: Duration, lease: Duration) -> bool {
    still >= lease
}

/// The real (wall-clock) lease after which an onlooker may call this document's
/// holder expired: the holder's own in real time (`lease_real_ms`: its scenario
/// lease at its clock's speed), else its `lease_ms` as written (versions that wrote
/// no `lease_real_ms` wrote it in real time but for a sped-up demo), else
/// `fallback` for a document that records no lease at all.
pub fn holders_lease(doc: &LockDoc, fallback: Duration) -> Duration {
    recorded_real_lease(doc).unwrap_or(fallback)
}

/// The real lease the document records, if any ([`holders_lease`] without a
/// fallback).
pub fn recorded_real_lease(doc: &LockDoc) -> Option<Duration> {
    doc.lease_real_ms
        .or(doc.lease_ms)
        .map(Duration::from_millis)
}

/// How much of its lease a holder silent for `still` has left: 1 just after a
/// renewal, 0 once a waiter may take over.
pub fn lease_left(still: Duration, lease: Duration) -> f64 {
    if lease.is_zero() {
        return 0.0;
    }
    (1.0 - still.as_secs_f64() / lease.as_secs_f64()).clamp(0.0, 1.0)
}

/// A waiter's announcement as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The announcement's own `_id`.
    pub id: String,
    /// The lock key it waits for.
    pub key: String,
    /// The waiter's owner id.
    pub owner: String,
    /// A counter the waiter bumps while it is alive.
    pub touched: u64,
}

/// Every lock document and waiter announcement in a store, from one read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    /// Lock documents (malformed ones are left out).
    pub locks: Vec<LockDoc>,
    /// Waiters' announcements.
    pub waiters: Vec<Announcement>,
    /// The keys' history documents ([`super::history`]), at most
    /// [`HISTORY_SLOTS`](super::history::HISTORY_SLOTS) per key, in no order.
    pub history: Vec<Entry>,
}

/// Reads every document of the store once (`find_many({})`) and sorts out the
/// locks, the announcements and the history; anything else is ignored.
pub fn survey(store: &dyn Store) -> Result<Survey, StoreError> {
    let mut survey = Survey::default();
    for d in store.find_many(&json!({}))? {
        let Some(id) = d.get("_id").and_then(Value::as_str) else {
            continue;
        };
        if is_lock_id(id) {
            if let Ok(doc) = LockDoc::from_value(&d) {
                survey.locks.push(doc);
            }
        } else if id.starts_with(PRESENCE_PREFIX)
            && let (Some(key), Some(owner)) = (
                d.get("key").and_then(Value::as_str),
                d.get("owner").and_then(Value::as_str),
            )
        {
            survey.waiters.push(Announcement {
                id: id.to_string(),
                key: key.to_string(),
                owner: owner.to_string(),
                touched: d.get("touched").and_then(Value::as_u64).unwrap_or(0),
            });
        } else if id.starts_with(HISTORY_PREFIX)
            && let Ok(entry) = serde_json::from_value::<Entry>(d)
        {
            survey.history.push(entry);
        }
    }
    Ok(survey)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn stillness_restarts_on_any_change() {
        let mut slot = None;
        assert_eq!(Stillness::observe(&mut slot, 1, 0, S), Duration::ZERO);
        assert_eq!(Stillness::observe(&mut slot, 1, 0, 3 * S), 2 * S);
        assert_eq!(Stillness::observe(&mut slot, 1, 1, 4 * S), Duration::ZERO);
        assert_eq!(Stillness::observe(&mut slot, 2, 1, 5 * S), Duration::ZERO);
        assert_eq!(Stillness::observe(&mut slot, 2, 1, 9 * S), 4 * S);
    }

    #[test]
    fn a_lease_expires_after_a_whole_lease_of_silence() {
        let lease = 3 * S;
        assert_eq!(LeaseState::judge(false, 10 * S, lease), LeaseState::Free);
        assert_eq!(LeaseState::judge(true, S, lease), LeaseState::Held);
        assert_eq!(LeaseState::judge(true, 2 * S, lease), LeaseState::Silent);
        assert_eq!(LeaseState::judge(true, lease, lease), LeaseState::Expired);
        assert!(!is_expired(lease - Duration::from_nanos(1), lease));
    }

    #[test]
    fn the_lease_left_drains_from_one_to_zero() {
        let lease = 4 * S;
        assert_eq!(lease_left(Duration::ZERO, lease), 1.0);
        assert_eq!(lease_left(S, lease), 0.75);
        assert_eq!(lease_left(lease, lease), 0.0);
        assert_eq!(lease_left(Duration::MAX, lease), 0.0);
        assert_eq!(lease_left(S, Duration::ZERO), 0.0);
    }
}
