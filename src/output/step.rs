//! Whether an output file still is the one its lock document commits to, with the
//! committed bytes it had: the rule the job body's fence-in and `joblock watch`
//! share.
//!
//! A lock document says how many bytes of which output (by the output's id) are
//! committed. Somebody can delete, truncate or replace that file behind the lock's
//! back (a cleanup script, a user reusing a namespace). Cutting the file to the
//! committed length or appending after a shorter one would then mix records of two
//! histories, so such an output is *out of step*: nothing is written to it until
//! an operator starts it over (README, "Output out of step").

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::locked::check_regular;
use super::{FencedOutput, OutputError, sidecar, tail};

/// What is wrong with an output that is out of step with its lock document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// There is no file at the path.
    Deleted,
    /// The file is shorter than the committed length.
    Truncated,
    /// The committed bytes just below `at` are not the ones that were written.
    Rewritten {
        /// The watermark the fingerprint ends at.
        at: u64,
    },
    /// The path's record (`PATH.fence`) is another output's, or there is none.
    Replaced {
        /// The output id the lock document commits to.
        bound: String,
        /// The id of the record found there (`None`: no record).
        found: Option<String>,
    },
}

/// An output out of step with its lock document: where, how many bytes, which key, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfStep {
    /// The output file.
    pub path: PathBuf,
    /// The lock key that commits to it.
    pub key: String,
    /// Its length now (`None`: no file).
    pub on_disk: Option<u64>,
    /// The length the lock document says is committed.
    pub committed: u64,
    /// What is wrong.
    pub why: Why,
}

impl OutOfStep {
    /// What is wrong, in one sentence; `namespace` is named beside the key when known.
    pub fn what(&self, namespace: Option<&str>) -> String {
        let path = self.path.display();
        let fence = FencedOutput::fence_path_of(&self.path);
        let fence = fence.display();
        let ns = namespace.map_or(String::new(), |n| format!(" in namespace {n:?}"));
        let disk = match self.on_disk {
            Some(n) => format!("{n} bytes on disk"),
            None => "no file on disk".to_string(),
        };
        let why = match &self.why {
            Why::Deleted => "it was deleted".to_string(),
            Why::Truncated => "it was truncated, or replaced by a shorter file".to_string(),
            Why::Rewritten { at } => format!(
                "the committed bytes before byte {at} are not the ones written: it was replaced or rewritten"
            ),
            Why::Replaced {
                bound,
                found: Some(found),
            } => format!(
                "its fence file {fence} belongs to another output (id {found}, the lock commits to {bound}): it was deleted or replaced together with its fence file"
            ),
            Why::Replaced { bound, found: None } => format!(
                "it has no fence file {fence} (the lock commits to output {bound}): it was replaced, or its fence file deleted"
            ),
        };
        format!(
            "{path} is out of step with {}{ns}: {disk}, {} bytes committed: {why}",
            self.key, self.committed
        )
    }

    /// How to start over (the committed records are gone from this file).
    pub fn advice(&self) -> String {
        let fence = FencedOutput::fence_path_of(&self.path);
        format!(
            "To start over: stop its workers, move {} and {} aside (or pick another --output) and use a new --namespace (README: \"Output out of step\")",
            self.path.display(),
            fence.display()
        )
    }

    /// The whole line: what is wrong, that nothing was cut, and how to start over.
    pub fn line(&self, namespace: Option<&str>) -> String {
        format!(
            "{}. Nothing was cut. {}",
            self.what(namespace),
            self.advice()
        )
    }
}

impl std::fmt::Display for OutOfStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line(None))
    }
}

/// Where an output stands against a lock document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The file is the bound output and holds at least the committed bytes.
    InStep {
        /// Its length now.
        on_disk: u64,
    },
    /// Neither the file nor its record exists here (it may live on another machine).
    Absent,
    /// The file is not what the lock document says.
    OutOfStep(OutOfStep),
}

/// Checks the output at `path` against lock `key`'s document, which commits
/// `committed` bytes of the output with id `bound`. Reads only, under a shared
/// lock on the record, so an operation in progress is never seen half done.
pub fn check(path: &Path, key: &str, committed: u64, bound: &str) -> Result<Step, OutputError> {
    let fence_path = FencedOutput::fence_path_of(path);
    check_regular(path)?;
    check_regular(&fence_path)?;
    let fence_err = |error| OutputError::Io {
        path: fence_path.clone(),
        error,
    };
    let mut sidecar_file = match File::open(&fence_path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(fence_err(e)),
    };
    let record = match sidecar_file.as_mut() {
        Some(f) => {
            f.lock_shared().map_err(fence_err)?;
            Some(sidecar::read(f).map_err(fence_err)?)
        }
        None => None,
    };
    let step = judge(path, key, committed, bound, record.as_ref());
    if let Some(f) = &sidecar_file {
        let _ = f.unlock();
    }
    step
}

