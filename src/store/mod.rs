//! The document store: the only thing the lock is allowed to touch.
//!
//! The API is deliberately tiny (the operations of a PyMongo-like mock database):
//! unique-`_id` insert, exact-match find/count, update by setting top-level fields,
//! delete. Every single operation is atomic, as a real database's single-document
//! operations are; nothing else (no mutex, no range query, no script) is offered, so
//! the lock protocol built on top must be correct with these alone.

pub mod bounded;
pub mod canonical;
mod faulty;
mod filter;
pub mod limits;
mod memory;
mod ops;
mod postgres_store;
mod read_only;
mod redis_store;
mod sqlite_store;
mod state_path;
pub mod url;
mod wait;

pub use bounded::{Bounded, open_within};
pub use faulty::{FaultKind, FaultyStore, WrapperFaults};
pub use filter::{matches, validate_filter, validate_set};
pub use limits::Limits;
pub use memory::{MemoryConfig, MemoryStore};
pub use ops::{OpCounter, OpCounts, OpKind};
pub use postgres_store::PostgresStore;
pub use read_only::ReadOnly;
pub use redis_store::RedisStore;
pub use sqlite_store::SqliteStore;
pub use state_path::default_state_path;
pub use url::{
    StoreUrl, open_store, open_store_read_only, open_store_read_only_within, open_store_within,
};
// For `StoreUrl::redacted`: each backend masks its own URLs' passwords.
use postgres_store::redact as redact_postgres;
use redis_store::redact as redact_redis;

use std::sync::Arc;

use serde_json::Value;
use thiserror::Error;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// `insert_one`/`insert_many` hit an `_id` that already exists.
    #[error("duplicate key: a document with _id {0} already exists")]
    DuplicateKey(String),
    /// The document, filter or update was malformed (not an object, no `_id`, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store could not be reached or refused the operation (faults, outages).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The namespace names something in the store that is not joblock's (another
    /// application's table); it was left untouched. The text is the whole line.
    #[error("{0}")]
    NotJoblocks(String),
}

/// The document-store operations; every call is atomic on its own.
///
/// Documents are JSON objects with a unique `_id`. A filter is a JSON object; a
/// document matches when it has every key of the filter with an equal value
/// (a filter `{"owner": null}` matches only documents that have `owner` set to null).
pub trait Store: Send + Sync {
    /// Short name of the backend, e.g. `memory`.
    fn name(&self) -> &str;

    /// Inserts one document; `DuplicateKey` if its `_id` exists.
    fn insert_one(&self, doc: Value) -> Result<(), StoreError>;

    /// Inserts all documents or none: on failure the ones already inserted are removed.
    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError>;

    /// The first document (in insertion order) that matches `filter`.
    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError>;

    /// Every document that matches `filter`, in insertion order.
    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError>;

    /// How many documents match `filter`.
    fn count(&self, filter: &Value) -> Result<u64, StoreError>;

    /// Sets the top-level fields of `set` on the first match; returns the updated
    /// document, or `None` when nothing matched.
    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError>;

    /// Sets the top-level fields of `set` on every match; returns how many.
    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError>;

    /// Deletes the first match; returns how many were deleted (0 or 1).
    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError>;

    /// Deletes every match; returns how many were deleted.
    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError>;

    /// Operations issued so far, by kind (shared by every handle of one store).
    fn op_counts(&self) -> OpCounts;

    /// Whether [`Store::wait_for_change`] can wake a waiter early (change
    /// notification: PostgreSQL LISTEN/NOTIFY, Redis pub/sub, SQLite's cheap
    /// `data_version` check). Without it a waiter simply polls.
    fn notifies(&self) -> bool {
        false
    }

    /// Blocks until the document with this `_id` (given as the JSON string value,
    /// e.g. `lock:worker:client-1`) may have changed, or `timeout` of real time has
    /// passed. Returns whether a notification arrived. A store without
    /// notifications returns `false` at once: the caller sleeps and polls instead.
    ///
    /// A notification is a hint, never a guarantee: callers re-read the document.
    /// Implementations subscribe on the first call and stay subscribed, so a change
    /// between the caller's last read and its next wait is not missed.
    fn wait_for_change(&self, _id: &str, _timeout: std::time::Duration) -> bool {
        false
    }

    /// A signal on the store's clock, raised whenever the document with this `_id`
    /// (given as the JSON string value) is inserted or deleted, or an update gives
    /// one of `fields` a new value; `None` when the store offers no such notice (its
    /// waiters use [`Store::wait_for_change`] or poll).
    ///
    /// Unlike `wait_for_change` this wait goes through the run's clock, so it works on
    /// a virtual clock too, and it ignores updates of other fields: a lock waiter
    /// watching `owner` and `fence` is not woken by every heartbeat. A signal is a
    /// hint, never a guarantee: callers re-read the document.
    fn change_signal(&self, _id: &str, _fields: &[&str]) -> Option<crate::clock::Signal> {
        None
    }

    /// A handle for one caller (one job thread) onto the same data.
    ///
    /// The memory store gives each handle its own latency RNG seeded with `seed`, so
    /// that a run's latency draws do not depend on how threads interleave; a network
    /// store would give each caller its own connection.
    fn for_caller(&self, seed: u64) -> Arc<dyn Store>;
}
