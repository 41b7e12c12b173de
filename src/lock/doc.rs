//! The lock document: one per (job name, client), never deleted.

use serde_json::{Value, json};

use super::LockError;

/// Builds the lock key for a job name and a client, e.g. `lock:worker:client-1`.
pub fn lock_key(job: &str, client: &str) -> String {
    format!("lock:{job}:{client}")
}

/// The fields of a lock document as the lock protocol reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockDoc {
    /// The `_id` (the lock key).
    pub key: String,
    /// The holder's id, `None` when the lock is free.
    pub owner: Option<String>,
    /// The fencing token of the latest acquisition (never decreases).
    pub fence: u64,
    /// A counter the holder bumps on every renewal; waiters watch it for a lease.
    pub heartbeat: u64,
    /// Length of the output that finished holders have committed.
    pub committed: u64,
}

impl LockDoc {
    /// The document the very first acquisition inserts.
    pub fn first(key: &str, owner: &str) -> Value {
        json!({ "_id": key, "owner": owner, "fence": 1, "heartbeat": 0, "committed": 0 })
    }

    /// Reads a stored document, naming the field that is missing or malformed.
    pub fn from_value(v: &Value) -> Result<LockDoc, LockError> {
        let bad = |field: &str| LockError::Malformed(format!("{field} in {v}"));
        let key = v
            .get("_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("_id"))?
            .to_string();
        let owner = match v.get("owner") {
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            _ => return Err(bad("owner")),
        };
        let num = |field: &str| {
            v.get(field)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(field))
        };
        Ok(LockDoc {
            key,
            owner,
            fence: num("fence")?,
            heartbeat: num("heartbeat")?,
            committed: num("committed")?,
        })
    }

    /// The exact-match filter that pins this document's current state.
    ///
    /// A compare-and-set filters on the values the caller observed: if anybody changed
    /// owner, fence or heartbeat since, the update matches nothing.
    pub fn cas_filter(&self) -> Value {
        json!({
            "_id": self.key,
            "owner": self.owner,
            "fence": self.fence,
            "heartbeat": self.heartbeat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_round_trips() {
        let v = LockDoc::first("lock:worker:c", "me");
        let d = LockDoc::from_value(&v).unwrap();
        assert_eq!(d.owner.as_deref(), Some("me"));
        assert_eq!((d.fence, d.heartbeat, d.committed), (1, 0, 0));
    }

    #[test]
    fn a_malformed_document_names_the_field() {
        let err = LockDoc::from_value(&json!({"_id": "k", "owner": null, "fence": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fence"), "{err}");
    }
}
