//! The lock protocol (docs/PROTOCOL.md §3), built on the store's operations alone.
//!
//! * The very first acquisition of a key is an `insert_one`; `DuplicateKey` means the
//!   document exists. There is no find-then-insert.
//! * Every later change is a compare-and-set: `update_one` filtered on the exact
//!   owner, fence and heartbeat the caller observed. `None` back means it lost.
//! * Each acquisition sets `fence` to one more than the document's fence. The
//!   document is never deleted, so fences grow for the key's whole life.
//! * Renewal and release filter on the caller's owner *and* fence ([`Lease`]).
//! * Expiry never compares clocks across processes: a waiter that sees the same
//!   (fence, heartbeat) for a whole lease on its own monotonic clock may take over
//!   with a CAS on exactly those values.
//! * A waiter gives up after `give_up` and leaves nothing behind (it only read).

mod acquire;
mod admin;
mod attempt;
mod doc;
mod handle;
pub mod history;
mod holder;
mod lease;
mod presence;
mod queue;
pub mod revoke;
pub mod state;
pub mod wall;

pub use admin::{raise_free, rebind, restore};
pub use doc::{LockDoc, OutputBinding, lock_key, new_incarnation};
pub use holder::Holder;
pub use lease::{Lease, Renewal};
pub use presence::Presence;
pub use queue::LocalQueue;
pub use state::{LeaseState, Stillness, Survey, read_doc, survey};

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;

use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// Errors the lock reports to its caller.
#[derive(Debug, Clone, Error)]
pub enum LockError {
    /// The lock document exists but does not look like one.
    #[error("malformed lock document: {0}")]
    Malformed(String),
    /// The lock document commits to another output file: acquiring it and
    /// "repairing" this one to its committed length would destroy records.
    #[error(
        "{key} commits to the output {bound_path} (id {bound_id}), not to {ours_path} (id {ours_id}): another run or fleet uses this key; give this one its own --namespace (or the same --output)"
    )]
    OtherOutput {
        /// The lock key.
        key: String,
        /// The output the document is bound to.
        bound_path: String,
        /// Its id.
        bound_id: String,
        /// The caller's output.
        ours_path: String,
        /// Its id.
        ours_id: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Timing of the protocol, in scenario time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockConfig {
    /// How long a holder's heartbeat may stand still before a waiter may take over.
    pub lease: Duration,
    /// Pause between a waiter's attempts.
    pub retry: Duration,
    /// How long a waiter tries before it gives up.
    pub give_up: Duration,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            lease: Duration::from_secs(3),
            retry: Duration::from_millis(100),
            give_up: Duration::from_secs(2000),
        }
    }
}

/// What one acquisition attempt saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Somebody holds the lock with this fence and heartbeat.
    Held {
        /// The holder's id.
        owner: String,
        /// The holder's fence.
        fence: u64,
        /// The heartbeat value seen.
        heartbeat: u64,
    },
    /// The lock was free (or expired) but another waiter's CAS won.
    LostRace,
    /// The store failed; the attempt counts and the waiter retries.
    StoreError(String),
}

/// How the lock was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The first acquisition ever: the document was inserted.
    Created,
    /// The lock was free (released by its last holder).
    Free,
    /// The holder's heartbeat stood still for a whole lease; we took over.
    Takeover {
        /// The previous holder's id.
        owner: String,
        /// The previous holder's fence.
        fence: u64,
    },
}

/// Facts about a successful acquisition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquisition {
    /// Attempts made, including the successful one.
    pub attempts: u32,
    /// Scenario time spent before acquiring.
    pub waited: Duration,
    /// How the lock was obtained.
    pub via: Via,
    /// Output length committed by earlier holders (truncate back to this).
    pub committed: u64,
}

/// How `acquire` ended.
pub enum AcquireOutcome {
    /// We hold the lock.
    Acquired(Arc<Lease>, Acquisition),
    /// `give_up` passed without acquiring; nothing was left in the store.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Scenario time spent waiting.
        waited: Duration,
    },
    /// The caller's abort predicate became true while waiting.
    Aborted {
        /// Attempts made.
        attempts: u32,
        /// Scenario time spent waiting.
        waited: Duration,
    },
}

