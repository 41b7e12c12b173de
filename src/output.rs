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
//!
//! **Across processes** (workers on one machine, or machines sharing a filesystem),
//! the highest fence and the sequence number live in a sidecar file `PATH.fence`,
//! and every operation runs under an exclusive OS lock on that file: check the
//! fence, write or truncate the output, record the new fence, unlock. So a write
//! from a process whose lease was taken over is rejected whichever process accepted
//! the newer fence. The guarantee is only as good as the filesystem's `flock`: local
//! filesystems honour it; NFS and other network filesystems may not.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
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
    fence_path: PathBuf,
    /// Serialises this process's threads; the file lock serialises processes.
    local: Mutex<()>,
}

/// The sidecar's contents: the highest fence accepted and the last sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sidecar {
    highest: u64,
    seq: u64,
}

/// An operation in progress: the sidecar is locked until this drops.
struct Locked<'a> {
    out: &'a FencedOutput,
    sidecar_file: File,
    sidecar: Sidecar,
    _local: MutexGuard<'a, ()>,
}

impl Locked<'_> {
    fn io_err(&self, error: io::Error) -> OutputError {
        self.out.io_err(error)
    }

    fn output_len(&self) -> Result<u64, OutputError> {
        match std::fs::metadata(&self.out.path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(self.io_err(e)),
        }
    }

    fn check(&self, fence: u64) -> Result<(), OutputError> {
        if fence < self.sidecar.highest {
            return Err(OutputError::Fenced {
                fence,
                highest: self.sidecar.highest,
            });
        }
        Ok(())
    }

    /// Records `fence` as accepted; returns the operation's sequence number.
    fn accept(&mut self, fence: u64) -> Result<u64, OutputError> {
        self.sidecar.highest = self.sidecar.highest.max(fence);
        self.sidecar.seq += 1;
        write_sidecar(&mut self.sidecar_file, self.sidecar).map_err(|e| self.out.io_err(e))?;
        Ok(self.sidecar.seq)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.sidecar_file.unlock();
    }
}

fn read_sidecar(f: &mut File) -> io::Result<Sidecar> {
    let mut text = String::new();
    f.seek(SeekFrom::Start(0))?;
    f.read_to_string(&mut text)?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<u64>());
    match (parts.next(), parts.next()) {
        (None, _) => Ok(Sidecar::default()),
        (Some(Ok(highest)), Some(Ok(seq))) => Ok(Sidecar { highest, seq }),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("fence file holds {text:?}, not \"FENCE SEQ\""),
        )),
    }
}

fn write_sidecar(f: &mut File, s: Sidecar) -> io::Result<()> {
    f.set_len(0)?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(format!("{} {}\n", s.highest, s.seq).as_bytes())
}

impl FencedOutput {
    /// Creates (or truncates) the file at `path` and resets its fence: a new run.
    pub fn create(path: &Path) -> Result<FencedOutput, OutputError> {
        let out = FencedOutput::open_shared(path)?;
        {
            let mut op = out.lock()?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| out.io_err(e))?;
            file.set_len(0).map_err(|e| out.io_err(e))?;
            op.sidecar = Sidecar::default();
            write_sidecar(&mut op.sidecar_file, op.sidecar).map_err(|e| out.io_err(e))?;
        }
        Ok(out)
    }

    /// Opens an output shared with other processes: nothing is truncated and the
    /// fence accepted so far is kept.
    pub fn open_shared(path: &Path) -> Result<FencedOutput, OutputError> {
        let io_err = |error| OutputError::Io {
            path: path.to_path_buf(),
            error,
        };
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err)?;
        let mut fence_path = path.as_os_str().to_owned();
        fence_path.push(".fence");
        let out = FencedOutput {
            path: path.to_path_buf(),
            fence_path: PathBuf::from(fence_path),
            local: Mutex::new(()),
        };
        drop(out.lock()?);
        Ok(out)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sidecar file holding the accepted fence.
    pub fn fence_path(&self) -> &Path {
        &self.fence_path
    }

    fn io_err(&self, error: io::Error) -> OutputError {
        OutputError::Io {
            path: self.path.clone(),
            error,
        }
    }

    /// Locks the sidecar (threads, then processes) and reads it.
    fn lock(&self) -> Result<Locked<'_>, OutputError> {
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let fence_err = |error| OutputError::Io {
            path: self.fence_path.clone(),
            error,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&self.fence_path)
            .map_err(fence_err)?;
        file.lock().map_err(fence_err)?;
        let sidecar = match read_sidecar(&mut file) {
            Ok(s) => s,
            Err(e) => {
                let _ = file.unlock();
                return Err(fence_err(e));
            }
        };
        Ok(Locked {
            out: self,
            sidecar_file: file,
            sidecar,
            _local: local,
        })
    }

    /// Raises the accepted fence to `fence` and truncates to `committed`.
    ///
    /// A new holder calls this before its first write; a failing holder calls it to
    /// undo its own partial record before releasing (the same operation: "put the file
    /// back to what the lock document says is committed").
    pub fn fence_in(&self, fence: u64, committed: u64) -> Result<FenceIn, OutputError> {
        let mut op = self.lock()?;
        op.check(fence)?;
        let from_len = op.output_len()?;
        if from_len < committed {
            return Err(OutputError::ShorterThanCommitted {
                path: self.path.clone(),
                actual: from_len,
                committed,
            });
        }
        if from_len > committed {
            let file = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(|e| op.io_err(e))?;
            file.set_len(committed).map_err(|e| op.io_err(e))?;
        }
        let seq = op.accept(fence)?;
        Ok(FenceIn {
            seq,
            from_len,
            to_len: committed,
        })
    }

    /// Appends `bytes` if `fence` is not lower than the highest fence accepted.
    pub fn append(&self, fence: u64, bytes: &[u8]) -> Result<Accepted, OutputError> {
        let mut op = self.lock()?;
        op.check(fence)?;
        let offset = op.output_len()?;
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| op.io_err(e))?;
        if let Err(e) = file.write_all(bytes) {
            // A short write may have landed partly: put the file back.
            let _ = file.set_len(offset);
            return Err(op.io_err(e));
        }
        let seq = op.accept(fence)?;
        Ok(Accepted {
            seq,
            offset,
            len: bytes.len() as u64,
        })
    }

    /// The highest fence accepted so far (0 before any).
    pub fn highest_fence(&self) -> u64 {
        self.lock().map(|op| op.sidecar.highest).unwrap_or(0)
    }

    /// The file's current length.
    pub fn len(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the file is empty.
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
    fn two_writers_on_one_file_share_the_fence_as_two_processes_would() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.txt");
        let a = FencedOutput::open_shared(&path).unwrap();
        let b = FencedOutput::open_shared(&path).unwrap();
        a.fence_in(1, 0).unwrap();
        a.append(1, b"Maest").unwrap();
        // Another process takes over with fence 2 and cuts the torn chunk.
        let cut = b.fence_in(2, 0).unwrap();
        assert_eq!(cut.truncated(), 5);
        assert!(matches!(
            a.append(1, b"ro is"),
            Err(OutputError::Fenced { .. })
        ));
        b.append(2, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        assert_eq!(std::fs::read_to_string(a.fence_path()).unwrap(), "2 4\n");
    }

    #[test]
    fn a_file_shorter_than_committed_is_reported_not_extended() {
        let (_dir, out) = temp_output();
        let err = out.fence_in(1, 10).unwrap_err();
        assert!(matches!(err, OutputError::ShorterThanCommitted { .. }));
    }
}
