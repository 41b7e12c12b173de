//! [`Store`] for [`RedisStore`]: each operation as one script call, and
//! `wait_for_change` on the handle's subscriber.

use std::sync::{Arc, Mutex, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::RedisStore;
use super::queries::{Action, flatten_doc};
use crate::store::canonical::canonical_text;
use crate::store::filter::{check_batch, validate_filter, validate_set};
use crate::store::{OpCounts, OpKind, Store, StoreError};

impl Store for RedisStore {
    fn name(&self) -> &str {
        "redis"
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertOne);
        let flat = flatten_doc(doc, "document")?;
        self.insert(&[flat])
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertMany);
        // Shape errors are found before touching the server, so they insert nothing.
        let batch = check_batch(docs, flatten_doc)?;
        if batch.is_empty() {
            return Ok(());
        }
        self.insert(&batch)
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindOne);
        let filter = validate_filter(filter)?;
        self.query_one(Action::Find, filter, None)
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindMany);
        let filter = validate_filter(filter)?;
        self.query_all(Action::Find, filter, None)
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::Count);
        let filter = validate_filter(filter)?;
        self.query_count(Action::Find, 0, filter, None)
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::UpdateOne);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.query_one(Action::Update, filter, Some(set))
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::UpdateMany);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.query_count(Action::Update, 0, filter, Some(set))
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteOne);
        let filter = validate_filter(filter)?;
        self.query_count(Action::Delete, 1, filter, None)
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteMany);
        let filter = validate_filter(filter)?;
        self.query_count(Action::Delete, 0, filter, None)
    }

    fn op_counts(&self) -> OpCounts {
        self.shared.ops.snapshot()
    }

    fn notifies(&self) -> bool {
        true
    }

    /// Waits on the document's channel. `true` also when this handle has only just
    /// subscribed to it (or resubscribed after a lost connection): a change made
    /// before the subscription would otherwise go unreported, so it is reported as
    /// possible and the caller re-reads once.
    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        // A timeout too long to add (Duration::MAX) waits a century instead.
        let deadline = start
            .checked_add(timeout)
            .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600));
        let channel = format!(
            "{}{}",
            self.shared.channel_prefix,
            canonical_text(&Value::String(id.to_string()))
        );
        let woke = match self.subscriber.try_lock() {
            Ok(mut slot) => self.wait_on(&mut slot, &channel, deadline),
            Err(TryLockError::Poisoned(p)) => self.wait_on(&mut p.into_inner(), &channel, deadline),
            // Another thread of this handle is waiting: queueing behind its wait
            // could overrun our timeout, so this one simply polls.
            Err(TryLockError::WouldBlock) => Ok(false),
        };
        match woke {
            Ok(true) => true,
            // Without a notice the caller re-reads at once: pass the rest of the
            // timeout here, so a broken or busy subscriber never makes it spin.
            Ok(false) | Err(_) => {
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                false
            }
        }
    }

    fn for_caller(&self, _seed: u64) -> Arc<dyn Store> {
        // No latency model to seed: each caller just gets its own connection, opened
        // on first use so that creating a handle cannot fail.
        //
        // It gets its own subscriber too (also opened on its first wait, so callers
        // that never wait never open one): a wait holds its subscriber for the whole
        // timeout, so callers sharing one would queue behind each other's waits, and
        // would read (and so take) each other's notices off the one socket.
        Arc::new(RedisStore {
            shared: Arc::clone(&self.shared),
            conn: Mutex::new(None),
            subscriber: Mutex::new(None),
        })
    }
}
