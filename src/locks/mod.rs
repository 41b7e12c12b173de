//! `joblock locks`: the lock keys of a store for an operator: `list` them, `show`
//! one with its recent history, and `release` (revoke) one at a named fence.
//!
//! Keys are named as a `joblock run --key` names them, without the `lock:`
//! prefix of their document. Listing and showing open the store read-only;
//! releasing first checks, read-only, that the key has a lock (so a mistyped key
//! or namespace creates nothing), then revokes with one compare-and-set that
//! matches only the fence named, so it can never free a newer holder.

mod lease;
mod list;
mod release;
mod show;
mod table;

pub use crate::lock::wall::iso_utc;
pub use lease::{LeaseLeft, Span};
pub use list::{Look, Row, list, rows, write_list};
pub use release::{Released, release, release_in};
pub use show::{BoundOutput, Detail, show, write_detail};

use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use crate::clock::Clock;
use crate::lock::revoke::is_revoked;
use crate::lock::state::{LOCK_PREFIX, recorded_real_lease};
use crate::lock::{Holder, LockDoc, LockError};
use crate::store::bounded::{DEFAULT_LIMIT, open_within};
use crate::store::{MemoryConfig, Store, StoreError, StoreUrl, open_store, open_store_read_only};

/// Why a `locks` command did not do what was asked; each is one line.
#[derive(Debug, Error)]
pub enum LocksError {
    /// The key has no lock document in this store.
    #[error("no lock {0} in this store")]
    NoSuchLock(String),
    /// The lock is not in the state the command needs (a stale fence, not held,
    /// already revoked); the text names the values.
    #[error("{0}")]
    Refused(String),
    /// The lock document does not look like one.
    #[error("{0}")]
    Malformed(String),
    /// The store failed, or could not be reached ([`LocksError::unreachable`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LocksError {
    /// Whether the store could not be reached.
    pub fn unreachable(&self) -> bool {
        matches!(self, LocksError::Store(StoreError::Unavailable(_)))
    }

    /// Whether the lock refused what was asked or does not exist (as opposed to a
    /// store that failed or answered something joblock cannot use).
    pub fn refused(&self) -> bool {
        matches!(self, LocksError::NoSuchLock(_) | LocksError::Refused(_))
    }
}

impl From<LockError> for LocksError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Store(e) => LocksError::Store(e),
            other => LocksError::Malformed(other.to_string()),
        }
    }
}

/// What a key's document says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Nobody holds it.
    Free,
    /// An owner holds it (alive or not: one read cannot tell).
    Held,
    /// Its holder was revoked; the tombstone holds it until that holder stops.
    Revoked,
}

impl KeyState {
    /// The state of `doc`.
    pub fn of(doc: &LockDoc) -> KeyState {
        match doc.owner.as_deref() {
            None => KeyState::Free,
            Some(o) if is_revoked(o) => KeyState::Revoked,
            Some(_) => KeyState::Held,
        }
    }

    /// The state's name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Free => "free",
            KeyState::Held => "held",
            KeyState::Revoked => "revoked",
        }
    }
}

/// What every `locks` view says of a key's document. The JSON field names are an
/// interface (flattened into each view's object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    /// The key, without the `lock:` prefix (what `run --key` names).
    pub key: String,
    /// `free`, `held` or `revoked`.
    pub state: KeyState,
    /// The owner id as stored (a revoked holder's tombstone is `revoked:<owner>`).
    pub owner: Option<String>,
    /// Who holds it (host, pid, command, start), when a `joblock run` does.
    pub holder: Option<Holder>,
    /// The fence of the latest acquisition.
    pub fence: u64,
    /// The holder's heartbeat counter.
    pub heartbeat: u64,
    /// The lease the holder keeps, in ms (`null` when free or not recorded).
    pub lease_ms: Option<u64>,
    /// The same lease in real ms: what the lease left is judged by (it differs
    /// from `lease_ms` for an engine at `--speed` other than 1; `null` when free
    /// or not recorded).
    pub lease_real_ms: Option<u64>,
}

impl KeyView {
    /// The view of `doc`.
    pub fn of(doc: &LockDoc) -> KeyView {
        KeyView {
            key: user_key(&doc.key).to_string(),
            state: KeyState::of(doc),
            owner: doc.owner.clone(),
            holder: doc.holder.clone(),
            fence: doc.fence,
            heartbeat: doc.heartbeat,
            // A free document keeps its last holder's lease: nobody's to show.
            lease_ms: doc.lease_ms.filter(|_| doc.owner.is_some()),
            lease_real_ms: recorded_real_lease(doc)
                .filter(|_| doc.owner.is_some())
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// The document `_id` of the lock a user calls `key` (`worker:acme` ->
/// `lock:worker:acme`).
pub fn lock_id(key: &str) -> String {
    format!("{LOCK_PREFIX}{key}")
}

/// The key a user calls the lock with document `_id` `id`.
pub fn user_key(id: &str) -> &str {
    id.strip_prefix(LOCK_PREFIX).unwrap_or(id)
}

/// Opens the store for reading only: nothing is created or written.
/// Like every open here, bounded in time: a server that never answers is
/// reported as unavailable, not waited on.
pub fn open_read(url: &StoreUrl, namespace: &str) -> Result<Arc<dyn Store>, LocksError> {
    let (u, ns) = (url.clone(), namespace.to_string());
    let store = open_within(url.kind(), DEFAULT_LIMIT, move || {
        open_store_read_only(&u, &ns)
    })?;
    Ok(Arc::new(store))
}

/// Opens the store for writing (a release).
fn open_write(url: &StoreUrl, namespace: &str) -> Result<Arc<dyn Store>, LocksError> {
    let (u, ns) = (url.clone(), namespace.to_string());
    let store = open_within(url.kind(), DEFAULT_LIMIT, move || {
        open_store(&u, &ns, &Clock::real(1.0), MemoryConfig::default(), 0)
    })?;
    Ok(Arc::new(store))
}
