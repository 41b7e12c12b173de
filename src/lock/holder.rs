//! Who holds a lock, for people: the host, pid, command line and start time a
//! `joblock run` wrapper writes into the lock document when it acquires (an
//! engine's job writes its host, pid and job number instead), so that `watch`,
//! `locks` and the dashboard can show *who* holds a key, not a bare id.
//!
//! It is information only: the protocol never reads it, and it rides on the write
//! that acquires (no store operation of its own). It names the owner id it belongs
//! to, because a later holder that writes no holder of its own (a version that
//! wrote none) leaves the last one in place; [`Holder::of`] tells the two apart.

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
    /// The command it runs under the lock, one string per argument (empty for an
    /// engine's job).
    pub command: Vec<String>,
    /// The engine's job number, when an engine's job (demo or `joblock worker`)
    /// holds rather than a `joblock run` wrapper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<u64>,
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

    /// Whether this holder is a `joblock run` wrapper (it runs a command; an
    /// engine's job names its job number instead).
    pub fn is_wrapper(&self) -> bool {
        self.job.is_none()
    }

    /// What it does under the lock: the wrapper's command line, or `job 7`.
    pub fn what(&self) -> String {
        match self.job {
            Some(n) => format!("job {n}"),
            None => self.command_line(),
        }
    }

    /// The holder in one line for people (not yet made printable):
    /// `job 7 · host box-1 pid 4242` for an engine's job, `box-1 pid 42: python
    /// etl.py` for a wrapper.
    pub fn describe(&self) -> String {
        match self.job {
            Some(n) => format!("job {n} · host {} pid {}", self.host, self.pid),
            None => format!("{} pid {}: {}", self.host, self.pid, self.command_line()),
        }
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
            job: None,
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

    #[test]
    fn a_job_and_a_wrapper_describe_themselves() {
        assert_eq!(holder().describe(), "box pid 42: python worker.py 'a b'");
        assert!(holder().is_wrapper());
        let job = Holder {
            command: vec![],
            job: Some(7),
            ..holder()
        };
        assert_eq!(job.describe(), "job 7 · host box pid 42");
        assert_eq!(job.what(), "job 7");
        assert!(!job.is_wrapper());
        // A document from a version that wrote no job number still reads.
        let old = json!({"owner": "run-1", "holder": {"owner": "run-1", "host": "h",
            "pid": 1, "command": ["true"], "started_at_ms": 0}});
        assert_eq!(Holder::of(&old).map(|h| h.job), Some(None));
        assert!(job.to_value().get("job").is_some() && holder().to_value().get("job").is_none());
    }
}