fn judge(
    path: &Path,
    key: &str,
    committed: u64,
    bound: &str,
    record: Option<&sidecar::Record>,
) -> Result<Step, OutputError> {
    let io_err = |error| OutputError::Io {
        path: path.to_path_buf(),
        error,
    };
    let on_disk = match std::fs::metadata(path) {
        Ok(m) => Some(m.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(e)),
    };
    let out = |why| {
        Ok(Step::OutOfStep(OutOfStep {
            path: path.to_path_buf(),
            key: key.to_string(),
            on_disk,
            committed,
            why,
        }))
    };
    let Some(record) = record else {
        return match on_disk {
            None => Ok(Step::Absent),
            Some(_) => out(Why::Replaced {
                bound: bound.to_string(),
                found: None,
            }),
        };
    };
    // A record from a version that kept no id cannot be told from another output's.
    if !record.output.is_empty() && record.output != bound {
        return out(Why::Replaced {
            bound: bound.to_string(),
            found: Some(record.output.clone()),
        });
    }
    // The output's own watermark counts too: a store that forgot says less.
    let kept = committed.max(record.watermark);
    match on_disk {
        None if kept > 0 => return out(Why::Deleted),
        Some(n) if n < kept => return out(Why::Truncated),
        _ => {}
    }
    if let Some(t) = &record.tail
        && !tail::holds(path, t).map_err(io_err)?
    {
        return out(Why::Rewritten { at: t.at });
    }
    Ok(Step::InStep {
        on_disk: on_disk.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Claim;

    const RECORD: &[u8] = b"Maestro is the best......\n\n";

    fn claim(fence: u64) -> Claim {
        Claim {
            lock: "inc".into(),
            key: "lock:worker:c".into(),
            fence,
            owner: format!("w-{fence}"),
        }
    }

    /// An output with two records committed by fence 1 (54 bytes).
    fn two_records() -> (tempfile::TempDir, FencedOutput) {
        let dir = tempfile::tempdir().unwrap();
        let out = FencedOutput::create(&dir.path().join("o.txt")).unwrap();
        for n in 1..=2u64 {
            out.fence_in(&claim(n), RECORD.len() as u64 * (n - 1))
                .unwrap();
            out.append(&claim(n), RECORD).unwrap();
            out.committed(&claim(n), RECORD.len() as u64 * n).unwrap();
        }
        (dir, out)
    }

    fn why_refused(out: &FencedOutput) -> (Why, Option<u64>) {
        match out.fence_in(&claim(3), 54) {
            Err(OutputError::OutOfStep(o)) => (o.why, o.on_disk),
            other => panic!("not refused as out of step: {other:?}"),
        }
    }

    #[test]
    fn a_deleted_output_is_refused_and_remembered() {
        let (_dir, out) = two_records();
        assert_eq!(out.out_of_step(), None);
        std::fs::remove_file(out.path()).unwrap();
        assert_eq!(why_refused(&out), (Why::Deleted, None));
        // Nothing was made at the path, and the jobs of this process are told.
        assert!(!out.path().exists());
        assert_eq!(out.out_of_step().map(|o| o.committed), Some(54));
    }

    #[test]
    fn a_truncated_output_is_refused_and_not_extended() {
        let (_dir, out) = two_records();
        std::fs::write(out.path(), &RECORD[..10]).unwrap();
        assert_eq!(why_refused(&out), (Why::Truncated, Some(10)));
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn a_longer_replacement_is_refused_instead_of_cut() {
        let (_dir, out) = two_records();
        let other = vec![b'y'; 200];
        std::fs::write(out.path(), &other).unwrap();
        assert_eq!(why_refused(&out), (Why::Rewritten { at: 54 }, Some(200)));
        // Somebody else's file is left as it was, not cut to 54 bytes.
        assert_eq!(std::fs::read(out.path()).unwrap(), other);
    }

    #[test]
    fn a_torn_tail_after_the_committed_bytes_is_still_repaired() {
        let (_dir, out) = two_records();
        out.append(&claim(2), b"Maest").unwrap();
        let cut = out.fence_in(&claim(3), 54).unwrap();
        assert_eq!(cut.truncated(), 5);
    }

    #[test]
    fn the_line_names_the_file_the_bytes_the_key_and_the_way_back() {
        let o = OutOfStep {
            path: "/tmp/o.txt".into(),
            key: "lock:worker:acme".into(),
            on_disk: Some(0),
            committed: 81,
            why: Why::Truncated,
        };
        let line = o.line(Some("etl"));
        for part in [
            "/tmp/o.txt is out of step with lock:worker:acme in namespace \"etl\"",
            "0 bytes on disk, 81 bytes committed",
            "Nothing was cut",
            "move /tmp/o.txt and /tmp/o.txt.fence aside",
            "use a new --namespace",
        ] {
            assert!(line.contains(part), "{part:?} missing from {line}");
        }
        assert!(!line.contains('\n'));
    }

    #[test]
    fn check_tells_in_step_absent_and_replaced_apart() {
        let (_dir, out) = two_records();
        let path = out.path().to_path_buf();
        let step = |bound: &str| check(&path, "lock:worker:c", 54, bound).unwrap();
        assert_eq!(step(out.id()), Step::InStep { on_disk: 54 });
        match step("another-id") {
            Step::OutOfStep(o) => assert!(matches!(o.why, Why::Replaced { found: Some(_), .. })),
            s => panic!("{s:?}"),
        }
        std::fs::remove_file(out.fence_path()).unwrap();
        match step(out.id()) {
            Step::OutOfStep(o) => assert!(matches!(o.why, Why::Replaced { found: None, .. })),
            s => panic!("{s:?}"),
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(step(out.id()), Step::Absent);
    }
}
