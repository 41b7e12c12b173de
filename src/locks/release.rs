//! `joblock locks release KEY --fence N --force`: revokes the holder at fence N.
//!
//! It never frees the lock itself: [`revoke`] leaves a tombstone owner that holds
//! the key until the revoked holder has stopped its work, so no waiter starts
//! while that work may still run. A `joblock run` wrapper notices at its next
//! renewal, stops its command and frees the tombstone; any other holder (a demo
//! worker) stops writing, and a waiter takes the tombstone over once it has stood
//! still for the holder's lease, as after a crash.

use serde::Serialize;

use super::lease::secs;
use super::{LocksError, lock_id, open_read, open_write};
use crate::lock::history::{self, now_ms};
use crate::lock::read_doc;
use crate::lock::revoke::{RevokeError, revoke};
use crate::store::{Store, StoreUrl};

/// What a release did. The JSON field names are an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Released {
    /// The key, without the `lock:` prefix.
    pub key: String,
    /// The fence revoked.
    pub fence: u64,
    /// The owner whose lease was revoked.
    pub owner: String,
    /// Whether that owner is a `joblock run` wrapper (it described itself), which
    /// stops its command and frees the lock at once.
    pub wrapper: bool,
    /// The revoked holder's lease, in ms, if recorded.
    pub lease_ms: Option<u64>,
    /// Why the history did not record the revocation, if it did not (the
    /// revocation itself stands).
    pub history_error: Option<String>,
}

impl Released {
    /// The one-line report.
    pub fn line(&self) -> String {
        let what = format!(
            "revoked {} at fence {} (owner {})",
            self.key, self.fence, self.owner
        );
        if self.wrapper {
            return format!("{what}; its wrapper stops the command, then the next waiter acquires");
        }
        let lease = self
            .lease_ms
            .map_or(String::new(), |ms| format!(" (at least {})", secs(ms)));
        format!(
            "{what}; it loses the lock at its next renewal, and a waiter takes the lock over once it has stood still for a lease{lease}"
        )
    }
}

/// Releases `key` at `fence` in the store `url` names. The key's lock is looked
/// up read-only first, so that a mistyped key or namespace creates nothing (a
/// PostgreSQL store opened for writing makes its table).
pub fn release_in(
    url: &StoreUrl,
    namespace: &str,
    key: &str,
    fence: u64,
) -> Result<Released, LocksError> {
    if read_doc(open_read(url, namespace)?.as_ref(), &lock_id(key))?.is_none() {
        return Err(LocksError::NoSuchLock(key.to_string()));
    }
    release(open_write(url, namespace)?.as_ref(), key, fence)
}

/// Revokes `key` (named without the `lock:` prefix) at `fence` and records the
/// end in its history.
pub fn release(store: &dyn Store, key: &str, fence: u64) -> Result<Released, LocksError> {
    let id = lock_id(key);
    let before = read_doc(store, &id)?.ok_or_else(|| LocksError::NoSuchLock(key.to_string()))?;
    let owner = revoke(store, &id, fence).map_err(|e| refused(key, fence, e))?;
    // The document as read before the revocation describes the same acquisition
    // only if its fence is the one revoked (revoke matched exactly that fence).
    let same = before.fence == fence;
    let wrapper = same
        && before
            .holder
            .as_ref()
            .is_some_and(|h| h.owner == owner && h.is_wrapper());
    let history_error = history::record_ended(store, &id, fence, "revoked", now_ms(), None)
        .err()
        .map(|e| e.to_string());
    Ok(Released {
        key: key.to_string(),
        fence,
        owner,
        wrapper,
        lease_ms: before.lease_ms.filter(|_| same),
        history_error,
    })
}

/// A refused revocation in the user's words (the key without its prefix).
fn refused(key: &str, fence: u64, e: RevokeError) -> LocksError {
    match e {
        RevokeError::NoSuchLock(_) => LocksError::NoSuchLock(key.to_string()),
        RevokeError::StaleFence { current, .. } => LocksError::Refused(format!(
            "{key} is at fence {current}, not {fence}: refusing to release a holder you did not name (see joblock locks show {key})"
        )),
        RevokeError::NotHeld(_) => LocksError::Refused(format!(
            "{key} is not held at fence {fence}: its holder already released it"
        )),
        RevokeError::AlreadyRevoked(_) => LocksError::Refused(format!(
            "{key} is already revoked at fence {fence}: its holder is stopping (or its lease runs out)"
        )),
        RevokeError::Busy(_) => LocksError::Refused(format!(
            "{key} kept changing while it was revoked at fence {fence}; nothing was changed, try again"
        )),
        RevokeError::Lock(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::lock::{Holder, LockDoc};
    use crate::store::{MemoryConfig, MemoryStore};

    fn store_with(doc: LockDoc) -> MemoryStore {
        let store = MemoryStore::new(Clock::real(1.0), MemoryConfig::default(), 0);
        store.insert_one(doc.to_value()).unwrap();
        store
    }

    fn held(holder: Option<Holder>) -> LockDoc {
        LockDoc {
            owner: Some("run-1".into()),
            fence: 7,
            lease_ms: Some(3000),
            holder,
            ..LockDoc::free("lock:w:a")
        }
    }

    #[test]
    fn a_wrapper_is_told_apart_from_a_bare_holder() {
        let h = Holder {
            owner: "run-1".into(),
            host: "box".into(),
            pid: 1,
            command: vec!["true".into()],
            job: None,
            started_at_ms: 0,
        };
        let r = release(&store_with(held(Some(h.clone()))), "w:a", 7).unwrap();
        assert!(r.wrapper, "{r:?}");
        assert!(
            r.line().contains("its wrapper stops the command"),
            "{}",
            r.line()
        );
        let r = release(&store_with(held(None)), "w:a", 7).unwrap();
        assert!(!r.wrapper, "{r:?}");
        // An engine's job describes itself too, but runs no command to stop.
        let job = Holder {
            command: vec![],
            job: Some(3),
            ..h
        };
        let r = release(&store_with(held(Some(job))), "w:a", 7).unwrap();
        assert!(!r.wrapper, "{r:?}");
        assert!(
            r.line()
                .ends_with("stood still for a lease (at least 3.0s)"),
            "{}",
            r.line()
        );
    }

    #[test]
    fn refusals_name_the_key_and_both_fences() {
        let err = release(&store_with(held(None)), "w:a", 6).unwrap_err();
        assert!(matches!(err, LocksError::Refused(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("w:a is at fence 7, not 6"), "{text}");
        let store = store_with(LockDoc {
            fence: 7,
            ..LockDoc::free("lock:w:a")
        });
        let text = release(&store, "w:a", 7).unwrap_err().to_string();
        assert!(text.contains("w:a is not held at fence 7"), "{text}");
        let text = release(&store, "w:b", 7).unwrap_err().to_string();
        assert_eq!(text, "no lock w:b in this store");
    }
}
