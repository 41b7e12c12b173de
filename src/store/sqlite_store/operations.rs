//! [`Store`] for [`SqliteStore`]: reads as one `SELECT`, `insert_one` as one
//! `INSERT`, every other write as one `BEGIN IMMEDIATE` transaction, and
//! `wait_for_change` on the handle's watcher. Reads of a read-only store whose file
//! or table is not there yet find nothing (see [`SqliteStore::table_present`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use rusqlite::Connection;

use super::SqliteStore;
use super::exec::Failure;
use super::notify::Watcher;
use super::rows::{Stored, delete, insert, matching, split_doc, update};
use crate::store::canonical::canonical_text;
use crate::store::filter::{check_batch, validate_filter, validate_set};
use crate::store::wait::{deadline_after, wait_in_slot};
use crate::store::{OpCounts, OpKind, Store, StoreError};

impl SqliteStore {
    /// The documents matching `filter`, at most `limit`, in one `SELECT`; none when
    /// a read-only store has no table to read.
    fn read(
        &self,
        kind: OpKind,
        filter: &Map<String, Value>,
        limit: usize,
    ) -> Result<Vec<Stored>, StoreError> {
        if !self.table_present(kind.name())? {
            return Ok(Vec::new());
        }
        self.run(kind.name(), |conn| {
            matching(conn, &self.shared.sql, filter, limit)
        })
    }

    /// Applies `act` to the documents matching `filter` (at most `limit`) in one
    /// write transaction; returns how many there were.
    fn write_matches(
        &self,
        kind: OpKind,
        filter: &Map<String, Value>,
        limit: usize,
        act: impl Fn(&Connection, &mut Stored) -> Result<(), Failure>,
    ) -> Result<u64, StoreError> {
        self.write(kind, |tx| {
            let mut hits = matching(tx, &self.shared.sql, filter, limit)?;
            for hit in &mut hits {
                act(tx, hit)?;
            }
            Ok(hits.len() as u64)
        })
    }

    /// Waits on this handle's watcher (opened if there is none) for `key`'s row to
    /// change until `deadline`. On any error the watcher is dropped, so the next
    /// wait opens a fresh one, and this wait reports no change.
    fn watch(&self, slot: &mut Option<Watcher>, key: &str, deadline: Instant) -> bool {
        let watcher = match slot {
            Some(watcher) => watcher,
            None => match self.shared.open_reader() {
                Ok(conn) => slot.insert(Watcher::new(conn)),
                Err(_) => return false,
            },
        };
        match watcher.wait(&self.shared.sql.stamp, key, deadline) {
            Ok(changed) => changed,
            Err(_) => {
                *slot = None;
                false
            }
        }
    }
}

impl Store for SqliteStore {
    fn name(&self) -> &str {
        "sqlite"
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertOne);
        let (key, text) = split_doc(doc, "document")?;
        // One statement: the unique index decides, atomically, who inserted first.
        self.run(OpKind::InsertOne.name(), |conn| {
            insert(conn, &self.shared.sql, &key, &text)
        })
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertMany);
        // Shape errors are found before touching the file, so they insert nothing.
        let batch = check_batch(docs, split_doc)?;
        if batch.is_empty() {
            return Ok(());
        }
        // The first insert that fails names the offending `_id` (the first duplicate
        // in batch order, as in memory) and rolls the whole batch back.
        self.write(OpKind::InsertMany, |tx| {
            for (key, text) in &batch {
                insert(tx, &self.shared.sql, key, text)?;
            }
            Ok(())
        })
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindOne);
        let filter = validate_filter(filter)?;
        let first = self.read(OpKind::FindOne, filter, 1)?.into_iter().next();
        Ok(first.map(Stored::into_value))
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindMany);
        let filter = validate_filter(filter)?;
        let all = self.read(OpKind::FindMany, filter, usize::MAX)?;
        Ok(all.into_iter().map(Stored::into_value).collect())
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::Count);
        let filter = validate_filter(filter)?;
        Ok(self.read(OpKind::Count, filter, usize::MAX)?.len() as u64)
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::UpdateOne);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        // The lock's compare-and-set: the match and the write happen under the
        // file's write lock, so of several racers filtering on the same old values
        // (in any process) exactly one finds the row still matching.
        self.write(OpKind::UpdateOne, |tx| {
            let sql = &self.shared.sql;
            let Some(mut hit) = matching(tx, sql, filter, 1)?.pop() else {
                return Ok(None);
            };
            update(tx, sql, &mut hit, set)?;
            Ok(Some(hit.into_value()))
        })
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::UpdateMany);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.write_matches(OpKind::UpdateMany, filter, usize::MAX, |tx, hit| {
            update(tx, &self.shared.sql, hit, set)
        })
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteOne);
        let filter = validate_filter(filter)?;
        self.write_matches(OpKind::DeleteOne, filter, 1, |tx, hit| {
            delete(tx, &self.shared.sql, hit)
        })
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteMany);
        let filter = validate_filter(filter)?;
        self.write_matches(OpKind::DeleteMany, filter, usize::MAX, |tx, hit| {
            delete(tx, &self.shared.sql, hit)
        })
    }

    fn op_counts(&self) -> OpCounts {
        self.shared.ops.snapshot()
    }

    fn notifies(&self) -> bool {
        true
    }

    /// Polls the handle's watcher (see [`super::notify`]) until the document's row
    /// changes. `true` also on the first wait for an id (see
    /// [`Watcher::wait`]).
    ///
    /// Without a change (a timeout, a watcher that could not open or failed,
    /// another thread of this handle already waiting) it returns only at the
    /// deadline: the caller falls back to polling at the pace it asked for rather
    /// than spinning.
    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        let key = canonical_text(&Value::String(id.to_string()));
        wait_in_slot(&self.watcher, deadline, |slot| {
            self.watch(slot, &key, deadline)
        })
    }

    /// A handle with its own connection and watcher, both opened on first use (so
    /// creating a handle cannot fail); `seed` is unused (no latency model).
    fn for_caller(&self, _seed: u64) -> Arc<dyn Store> {
        Arc::new(SqliteStore::with(Arc::clone(&self.shared), None))
    }
}
