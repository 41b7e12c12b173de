//! Why a wrapper stops its command, and how it finds out whether a lost lease was
//! revoked by an operator or taken over.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::RunConfig;
use crate::lock::revoke::was_revoked;
use crate::lock::state::read_doc;
use crate::lock::{Lease, LockDoc, LockError};
use crate::store::Store;

/// Why the wrapper is stopping the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stop {
    /// No renewal succeeded within the margin before the lease's end.
    NotRenewed,
    /// The wrapper itself was frozen (SIGSTOP, starved) past the point where the
    /// guardian had to act.
    Frozen,
    /// An operator revoked the lease (`joblock locks release --force`).
    Revoked,
    /// Somebody else holds the lock now.
    TakenOver(String),
}

impl Stop {
    pub(super) fn why(&self, config: &RunConfig) -> String {
        match self {
            Stop::NotRenewed => format!(
                "the lease could not be renewed in time (it ends in {:.1} s or less)",
                (config.grace + config.margin()).as_secs_f64()
            ),
            Stop::Frozen => "the wrapper was frozen (stopped or starved) past its lease, so the guardian had to stop the command".into(),
            Stop::Revoked => "the lease was revoked (joblock locks release --force)".into(),
            Stop::TakenOver(by) => format!("the lock was taken over ({by})"),
        }
    }

    pub(super) fn history_word(&self) -> &'static str {
        match self {
            Stop::NotRenewed | Stop::Frozen => "expired",
            Stop::Revoked => "revoked",
            Stop::TakenOver(_) => "lost",
        }
    }
}

/// Why `lease` was lost: revoked by an operator, or taken over.
pub(super) fn lost_why(store: &Arc<dyn Store>, lease: &Lease) -> Stop {
    match read_doc(store.as_ref(), lease.key()) {
        Ok(Some(doc)) if was_revoked(&doc, lease.owner(), lease.fence()) => Stop::Revoked,
        other => taken_over(other),
    }
}

/// [`lost_why`] within `limit`: the watch loop must not wait on a store that
/// stopped answering, and without an answer the safe reading is a takeover.
pub(super) fn lost_why_within(store: &Arc<dyn Store>, lease: &Lease, limit: Duration) -> Stop {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let (store, key, owner, fence) = (
        store.clone(),
        lease.key().to_string(),
        lease.owner().to_string(),
        lease.fence(),
    );
    let spawned = thread::Builder::new()
        .name("why-lost".into())
        .spawn(move || {
            let why = match read_doc(store.as_ref(), &key) {
                Ok(Some(doc)) if was_revoked(&doc, &owner, fence) => Stop::Revoked,
                other => taken_over(other),
            };
            let _ = tx.send(why);
        });
    match spawned.ok().and_then(|_| rx.recv_timeout(limit).ok()) {
        Some(why) => why,
        None => Stop::TakenOver("the store did not say by whom in time".into()),
    }
}

/// What a takeover looks like from the document read.
fn taken_over(read: Result<Option<LockDoc>, LockError>) -> Stop {
    Stop::TakenOver(match read {
        Ok(Some(doc)) => match doc.owner {
            Some(o) => format!("now fence {} held by {o}", doc.fence),
            None => format!("now fence {}, free", doc.fence),
        },
        Ok(None) => "the lock document is gone".into(),
        Err(e) => format!("the store says no more: {e}"),
    })
}
