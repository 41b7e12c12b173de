//! [`Store`] for [`RedisStore`]: each operation as one script call, and
//! `wait_for_change` on the handle's subscriber.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::RedisStore;
use super::queries::{Action, flatten_doc};
use crate::store::canonical::canonical_text;
use crate::store::filter::{check_batch, validate_filter, validate_set};
use crate::store::wait::{deadline_after, wait_in_slot};
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
        let deadline = deadline_after(timeout);
        let channel = format!(
            "{}{}",
            self.shared.channel_prefix,
            canonical_text(&Value::String(id.to_string()))
        );
        // A broken subscriber is no notice: the wait passes the rest of the timeout.
        wait_in_slot(&self.subscriber, deadline, |slot| {
            self.wait_on(slot, &channel, deadline).unwrap_or(false)
        })
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
