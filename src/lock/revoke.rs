//! Force-release that can never free a newer holder, and never lets a waiter in
//! while the revoked holder's work may still run.
//!
//! `revoke` is one compare-and-set on the exact state read, and only if the fence
//! is still the one the operator named. It does not free the lock: it leaves a
//! tombstone owner ([`revoked_owner`]) that is held like any owner. The revoked
//! holder's next renewal finds its owner gone; its wrapper stops the work and then
//! frees the tombstone ([`free_revoked`]), so the next waiter starts at once. If
//! that wrapper is gone or frozen, the tombstone's heartbeat stands still and a
//! waiter takes it over after a whole lease, as after any crash.

use serde_json::json;
use thiserror::Error;

use super::state::read_doc;
use super::{LockDoc, LockError, REVOKED_PREFIX, revoked_owner};
use crate::store::{Store, StoreError};

/// Why a revocation was refused.
#[derive(Debug, Clone, Error)]
pub enum RevokeError {
    /// No lock document has this key.
    #[error("no lock {0} in this store")]
    NoSuchLock(String),
    /// The fence named is not the current one: a newer holder (or none) has it.
    #[error(
        "{key} is at fence {current}, not {asked}: refusing to release a holder you did not name"
    )]
    StaleFence {
        /// The lock key.
        key: String,
        /// The fence the operator named.
        asked: u64,
        /// The document's fence.
        current: u64,
    },
    /// Nobody holds the lock at that fence.
    #[error("{0} is not held (its holder already released it)")]
    NotHeld(String),
    /// It is revoked already and waits for its holder to stop.
    #[error("{0} is already revoked; its holder is stopping (or its lease runs out)")]
    AlreadyRevoked(String),
    /// The document changed under every attempt.
    #[error("{0} kept changing; try again")]
    Busy(String),
    /// The lock or the store failed.
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl From<StoreError> for RevokeError {
    fn from(e: StoreError) -> Self {
        RevokeError::Lock(LockError::Store(e))
    }
}

/// Whether an owner id is a revoked holder's tombstone.
pub fn is_revoked(owner: &str) -> bool {
    owner.starts_with(REVOKED_PREFIX)
}

/// Revokes the lease of `key` at `fence`; returns the owner it revoked.
pub fn revoke(store: &dyn Store, key: &str, fence: u64) -> Result<String, RevokeError> {
    // A renewal between our read and our write changes the heartbeat; read again.
    for _ in 0..16 {
        let doc = read_doc(store, key)?.ok_or_else(|| RevokeError::NoSuchLock(key.into()))?;
        if doc.fence != fence {
            return Err(RevokeError::StaleFence {
                key: key.into(),
                asked: fence,
                current: doc.fence,
            });
        }
        let owner = match &doc.owner {
            None => return Err(RevokeError::NotHeld(key.into())),
            Some(o) if is_revoked(o) => return Err(RevokeError::AlreadyRevoked(key.into())),
            Some(o) => o.clone(),
        };
        let set = json!({ "owner": revoked_owner(&owner), "heartbeat": doc.heartbeat + 1 });
        if store.update_one(&doc.cas_filter(), &set)?.is_some() {
            return Ok(owner);
        }
    }
    Err(RevokeError::Busy(key.into()))
}

/// Frees the tombstone `revoke` left for `owner` at `fence`, once its work has
/// stopped. False if there is none (a waiter already took the lock over).
pub fn free_revoked(
    store: &dyn Store,
    key: &str,
    owner: &str,
    fence: u64,
) -> Result<bool, LockError> {
    let tomb = revoked_owner(owner);
    for _ in 0..16 {
        let Some(doc) = read_doc(store, key)? else {
            return Ok(false);
        };
        if doc.fence != fence || doc.owner.as_deref() != Some(tomb.as_str()) {
            return Ok(false);
        }
        let set = json!({ "owner": null, "heartbeat": doc.heartbeat + 1 });
        if store.update_one(&doc.cas_filter(), &set)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `doc` shows `owner`'s lease at `fence` revoked (rather than taken over).
pub fn was_revoked(doc: &LockDoc, owner: &str, fence: u64) -> bool {
    doc.fence == fence && doc.owner.as_deref() == Some(revoked_owner(owner).as_str())
}
