//! Why the output refused or failed an operation.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::OutOfStep;

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
    /// The caller's fence equals the highest accepted, but another holder fenced in
    /// with it: two holders were given one fence (a store that went back in time).
    #[error("fence {fence} rejected: another holder ({holder}) already fenced in with it")]
    FenceTaken {
        /// The fence.
        fence: u64,
        /// The holder that has it.
        holder: String,
    },
    /// The file is not what its lock document says (deleted, truncated, replaced):
    /// somebody changed it behind the lock's back.
    #[error("{0}")]
    OutOfStep(Box<OutOfStep>),
    /// The lock says less is committed than the store once confirmed: cutting to it
    /// would destroy committed records.
    #[error(
        "{path}: {key} says {committed} bytes are committed, but the store confirmed {watermark} (up to fence {highest}); the store lost acknowledged writes. Nothing was cut. Resume with `joblock reseed` (see README, \"When the store forgets\")"
    )]
    BelowWatermark {
        /// The output file.
        path: PathBuf,
        /// The lock key.
        key: String,
        /// What the lock document says.
        committed: u64,
        /// What the output knows was committed.
        watermark: u64,
        /// The highest fence accepted.
        highest: u64,
    },
    /// The lock document is not the one this output belongs to.
    #[error("{}", other_lock(path, ours_key, ours, theirs_key, theirs))]
    OtherLock {
        /// The output file.
        path: PathBuf,
        /// The key the output belongs to.
        ours_key: String,
        /// That lock document's incarnation.
        ours: String,
        /// The caller's key.
        theirs_key: String,
        /// The caller's lock incarnation.
        theirs: String,
    },
    /// The sidecar was removed or replaced while this output was open.
    #[error(
        "{path}: its fence file {fence_path} was replaced while in use (output {ours}, now {now}); stop every writer and start over"
    )]
    Replaced {
        /// The output file.
        path: PathBuf,
        /// The sidecar.
        fence_path: PathBuf,
        /// The id this handle opened.
        ours: String,
        /// The id there now (empty: removed).
        now: String,
    },
    /// The path is not a regular file (a device, a FIFO, a directory).
    #[error("{path}: not a regular file")]
    NotRegular {
        /// The path.
        path: PathBuf,
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

/// The message for [`OutputError::OtherLock`]: the same key means the store made the
/// document anew (it forgot), another key means another lock shares the file.
fn other_lock(path: &Path, ours_key: &str, ours: &str, theirs_key: &str, theirs: &str) -> String {
    let path = path.display();
    if ours_key == theirs_key {
        format!(
            "{path}: the store forgot {ours_key}: its document was made anew (incarnation {theirs}, the output's is {ours}), so fences and the committed length started again. Nothing was cut. Stop its workers and resume with `joblock reseed` (README: \"When the store forgets\")"
        )
    } else {
        format!(
            "{path}: belongs to {ours_key}, not to {theirs_key}: another namespace or store writes to this file; give each its own --output. Nothing was cut"
        )
    }
}
