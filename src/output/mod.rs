//! The fenced, repairable output file: the last line of defence.
//!
//! The lock alone cannot keep the output correct: a holder can freeze (a GC pause, a
//! stopped VM) between checking that it still holds the lock and writing, wake up
//! after its lease was taken over, and write anyway. So the output itself checks the
//! fencing token: it remembers the highest fence it has accepted, and the holder that
//! fenced in with it, and rejects any operation that carries a lower fence, or the
//! same fence from somebody else (PROTOCOL §3.7).
//!
//! Torn records are repaired by truncation (PROTOCOL §3.8): every new holder first
//! "fences in" with the committed length it read from the lock document, which
//! raises the accepted fence and cuts off whatever a dead or failed holder left
//! half-written. Every accepted operation gets a sequence number in the writer's own
//! order, so the run's invariant checker can reason about write order without
//! trusting timestamps taken on different threads.
//!
//! **The output never loses a committed record**, even when the store does. It keeps
//! its own record ([`sidecar::Record`]): the lock document it belongs to (by that
//! document's incarnation id) and a watermark, a length the store confirmed as
//! committed. A fence-in that would cut below the watermark, or that comes from a
//! different lock document (the store forgot its documents and made a new one, or
//! another namespace shares this file), is refused with an error that says so,
//! instead of "repairing" committed records away.
//!
//! **Across processes** (workers on one machine, or machines sharing a filesystem),
//! that record lives in a sidecar file `PATH.fence`, and every operation runs under
//! an exclusive OS lock on that file: check, write or truncate the output, update the
//! record, unlock. The guarantee is only as good as the filesystem's `flock`: local
//! filesystems honour it; NFS and other network filesystems may not.

mod error;
mod locked;
mod open;
pub mod sidecar;
pub mod step;
pub mod tail;
#[cfg(test)]
mod tests;

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use error::OutputError;
use locked::{Locked, check_regular};
pub use open::recorded_path;
pub use sidecar::{Pending, Record};
pub use step::{OutOfStep, Step, Why};

/// Who acts on the output: a lock holder, named by its lock document, fence and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The lock document's incarnation id (random, made when it was created).
    pub lock: String,
    /// The lock key.
    pub key: String,
    /// The fencing token of the holder's acquisition.
    pub fence: u64,
    /// The holder's owner id.
    pub owner: String,
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

/// One output file guarded by a fencing token and its own committed watermark.
#[derive(Debug)]
pub struct FencedOutput {
    path: PathBuf,
    fence_path: PathBuf,
    /// The id of the sidecar this handle opened: if it changes, the file was replaced.
    id: String,
    /// Serialises this process's threads; the file lock serialises processes.
    local: Mutex<()>,
    /// Set once this output was found out of step with its lock: every later job
    /// of this process would hit the same wall, so they are told before they try.
    out_of_step: Mutex<Option<OutOfStep>>,
}

impl FencedOutput {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sidecar file holding the output's record.
    pub fn fence_path(&self) -> &Path {
        &self.fence_path
    }

