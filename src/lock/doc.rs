//! The lock document: one per (job name, client), never deleted.

use serde_json::{Value, json};

use super::LockError;
use super::holder::Holder;
use super::state::LOCK_PREFIX;

/// Builds the lock key for a job name and a client, e.g. `lock:worker:client-1`.
pub fn lock_key(job: &str, client: &str) -> String {
    format!("{LOCK_PREFIX}{job}:{client}")
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
    /// A random id written when the document was created. A store that forgot its
    /// documents makes a new one with another id, and the output notices.
    pub incarnation: Option<String>,
    /// The output this lock commits to (`committed` counts bytes of that file).
    pub output: Option<OutputBinding>,
    /// The lease the current holder keeps, in milliseconds, as it wrote when it
    /// acquired: a waiter never times a holder out sooner than that, whatever its
    /// own lease (documents from older versions have none).
    pub lease_ms: Option<u64>,
    /// The same lease in real (wall) milliseconds, at the speed of the holder's
    /// clock when it acquired: an engine's lease is in scenario time, so at
    /// `--speed 10` a 3 s lease is 0.3 s of real time. An onlooker on another clock
    /// (`watch`, `locks`) times the holder against this; documents from older
    /// versions have none.
    pub lease_real_ms: Option<u64>,
    /// Who the current holder is, for people (host, pid, and the command of a
    /// `joblock run` or the job number of an engine's job).
    pub holder: Option<Holder>,
}

/// The output a lock document commits to: its id (from the output's own record) and,
/// for messages, its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputBinding {
    /// The output's id.
    pub id: String,
    /// Where it was when bound.
    pub path: String,
}

/// A fresh random incarnation id for a new lock document.
pub fn new_incarnation() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl LockDoc {
    /// The document the very first acquisition inserts (the caller adds its lease
    /// and holder).
    pub fn first(
        key: &str,
        owner: &str,
        incarnation: &str,
        output: Option<&OutputBinding>,
    ) -> LockDoc {
        LockDoc {
            owner: Some(owner.to_string()),
            fence: 1,
            incarnation: Some(incarnation.to_string()),
            output: output.cloned(),
            ..LockDoc::free(key)
        }
    }

    /// A free document of `key` at fence 0 with nothing committed, to build on.
    pub fn free(key: &str) -> LockDoc {
        LockDoc {
            key: key.to_string(),
            owner: None,
            fence: 0,
            heartbeat: 0,
            committed: 0,
            incarnation: None,
            output: None,
            lease_ms: None,
            lease_real_ms: None,
            holder: None,
        }
    }

    /// The document as stored: the inverse of [`LockDoc::from_value`] (fields left
    /// `None` other than the owner are not written).
    pub fn to_value(&self) -> Value {
        let mut doc = json!({
            "_id": self.key, "owner": self.owner, "fence": self.fence,
            "heartbeat": self.heartbeat, "committed": self.committed,
        });
        if let Some(i) = &self.incarnation {
            doc["incarnation"] = json!(i);
        }
        if let Some(b) = &self.output {
            b.write_into(&mut doc);
        }
        if let Some(ms) = self.lease_ms {
            doc["lease_ms"] = json!(ms);
        }
        if let Some(ms) = self.lease_real_ms {
            doc["lease_real_ms"] = json!(ms);
        }
        if let Some(h) = &self.holder {
            doc["holder"] = h.to_value();
        }
        doc
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
        let text = |field: &str| match v.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(field)),
        };
        let output = match (text("output")?, text("output_path")?) {
            (Some(id), path) => Some(OutputBinding {
                id,
                path: path.unwrap_or_default(),
            }),
            (None, _) => None,
        };
        Ok(LockDoc {
            key,
            owner,
            fence: num("fence")?,
            heartbeat: num("heartbeat")?,
            committed: num("committed")?,
            incarnation: text("incarnation")?,
            output,
            lease_ms: v.get("lease_ms").and_then(Value::as_u64),
            lease_real_ms: v.get("lease_real_ms").and_then(Value::as_u64),
            holder: Holder::of(v),
        })
    }

    /// The incarnation id, or the one every reader agrees on for a document made by
    /// a version that wrote none (the next acquisition gives it a real one).
    pub fn incarnation_or_legacy(&self) -> String {
        self.incarnation
            .clone()
            .unwrap_or_else(|| "legacy".to_string())
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

impl OutputBinding {
    /// Adds this binding's fields to a document or an update.
    pub fn write_into(&self, doc: &mut Value) {
        doc["output"] = json!(self.id);
        doc["output_path"] = json!(self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_round_trips() {
        let binding = OutputBinding {
            id: "out-1".into(),
            path: "/tmp/o.txt".into(),
        };
        let v = LockDoc::first("lock:worker:c", "me", "inc", Some(&binding)).to_value();
        let d = LockDoc::from_value(&v).unwrap();
        assert_eq!(d.to_value(), v);
        assert_eq!(d.owner.as_deref(), Some("me"));
        assert_eq!((d.fence, d.heartbeat, d.committed), (1, 0, 0));
        assert_eq!(d.incarnation.as_deref(), Some("inc"));
        assert_eq!(d.output, Some(binding));
    }

    #[test]
    fn a_malformed_document_names_the_field() {
        let err = LockDoc::from_value(&json!({"_id": "k", "owner": null, "fence": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fence"), "{err}");
    }
}
