//! One output operation in progress: the sidecar locked (threads, then processes)
//! and its record read, with the checks every operation shares.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::MutexGuard;

use super::{Claim, FencedOutput, OutputError, Record, sidecar, tail};

/// An operation in progress: the sidecar is locked until this drops.
pub(super) struct Locked<'a> {
    pub(super) out: &'a FencedOutput,
    pub(super) sidecar_file: File,
    pub(super) record: Record,
    pub(super) _local: MutexGuard<'a, ()>,
}

impl Locked<'_> {
    pub(super) fn io_err(&self, error: io::Error) -> OutputError {
        self.out.io_err(error)
    }

    pub(super) fn output_len(&self) -> Result<u64, OutputError> {
        self.output_size().map(|n| n.unwrap_or(0))
    }

    /// The output's length, `None` if there is no file.
    pub(super) fn output_size(&self) -> Result<Option<u64>, OutputError> {
        match std::fs::metadata(&self.out.path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_err(e)),
        }
    }

    /// Fingerprints the bytes below the watermark if the record's fingerprint
    /// ends elsewhere (the watermark rose), so a replaced file is seen later.
    pub(super) fn note_tail(&mut self) -> Result<(), OutputError> {
        let at = self.record.watermark;
        if self.record.tail.is_some_and(|t| t.at == at) {
            return Ok(());
        }
        let path = self.out.path.clone();
        self.record.tail = tail::read(&path, at).map_err(|e| self.io_err(e))?;
        Ok(())
    }

    /// The caller may act with this fence: not lower than the highest accepted, and
    /// if equal, the same holder.
    pub(super) fn check(&self, claim: &Claim) -> Result<(), OutputError> {
        let r = &self.record;
        if claim.fence < r.highest {
            return Err(OutputError::Fenced {
                fence: claim.fence,
                highest: r.highest,
            });
        }
        if claim.fence == r.highest
            && let Some(holder) = &r.holder
            && *holder != claim.owner
        {
            return Err(OutputError::FenceTaken {
                fence: claim.fence,
                holder: holder.clone(),
            });
        }
        Ok(())
    }

    /// The caller's lock document is the one this output belongs to (or the output
    /// belongs to none yet).
    pub(super) fn check_lock(&self, claim: &Claim) -> Result<(), OutputError> {
        match &self.record.lock {
            Some(ours) if *ours != claim.lock => Err(OutputError::OtherLock {
                path: self.out.path.clone(),
                ours_key: self.record.key.clone().unwrap_or_default(),
                ours: ours.clone(),
                theirs_key: claim.key.clone(),
                theirs: claim.lock.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Saves the record with one more operation counted; returns its sequence number.
    pub(super) fn save(&mut self) -> Result<u64, OutputError> {
        self.record.seq += 1;
        sidecar::write(&mut self.sidecar_file, &self.record).map_err(|e| self.out.io_err(e))?;
        Ok(self.record.seq)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.sidecar_file.unlock();
    }
}

/// Refuses a path that exists and is not a regular file: opening a FIFO for writing
/// blocks until a reader comes, and a device is no place for records.
pub(super) fn check_regular(path: &Path) -> Result<(), OutputError> {
    crate::paths::check_output(path).map_err(|n| OutputError::NotRegular { path: n.path })
}