    /// This output's id (a lock document names the output it commits to by it).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn io_err(&self, error: io::Error) -> OutputError {
        OutputError::Io {
            path: self.path.clone(),
            error,
        }
    }

    /// Locks the sidecar (threads, then processes), reads it and checks that it is
    /// still the one this handle opened.
    fn lock(&self) -> Result<Locked<'_>, OutputError> {
        let op = self.lock_unchecked()?;
        if op.record.output != self.id {
            return Err(OutputError::Replaced {
                path: self.path.clone(),
                fence_path: self.fence_path.clone(),
                ours: self.id.clone(),
                now: op.record.output.clone(),
            });
        }
        Ok(op)
    }

    fn lock_unchecked(&self) -> Result<Locked<'_>, OutputError> {
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
        let record = match sidecar::read(&mut file) {
            Ok(r) => r,
            Err(e) => {
                let _ = file.unlock();
                return Err(fence_err(e));
            }
        };
        Ok(Locked {
            out: self,
            sidecar_file: file,
            record,
            _local: local,
        })
    }

    /// Raises the accepted fence to the claim's and truncates to `committed`.
    ///
    /// A new holder calls this before its first write; a failing holder calls it to
    /// undo its own partial record before releasing (the same operation: "put the file
    /// back to what the lock document says is committed"). `committed` is what the
    /// store says, so it also confirms an announced commit and raises the watermark;
    /// it is refused if it is below the watermark, or if the claim's lock document is
    /// not the one this output belongs to.
    pub fn fence_in(&self, claim: &Claim, committed: u64) -> Result<FenceIn, OutputError> {
        let mut op = self.lock()?;
        op.check_lock(claim)?;
        op.check(claim)?;
        let r = &mut op.record;
        if let Some(p) = &r.pending {
            if committed >= p.len {
                // The announced release applied: the store says so.
                r.watermark = r.watermark.max(p.len);
                r.pending = None;
            } else if claim.fence > p.fence {
                // A later holder of the same lock document read less: committed only
                // grows in a document, so that release never applied.
                r.pending = None;
            }
        }
        if committed < r.watermark {
            return Err(OutputError::BelowWatermark {
                path: self.path.clone(),
                key: claim.key.clone(),
                committed,
                watermark: r.watermark,
                highest: r.highest,
            });
        }
        let on_disk = op.output_size()?;
        let from_len = on_disk.unwrap_or(0);
        let why = match (on_disk, &op.record.tail) {
            (None, _) if committed > 0 => Some(Why::Deleted),
            (_, _) if from_len < committed => Some(Why::Truncated),
            (_, Some(t)) if !tail::holds(&self.path, t).map_err(|e| op.io_err(e))? => {
                Some(Why::Rewritten { at: t.at })
            }
            _ => None,
        };
        if let Some(why) = why {
            return Err(self.found_out_of_step(OutOfStep {
                path: self.path.clone(),
                key: claim.key.clone(),
                on_disk,
                committed,
                why,
            }));
        }
        let mut file = OpenOptions::new();
        // Nothing committed and no file (deleted before anything was kept): start it.
        file.write(true).create(committed == 0);
        let file = file.open(&self.path).map_err(|e| op.io_err(e))?;
        if from_len > committed {
            file.set_len(committed).map_err(|e| op.io_err(e))?;
        }
        let r = &mut op.record;
        r.highest = claim.fence;
        r.holder = Some(claim.owner.clone());
        r.lock = Some(claim.lock.clone());
        r.key = Some(claim.key.clone());
        r.watermark = r.watermark.max(committed);
        op.note_tail()?;
        let seq = op.save()?;
        Ok(FenceIn {
            seq,
            from_len,
            to_len: committed,
        })
    }

    /// Appends `bytes` if the claim's fence is the highest accepted (or higher) and,
    /// if equal, the claim is the holder that fenced in with it.
    pub fn append(&self, claim: &Claim, bytes: &[u8]) -> Result<Accepted, OutputError> {
        let mut op = self.lock()?;
        op.check_lock(claim)?;
        op.check(claim)?;
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
        op.record.highest = op.record.highest.max(claim.fence);
        let seq = op.save()?;
        Ok(Accepted {
            seq,
            offset,
            len: bytes.len() as u64,
        })
    }

    /// Announces that the claim is about to release with `len` bytes committed.
    ///
    /// Called just before the release is sent: if the store forgets its documents
    /// before [`FencedOutput::committed`] records the answer, `joblock reseed` keeps
    /// the announced record rather than cut it (keeping a whole record is recoverable;
    /// losing a committed one is not).
    pub fn will_commit(&self, claim: &Claim, len: u64) -> Result<(), OutputError> {
        let mut op = self.lock()?;
        op.check_lock(claim)?;
        op.check(claim)?;
        op.record.pending = Some(Pending {
            fence: claim.fence,
            owner: claim.owner.clone(),
            len,
        });
        op.save().map(drop)
    }

    /// Records that the store confirmed `len` bytes as committed by the claim's
    /// release: from now on nothing below `len` is cut.
    ///
    /// A confirmed release is true whatever fences came since, so a lower fence is
    /// fine here; only a length the file does not have is refused.
    pub fn committed(&self, claim: &Claim, len: u64) -> Result<(), OutputError> {
        let mut op = self.lock()?;
        op.check_lock(claim)?;
        let on_disk = op.output_size()?;
        if on_disk.unwrap_or(0) < len {
            return Err(self.found_out_of_step(OutOfStep {
                path: self.path.clone(),
                key: claim.key.clone(),
                on_disk,
                committed: len,
                why: if on_disk.is_none() {
                    Why::Deleted
                } else {
                    Why::Truncated
                },
            }));
        }
        let r = &mut op.record;
        if r.pending.as_ref().is_some_and(|p| p.fence == claim.fence) {
            r.pending = None;
        }
        r.watermark = r.watermark.max(len);
        op.note_tail()?;
        op.save().map(drop)
    }

    /// Remembers that this output is out of step with its lock (see
    /// [`FencedOutput::out_of_step`]) and returns the error that says so.
    pub fn found_out_of_step(&self, o: OutOfStep) -> OutputError {
        let mut slot = self.out_of_step.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| o.clone());
        OutputError::OutOfStep(Box::new(o))
    }

    /// The first time this output was found out of step with its lock, if it was:
    /// the jobs of this process stop taking the lock for it.
    pub fn out_of_step(&self) -> Option<OutOfStep> {
        self.out_of_step
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The output's record as it stands (fence, watermark, lock, pending commit).
    pub fn record(&self) -> Result<Record, OutputError> {
        self.lock().map(|op| op.record.clone())
    }

    /// The highest fence accepted so far (0 before any).
    pub fn highest_fence(&self) -> u64 {
        self.lock().map(|op| op.record.highest).unwrap_or(0)
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
