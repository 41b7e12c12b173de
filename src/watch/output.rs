//! Whether each lock's output file agrees with what its document says: the
//! committed length and the output's id (`OutputBinding`), checked by the same
//! rule the job body's fence-in uses ([`crate::output::step`]).
//!
//! The watcher may run on another machine than the workers: a file that is not
//! there at all (nor its fence file) is *missing*, not out of step, unless the
//! document's current holder runs on this machine.

use std::path::Path;

use serde::Serialize;

use crate::lock::{LockDoc, OutputBinding};
use crate::output::step::{self, OutOfStep, Step, Why};

/// How a lock's output stands on this machine. The JSON field names are an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutputView {
    /// The output path the lock document commits to.
    pub path: String,
    /// `in_step`, `out_of_step` (deleted, truncated or replaced: the workers halt
    /// on it), `missing` (neither the file nor its fence file is on this machine:
    /// deleted, or written on another one) or `unreadable`.
    pub state: String,
    /// Its length on this machine (`null`: no file).
    pub on_disk: Option<u64>,
    /// What is wrong, and how to start over (every state but `in_step`).
    pub problem: Option<String>,
}

impl OutputView {
    /// Whether an operator should look at it (out of step or unreadable).
    pub fn is_trouble(&self) -> bool {
        matches!(self.state.as_str(), "out_of_step" | "unreadable")
    }
}

/// Checks `doc`'s output, if it names one; `host` is this machine's name.
pub(super) fn check(doc: &LockDoc, host: &str) -> Option<OutputView> {
    let bound = doc.output.as_ref().filter(|b| !b.path.is_empty())?;
    let view = |state: &str, on_disk, problem| OutputView {
        path: bound.path.clone(),
        state: state.to_string(),
        on_disk,
        problem,
    };
    let out_of_step = |o: OutOfStep| view("out_of_step", o.on_disk, Some(line(&o)));
    Some(
        match step::check(Path::new(&bound.path), &doc.key, doc.committed, &bound.id) {
            Ok(Step::InStep { on_disk }) => view("in_step", Some(on_disk), None),
            Ok(Step::OutOfStep(o)) => out_of_step(o),
            Ok(Step::Absent) if held_here(doc, host) => out_of_step(deleted(doc, bound)),
            Ok(Step::Absent) => view(
                "missing",
                None,
                Some(format!(
                    "{}: neither it nor its fence file is on this machine: deleted, or written on another machine ({} bytes committed)",
                    bound.path, doc.committed
                )),
            ),
            Err(e) => view("unreadable", None, Some(e.to_string())),
        },
    )
}

/// The line an operator reads: what is wrong and how to start over.
fn line(o: &OutOfStep) -> String {
    format!("{}. {}", o.what(None), o.advice())
}

/// The current holder runs on this machine, so its output would be here.
fn held_here(doc: &LockDoc, host: &str) -> bool {
    doc.holder.as_ref().is_some_and(|h| h.host == host)
}

fn deleted(doc: &LockDoc, bound: &OutputBinding) -> OutOfStep {
    OutOfStep {
        path: bound.path.clone().into(),
        key: doc.key.clone(),
        on_disk: None,
        committed: doc.committed,
        why: Why::Deleted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Holder;
    use crate::output::{Claim, FencedOutput};

    /// An output with `records` committed by lock `key`, and its document.
    fn committed(dir: &Path, records: usize) -> (FencedOutput, LockDoc) {
        let path = dir.join("o.txt");
        let out = FencedOutput::create(&path).unwrap();
        let claim = Claim {
            lock: "inc".into(),
            key: "lock:worker:c".into(),
            fence: 1,
            owner: "w-1".into(),
        };
        out.fence_in(&claim, 0).unwrap();
        let text = "Maestro is the best......\n\n".repeat(records);
        out.append(&claim, text.as_bytes()).unwrap();
        out.committed(&claim, text.len() as u64).unwrap();
        let doc = LockDoc {
            committed: text.len() as u64,
            output: Some(OutputBinding {
                id: out.id().to_string(),
                path: path.display().to_string(),
            }),
            ..LockDoc::free("lock:worker:c")
        };
        (out, doc)
    }

    fn state(doc: &LockDoc) -> (String, Option<u64>) {
        let v = check(doc, "this-box").unwrap();
        (v.state, v.on_disk)
    }

    #[test]
    fn an_intact_output_is_in_step_and_one_without_a_binding_is_not_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (_out, doc) = committed(dir.path(), 3);
        assert_eq!(state(&doc), ("in_step".into(), Some(81)));
        assert_eq!(check(&LockDoc::free("lock:worker:c"), "this-box"), None);
    }

    #[test]
    fn deleted_truncated_and_replaced_outputs_are_out_of_step() {
        let dir = tempfile::tempdir().unwrap();
        let (out, doc) = committed(dir.path(), 3);
        std::fs::write(out.path(), "Maestro").unwrap();
        assert_eq!(state(&doc), ("out_of_step".into(), Some(7)));
        std::fs::write(out.path(), "y".repeat(200)).unwrap();
        let v = check(&doc, "this-box").unwrap();
        assert_eq!(v.state, "out_of_step");
        assert!(v.problem.unwrap().contains("replaced or rewritten"));
        std::fs::remove_file(out.path()).unwrap();
        let v = check(&doc, "this-box").unwrap();
        assert_eq!((v.state.as_str(), v.on_disk), ("out_of_step", None));
        assert!(
            v.problem
                .unwrap()
                .contains("81 bytes committed: it was deleted")
        );
        // With its fence file gone too, only a holder on this machine proves it.
        std::fs::remove_file(out.fence_path()).unwrap();
        assert_eq!(state(&doc), ("missing".into(), None));
        let held = LockDoc {
            owner: Some("w-2".into()),
            holder: Some(Holder {
                owner: "w-2".into(),
                host: "this-box".into(),
                pid: 1,
                command: vec![],
                job: Some(2),
                started_at_ms: 0,
            }),
            ..doc
        };
        assert_eq!(state(&held), ("out_of_step".into(), None));
        // A new file and fence file at the path are another output.
        std::fs::write(held.output.as_ref().unwrap().path.clone(), "x").unwrap();
        let _again = FencedOutput::open_shared(out.path()).unwrap();
        let v = check(&held, "this-box").unwrap();
        assert_eq!(v.state, "out_of_step");
        assert!(v.problem.unwrap().contains("belongs to another output"));
    }
}
