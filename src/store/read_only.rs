//! A store that refuses every write: what `open_store_read_only` hands to readers
//! such as `joblock watch`, so that "read-only" holds whatever the backend and
//! whatever a caller tries, not only because the caller happens to only read.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{OpCounts, Store, StoreError};

/// Forwards reads (and notification waits) to the store it wraps; refuses every
/// insert, update and delete with [`StoreError::Invalid`] before it reaches it.
pub struct ReadOnly {
    inner: Arc<dyn Store>,
}

impl ReadOnly {
    /// Wraps `inner`; its writes become refusals.
    pub fn new(inner: Arc<dyn Store>) -> ReadOnly {
        ReadOnly { inner }
    }

    fn refuse<T>(&self, op: &str) -> Result<T, StoreError> {
        Err(StoreError::Invalid(format!(
            "{op} refused: the {} store was opened read-only",
            self.inner.name()
        )))
    }
}

impl Store for ReadOnly {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn insert_one(&self, _doc: Value) -> Result<(), StoreError> {
        self.refuse("insert_one")
    }

    fn insert_many(&self, _docs: Vec<Value>) -> Result<(), StoreError> {
        self.refuse("insert_many")
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.inner.find_one(filter)
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.inner.find_many(filter)
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.inner.count(filter)
    }

    fn update_one(&self, _filter: &Value, _set: &Value) -> Result<Option<Value>, StoreError> {
        self.refuse("update_one")
    }

    fn update_many(&self, _filter: &Value, _set: &Value) -> Result<u64, StoreError> {
        self.refuse("update_many")
    }

    fn delete_one(&self, _filter: &Value) -> Result<u64, StoreError> {
        self.refuse("delete_one")
    }

    fn delete_many(&self, _filter: &Value) -> Result<u64, StoreError> {
        self.refuse("delete_many")
    }

    fn op_counts(&self) -> OpCounts {
        self.inner.op_counts()
    }

    fn notifies(&self) -> bool {
        self.inner.notifies()
    }

    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        self.inner.wait_for_change(id, timeout)
    }

    fn change_signal(&self, id: &str, fields: &[&str]) -> Option<crate::clock::Signal> {
        self.inner.change_signal(id, fields)
    }

    /// A read-only handle onto the wrapped store's handle for this caller.
    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(ReadOnly::new(self.inner.for_caller(seed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::store::{MemoryConfig, MemoryStore};
    use serde_json::json;

    #[test]
    fn reads_pass_through_and_writes_are_refused_before_the_store() {
        let memory = Arc::new(MemoryStore::new(
            Clock::virtual_time(),
            MemoryConfig::default(),
            0,
        ));
        memory.insert_one(json!({"_id": "a", "n": 1})).unwrap();
        let store = ReadOnly::new(memory.clone());
        assert_eq!(store.count(&json!({})).unwrap(), 1);
        assert_eq!(store.find_many(&json!({})).unwrap().len(), 1);
        let refused = [
            store.insert_one(json!({"_id": "b"})).err(),
            store.insert_many(vec![json!({"_id": "c"})]).err(),
            store
                .update_one(&json!({"_id": "a"}), &json!({"n": 2}))
                .err(),
            store.update_many(&json!({}), &json!({"n": 2})).err(),
            store.delete_one(&json!({"_id": "a"})).err(),
            store.delete_many(&json!({})).err(),
        ];
        for e in refused {
            assert!(
                matches!(&e, Some(StoreError::Invalid(m)) if m.contains("read-only")),
                "{e:?}"
            );
        }
        let handle = store.for_caller(1);
        assert!(handle.delete_many(&json!({})).is_err());
        assert_eq!(
            memory.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "n": 1})]
        );
    }
}
