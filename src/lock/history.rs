//! A key's recent history (acquisitions, releases, takeovers, revocations), kept in
//! the store itself with a bound, so that `joblock locks show` can tell what
//! happened to a key from any machine.
//!
//! One document per acquisition, `_id` = `history:<key>:<slot>` with slot = fence
//! modulo [`HISTORY_SLOTS`]: fences are unique per key and only grow, so the newest
//! acquisitions overwrite the oldest and the history never holds more than that
//! many. Writing it is best effort: the lock never depends on it, and a failed
//! write loses a line of history, never a guarantee.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Holder;
use crate::store::{Store, StoreError};

/// The `_id` prefix of history documents.
pub const HISTORY_PREFIX: &str = "history:";
/// How many acquisitions of one key the history keeps.
pub const HISTORY_SLOTS: u64 = 32;

/// One acquisition of a key and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The lock key.
    pub key: String,
    /// The fence of this acquisition.
    pub fence: u64,
    /// The owner id.
    pub owner: String,
    /// Who it was, when a `joblock run` acquired.
    pub holder: Option<Holder>,
    /// How it was obtained: `created`, `free` or `takeover`.
    pub via: String,
    /// On a takeover: the fence taken over.
    pub from_fence: Option<u64>,
    /// When it acquired (ms since the Unix epoch, wall clock).
    pub acquired_at_ms: u64,
    /// How it ended: `released`, `lost` (taken over), `revoked`, or none yet.
    pub ended: Option<String>,
    /// When it ended (ms since the Unix epoch).
    pub ended_at_ms: Option<u64>,
    /// The command's exit: `exit 0`, `signal 9`, ... when known.
    pub exit: Option<String>,
}

/// The history slot document of `key` at `fence`.
pub fn slot_id(key: &str, fence: u64) -> String {
    format!("{HISTORY_PREFIX}{key}:{}", fence % HISTORY_SLOTS)
}

/// Records an acquisition, overwriting the slot's older entry.
pub fn record_acquired(store: &dyn Store, entry: &Entry) -> Result<(), StoreError> {
    let id = slot_id(&entry.key, entry.fence);
    let mut doc = serde_json::to_value(entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
    doc["_id"] = json!(id);
    match store.insert_one(doc.clone()) {
        Err(StoreError::DuplicateKey(_)) => {
            // An older acquisition's slot (or our own insert whose reply was lost).
            if let Some(map) = doc.as_object_mut() {
                map.remove("_id");
            }
            store.update_one(&json!({ "_id": id }), &doc).map(|_| ())
        }
        other => other,
    }
}

/// Records how the acquisition at `fence` ended; a slot since reused by a newer
/// fence is left alone.
pub fn record_ended(
    store: &dyn Store,
    key: &str,
    fence: u64,
    how: &str,
    at_ms: u64,
    exit: Option<&str>,
) -> Result<(), StoreError> {
    let filter = json!({ "_id": slot_id(key, fence), "fence": fence });
    let set = json!({ "ended": how, "ended_at_ms": at_ms, "exit": exit });
    store.update_one(&filter, &set).map(|_| ())
}

/// The history of `key`, oldest first (entries that do not parse are skipped).
pub fn read(store: &dyn Store, key: &str) -> Result<Vec<Entry>, StoreError> {
    let mut entries: Vec<Entry> = store
        .find_many(&json!({ "key": key }))?
        .into_iter()
        .filter(|d| {
            d.get("_id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.starts_with(HISTORY_PREFIX))
        })
        .filter_map(|d| serde_json::from_value(d).ok())
        .collect();
    entries.sort_by_key(|e| e.fence);
    Ok(entries)
}

/// Milliseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