/// Hooks a caller can use to watch a waiter; all optional.
pub trait AcquireObserver {
    /// Called after each attempt that did not acquire.
    fn attempt(&mut self, _attempt: u32, _seen: &Seen) {}
    /// Called when the waiter decides the holder's lease has expired.
    fn expired(&mut self, _owner: &str, _fence: u64, _unchanged_for: Duration) {}
    /// Queue mode: called now and then while others are ahead of this waiter (it
    /// makes no attempts meanwhile).
    fn in_line(&mut self) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl AcquireObserver for Quiet {}

/// A deliberately broken protocol, for proving that the torture campaign and the
/// invariant checks catch a broken lock. Never use one for real work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// Take a free lock with a blind write on `_id` instead of a compare-and-set:
    /// two waiters that both saw it free both "win".
    BlindAcquire,
    /// Release by `_id` alone, without checking owner and fence: a holder that lost
    /// its lease frees somebody else's lock.
    UncheckedRelease,
}

/// One lock key on one store.
pub struct Lock {
    store: Arc<dyn Store>,
    clock: Clock,
    key: String,
    config: LockConfig,
    /// Set once this lock has seen its document: documents are never deleted, so
    /// from then on the atomic create would only fail with `DuplicateKey`.
    exists: AtomicBool,
    /// The document as our own last release left it (shared with our leases): the
    /// next acquisition can try a compare-and-set on it straight away, saving a read.
    /// If anything changed since, the CAS simply matches nothing.
    last_released: Arc<Mutex<Option<LockDoc>>>,
    /// A deliberately broken variant (tests only).
    broken: Option<Broken>,
    /// Queue mode: the waiters of this process on this key, shared by their locks.
    queue: Option<Arc<LocalQueue>>,
    /// The output this lock commits to, if the caller keeps one: the document is
    /// bound to it, and a document bound to another output is never taken.
    output: Option<OutputBinding>,
    /// Who acquires, for people (`joblock run`): written with each acquisition.
    holder: Option<Holder>,
}

/// The owner a revoked lease leaves in the document ([`admin::revoke`]): held,
/// so no waiter takes it before the revoked holder has stopped its work (it frees
/// it then) or a whole lease has passed.
pub fn revoked_owner(owner: &str) -> String {
    format!("{REVOKED_PREFIX}{owner}")
}

/// The prefix of a revoked holder's tombstone owner.
pub const REVOKED_PREFIX: &str = "revoked:";

/// The longest pause between attempts after store errors (unless `retry` is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The pause after `errors` store errors in a row: `retry` doubled per error, up to
/// [`MAX_BACKOFF`] (or `retry` if that is longer), so a store in trouble is not
/// hammered.
pub fn backoff(retry: Duration, errors: u32) -> Duration {
    if errors == 0 {
        return retry;
    }
    let doubled = retry.saturating_mul(1 << errors.min(10));
    doubled.min(MAX_BACKOFF.max(retry))
}

/// One `acquire` call's state between attempts.
struct Waiter<'a> {
    owner: &'a str,
    attempts: u32,
    /// How long the holder's (fence, heartbeat) has stood still, as this waiter saw.
    watch: Option<Stillness>,
    /// The holder's lease as the last read found it (never below ours): with
    /// `watch`, when this waiter could next call the holder expired.
    holder_lease: Duration,
    may_insert: bool,
    /// A write whose reply never came: when it was sent and what it would mean.
    unacked: Option<(Duration, Via)>,
    errors_in_row: u32,
}

/// What one attempt came to.
enum Attempt {
    Won(Lease, Via, u64),
    NotYet(Seen),
}

/// Why a wait ends without the lock.
enum Stop {
    Aborted,
    GaveUp,
}

/// The document a lock key has in a store, as JSON (for watch views and tests).
pub fn raw_document(store: &dyn Store, key: &str) -> Result<Option<Value>, StoreError> {
    store.find_one(&json!({ "_id": key }))
}
