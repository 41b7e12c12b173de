//! `joblock reseed`: put a lock document back from its output's own record, after
//! a store forgot its documents (Redis restarted without persistence, a table
//! truncated) or went back in time (a failover to a lagging replica).
//!
//! The output keeps, beside its fence, the lock document it belongs to (its
//! incarnation id), the highest fence it accepted and a watermark the store once
//! confirmed as committed (see [`crate::output`]). Runs that find the store behind
//! that record halt rather than cut records; this writes the document back so that
//! they can go on: the same incarnation, a fence no lower than the output's, and a
//! committed length no lower than its watermark.
//!
//! The watermark holds every record whose job reported it finished (a job reports
//! that only after the output recorded the store's confirmation). A record whose
//! release was announced but never confirmed (the store forgot first, or the job
//! died between the store's answer and the output's note) was reported by nobody;
//! by default it is left beyond the committed length, for the next holder to cut, so
//! that the output matches what the jobs reported. `keep_unconfirmed` keeps it.
//!
//! It only ever raises: it never lowers a fence or a committed length the store has,
//! and it refuses a lock somebody holds unless told it is dead.

use std::path::Path;

use thiserror::Error;

use crate::lock::{LockError, OutputBinding, raise_free, read_doc, restore};
use crate::output::{FencedOutput, OutputError};
use crate::store::{Store, StoreError};

/// Why a reseed could not be done.
#[derive(Debug, Error)]
pub enum ReseedError {
    /// The output has no record to reseed from.
    #[error("{0}: no fence file (PATH.fence) beside it: nothing to reseed from")]
    NoRecord(String),
    /// The output never had a holder fence in.
    #[error("{0}: no lock ever fenced in to this output: nothing to reseed from")]
    NeverFenced(String),
    /// The output's record names another key.
    #[error("{path} belongs to {theirs}, not to {ours}: pass --client for that key")]
    OtherKey {
        /// The output.
        path: String,
        /// The key its record names.
        theirs: String,
        /// The key asked for.
        ours: String,
    },
    /// Somebody holds the lock.
    #[error(
        "{key} is held by {owner} (fence {fence}): stop its workers first, or pass --force once it is surely dead"
    )]
    Held {
        /// The key.
        key: String,
        /// The holder.
        owner: String,
        /// Its fence.
        fence: u64,
    },
    /// The document changed while reseeding.
    #[error("{0} changed while reseeding: another process is using it; try again")]
    Changed(String),
    /// The output could not be read.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The stored document is malformed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bytes beyond the watermark an announced, unconfirmed release asked for (what
/// `keep_unconfirmed` would keep), read from the output's record.
pub fn unconfirmed(path: &Path) -> Result<u64, ReseedError> {
    let record = FencedOutput::read_record(path)?;
    Ok(record
        .and_then(|r| r.pending.map(|p| p.len.saturating_sub(r.watermark)))
        .unwrap_or(0))
}

/// What a reseed did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reseeded {
    /// The document was missing and was written back.
    Restored {
        /// Its fence.
        fence: u64,
        /// Its committed length.
        committed: u64,
    },
    /// The document existed but was behind the output, and was raised.
    Raised {
        /// Its fence now.
        fence: u64,
        /// Its committed length now.
        committed: u64,
    },
    /// The document already agreed with the output: nothing was written.
    InStep,
}

/// Reseeds the lock document `key` in `store` from the record of the output at `path`.
pub fn reseed(
    store: &dyn Store,
    key: &str,
    path: &Path,
    force: bool,
    keep_unconfirmed: bool,
) -> Result<Reseeded, ReseedError> {
    let shown = path.display().to_string();
    let record =
        FencedOutput::read_record(path)?.ok_or_else(|| ReseedError::NoRecord(shown.clone()))?;
    let lock = record
        .lock
        .clone()
        .ok_or_else(|| ReseedError::NeverFenced(shown.clone()))?;
    if let Some(theirs) = &record.key
        && theirs != key
    {
        return Err(ReseedError::OtherKey {
            path: shown,
            theirs: theirs.clone(),
            ours: key.to_string(),
        });
    }
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let announced = record
        .pending
        .as_ref()
        .filter(|_| keep_unconfirmed)
        .map_or(0, |p| p.len);
    let committed = record
        .watermark
        .max(if announced <= len { announced } else { 0 });
    let binding = OutputBinding {
        id: record.output.clone(),
        path: crate::output::recorded_path(path),
    };
    let Some(doc) = read_doc(store, key)? else {
        return if restore(store, key, record.highest, committed, &lock, &binding)? {
            Ok(Reseeded::Restored {
                fence: record.highest,
                committed,
            })
        } else {
            Err(ReseedError::Changed(key.to_string()))
        };
    };
    if doc.incarnation.as_deref() == Some(lock.as_str())
        && doc.fence >= record.highest
        && doc.committed >= record.watermark
    {
        return Ok(Reseeded::InStep);
    }
    if let Some(owner) = &doc.owner
        && !force
    {
        return Err(ReseedError::Held {
            key: key.to_string(),
            owner: owner.clone(),
            fence: doc.fence,
        });
    }
    let fence = doc.fence.max(record.highest);
    // Another incarnation's committed length counts bytes it never wrote here.
    let committed = if doc.incarnation.as_deref() == Some(lock.as_str()) {
        doc.committed.max(committed)
    } else {
        committed
    };
    if raise_free(store, &doc, fence, committed, &lock, &binding)? {
        Ok(Reseeded::Raised { fence, committed })
    } else {
        Err(ReseedError::Changed(key.to_string()))
    }
}
