//! The fenced, repairable output file.
//!
//! The lock alone cannot keep the output correct: a holder can freeze (a GC pause, a
//! stopped VM) between checking that it still holds the lock and writing, wake up
//! after its lease was taken over, and write anyway. So the output itself checks the
//! fencing token: it remembers the highest fence it has accepted and rejects any
//! operation that carries a lower one (DESIGN §3.7).
//!
//! Torn records are repaired by truncation (DESIGN §3.8): every new holder first
//! "fences in" with the committed length it read from the lock document, which
//! raises the accepted fence and cuts off whatever a dead or failed holder left
//! half-written. Every accepted operation gets a sequence number in the writer's own
//! order, so the run's invariant checker can reason about write order without
//! trusting timestamps taken on different threads.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use thiserror::Error;

/// Why the output refused or failed an operation.
#[derive(Debug, Error)]
pub enum OutputError {
    /// The caller's fence is lower than one already accepted: it lost the lock.
    #[error("fence {fence} rejected: the output already accepted fence {highest}")]
    Fenced {
        /// The caller's fence.
        fence: u64,
        /// The highest fence accepted so far.
        highest: u64,
    },
    /// The file is shorter than the committed length: someone else changed it.
    #[error("{path}: file is {actual} bytes, shorter than the {committed} committed bytes")]
    ShorterThanCommitted {
        /// The output file.
        path: PathBuf,
        /// Its length now.
        actual: u64,
        /// The length the lock document says is committed.
        committed: u64,
    },
    /// The file could not be created, written or truncated.
    #[error("{path}: {error}")]
    Io {
        /// The output file.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
}

/// An accepted append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Position of this operation in the writer's order.
    pub seq: u64,
    /// Where the bytes start.
    pub offset: u64,
    /// How many bytes were written.
    pub len: u64,
}

/// An accepted fence-in (or repair): the fence was raised and the tail cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FenceIn {
    /// Position of this operation in the writer's order.
    pub seq: u64,
    /// File length before the operation.
    pub from_len: u64,
    /// File length after it (the committed length).
    pub to_len: u64,
}

impl FenceIn {
    /// Bytes removed by the repair (0 when nothing was torn).
    pub fn truncated(&self) -> u64 {
        self.from_len - self.to_len
    }
}

/// One output file guarded by a fencing token.
#[derive(Debug)]
pub struct FencedOutput {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    len: u64,
    highest: u64,
    next_seq: u64,
}

impl FencedOutput {
    /// Creates (or truncates) the file at `path`, opened in append mode.
    pub fn create(path: &Path) -> Result<FencedOutput, OutputError> {
        let io_err = |error| OutputError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err)?;
        // Truncate only once the file is open, so a bad path leaves nothing behind.
        file.set_len(0).map_err(io_err)?;
        Ok(FencedOutput {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file,
                len: 0,
                highest: 0,
                next_seq: 1,
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn io_err(&self, error: io::Error) -> OutputError {
        OutputError::Io {
            path: self.path.clone(),
            error,
        }
    }

    /// Raises the accepted fence to `fence` and truncates to `committed`.
    ///
    /// A new holder calls this before its first write; a failing holder calls it to
    /// undo its own partial record before releasing (the same operation: "put the file
    /// back to what the lock document says is committed").
    pub fn fence_in(&self, fence: u64, committed: u64) -> Result<FenceIn, OutputError> {
        let mut st = self.state();
        if fence < st.highest {
            return Err(OutputError::Fenced {
                fence,
                highest: st.highest,
            });
        }
        if st.len < committed {
            return Err(OutputError::ShorterThanCommitted {
                path: self.path.clone(),
                actual: st.len,
                committed,
            });
        }
        let from_len = st.len;
        if from_len > committed {
            st.file.set_len(committed).map_err(|e| self.io_err(e))?;
            st.len = committed;
        }
        st.highest = fence;
        let seq = st.next_seq;
        st.next_seq += 1;
        Ok(FenceIn {
            seq,
            from_len,
            to_len: committed,
        })
    }

    /// Appends `bytes` if `fence` is not lower than the highest fence accepted.
    pub fn append(&self, fence: u64, bytes: &[u8]) -> Result<Accepted, OutputError> {
        let mut st = self.state();
        if fence < st.highest {
            return Err(OutputError::Fenced {
                fence,
                highest: st.highest,
            });
        }
        let offset = st.len;
        if let Err(e) = st.file.write_all(bytes) {
            // A short write may have landed partly: put the file back.
            let _ = st.file.set_len(offset);
            return Err(self.io_err(e));
        }
        st.len += bytes.len() as u64;
        st.highest = fence;
        let seq = st.next_seq;
        st.next_seq += 1;
        Ok(Accepted {
            seq,
            offset,
            len: bytes.len() as u64,
        })
    }

    /// The highest fence accepted so far (0 before any).
    pub fn highest_fence(&self) -> u64 {
        self.state().highest
    }

    /// The file's current length as this writer knows it.
    pub fn len(&self) -> u64 {
        self.state().len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_output() -> (tempfile::TempDir, FencedOutput) {
        let dir = tempfile::tempdir().unwrap();
        let out = FencedOutput::create(&dir.path().join("out.txt")).unwrap();
        (dir, out)
    }

    #[test]
    fn fenced_writer_cannot_append_after_a_higher_fence_was_accepted() {
        let (_dir, out) = temp_output();
        out.fence_in(1, 0).unwrap();
        out.append(1, b"hello").unwrap();
        out.fence_in(2, 5).unwrap();
        let err = out.append(1, b"late!").unwrap_err();
        assert!(matches!(
            err,
            OutputError::Fenced {
                fence: 1,
                highest: 2
            }
        ));
        assert_eq!(std::fs::read(out.path()).unwrap(), b"hello");
    }

    #[test]
    fn fence_in_truncates_a_torn_tail_to_the_committed_length() {
        let (_dir, out) = temp_output();
        out.fence_in(1, 0).unwrap();
        out.append(1, b"whole").unwrap();
        out.append(1, b"tor").unwrap();
        let fin = out.fence_in(2, 5).unwrap();
        assert_eq!((fin.from_len, fin.to_len, fin.truncated()), (8, 5, 3));
        assert_eq!(std::fs::read(out.path()).unwrap(), b"whole");
        out.append(2, b"next").unwrap();
        assert_eq!(std::fs::read(out.path()).unwrap(), b"wholenext");
    }

    #[test]
    fn fence_in_with_a_lower_fence_is_rejected_and_changes_nothing() {
        let (_dir, out) = temp_output();
        out.fence_in(3, 0).unwrap();
        out.append(3, b"abc").unwrap();
        assert!(out.fence_in(2, 0).is_err());
        assert_eq!(out.len(), 3);
        assert_eq!(out.highest_fence(), 3);
    }

    #[test]
    fn sequence_numbers_follow_the_writers_order() {
        let (_dir, out) = temp_output();
        let a = out.fence_in(1, 0).unwrap().seq;
        let b = out.append(1, b"x").unwrap().seq;
        let c = out.append(1, b"y").unwrap().seq;
        assert!(a < b && b < c);
    }

    #[test]
    fn a_file_shorter_than_committed_is_reported_not_extended() {
        let (_dir, out) = temp_output();
        let err = out.fence_in(1, 10).unwrap_err();
        assert!(matches!(err, OutputError::ShorterThanCommitted { .. }));
    }
}
