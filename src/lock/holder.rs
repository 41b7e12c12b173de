//! Who holds a lock, for people: the host, pid, command line and start time a
//! `joblock run` wrapper writes into the lock document when it acquires, so that
//! `watch`, `locks` and the dashboard can show *who* holds a key, not a bare id.
//!
//! It is information only: the protocol never reads it. It names the owner id it
//! belongs to, because a later holder that writes no holder of its own (a demo
//! worker) leaves the last one in place; [`Holder::of`] tells the two apart.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The holder of a lock as a person needs to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The owner id this description belongs to.
    pub owner: String,
    /// The machine's host name.
    pub host: String,
    /// The wrapper's process id on that host.
    pub pid: u32,
    /// The command it runs under the lock, one string per argument.
    pub command: Vec<String>,
    /// When it acquired, in milliseconds since the Unix epoch (wall clock, for
    /// people only: the protocol never compares clocks).
    pub started_at_ms: u64,
}

impl Holder {
    /// The holder described in a stored document's `holder` field, if that
    /// description belongs to the document's current `owner`.
    pub fn of(doc: &Value) -> Option<Holder> {
        let holder: Holder = serde_json::from_value(doc.get("holder")?.clone()).ok()?;
        let owner = doc.get("owner")?.as_str()?;
        (holder.owner == owner || owner == super::revoked_owner(&holder.owner)).then_some(holder)
    }

    /// The description as stored.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The command line as one string, arguments with spaces or quotes quoted.
    pub fn command_line(&self) -> String {
        self.command
            .iter()
            .map(|a| {
                if !a.is_empty()
                    && a.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
                {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holder() -> Holder {
        Holder {
            owner: "run-1".into(),
            host: "box".into(),
            pid: 42,
            command: vec!["python".into(), "worker.py".into(), "a b".into()],
            started_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_holder_belongs_to_its_owner_only() {
        let h = holder();
        let doc = json!({"owner": "run-1", "holder": h.to_value()});
        assert_eq!(Holder::of(&doc), Some(h.clone()));
        let later = json!({"owner": "worker-9", "holder": h.to_value()});
        assert_eq!(Holder::of(&later), None);
        let free = json!({"owner": null, "holder": h.to_value()});
        assert_eq!(Holder::of(&free), None);
        let revoked = json!({"owner": "revoked:run-1", "holder": h.to_value()});
        assert_eq!(Holder::of(&revoked), Some(h));
    }

    #[test]
    fn a_command_line_quotes_what_needs_it() {
        assert_eq!(holder().command_line(), "python worker.py 'a b'");
    }
}
