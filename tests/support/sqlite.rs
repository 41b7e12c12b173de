//! Throwaway SQLite stores: a fresh database file in its own temporary directory,
//! which goes when the store is dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use joblock::store::{OpCounts, SqliteStore, Store, StoreError};
use serde_json::Value;
use tempfile::TempDir;

/// A [`SqliteStore`] on `locks.db` in a directory of its own, removed on drop.
///
/// It is a `Store` itself (every call goes to the store inside), so the conformance
/// suite can take it as it takes the other backends' stores.
pub struct TempSqlite {
    // Dropped before the directory: the connections close first.
    store: SqliteStore,
    dir: TempDir,
}

impl TempSqlite {
    /// A fresh store in namespace `locks`.
    pub fn new() -> TempSqlite {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("locks.db"), "locks")
            .unwrap_or_else(|e| panic!("cannot open a fresh SQLite store: {e}"));
        TempSqlite { store, dir }
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.store.path().to_path_buf()
    }

    /// The directory the file is in (and nothing else, unless a test puts it there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The store inside.
    pub fn store(&self) -> &SqliteStore {
        &self.store
    }
}

impl Store for TempSqlite {
    fn name(&self) -> &str {
        self.store.name()
    }
    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.store.insert_one(doc)
    }
    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.store.insert_many(docs)
    }
    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.store.find_one(filter)
    }
    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.store.find_many(filter)
    }
    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.store.count(filter)
    }
    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.store.update_one(filter, set)
    }
    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.store.update_many(filter, set)
    }
    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.store.delete_one(filter)
    }
    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.store.delete_many(filter)
    }
    fn op_counts(&self) -> OpCounts {
        self.store.op_counts()
    }
    fn notifies(&self) -> bool {
        self.store.notifies()
    }
    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        self.store.wait_for_change(id, timeout)
    }
    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        self.store.for_caller(seed)
    }
}
