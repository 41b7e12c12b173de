//! A store whose every call returns within a time bound.
//!
//! A server that accepts connections and never answers would block a PostgreSQL
//! query forever (TCP keeps the connection alive; only a reply is missing). The
//! wrapper's watchdog must never wait on the store, and a wrapper that cannot
//! reach its store before acquiring must say so and exit, so every call here runs
//! on a helper thread and gives up after the bound with `Unavailable`. A call that
//! gives up leaves its thread blocked in the store until the store answers or the
//! process ends: it holds nothing of ours.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, bounded};
use serde_json::Value;

use crate::store::{OpCounts, Store, StoreError};

/// Wraps a store so that no call takes longer than `limit`.
pub struct Bounded {
    inner: Arc<dyn Store>,
    limit: Duration,
    name: String,
}

impl Bounded {
    /// `inner` with every call bounded by `limit`.
    pub fn new(inner: Arc<dyn Store>, limit: Duration) -> Bounded {
        let name = inner.name().to_string();
        Bounded { inner, limit, name }
    }

    /// Runs `op` on a helper thread; `Unavailable` if it has not answered in `limit`.
    fn call<T: Send + 'static>(
        &self,
        what: &str,
        limit: Duration,
        op: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        within(&self.inner, &self.name, what, limit, op)
    }
}

/// Runs `op` on `store` on a helper thread, giving up after `limit`.
pub fn within<T: Send + 'static>(
    store: &Arc<dyn Store>,
    name: &str,
    what: &str,
    limit: Duration,
    op: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = bounded(1);
    let store = store.clone();
    thread::Builder::new()
        .name(format!("store-{what}"))
        .spawn(move || {
            let _ = tx.send(op(store.as_ref()));
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start a store call: {e}")))?;
    match rx.recv_timeout(limit) {
        Ok(answer) => answer,
        Err(RecvTimeoutError::Timeout) => Err(StoreError::Unavailable(format!(
            "the {name} store did not answer {what} within {}",
            secs(limit)
        ))),
        Err(RecvTimeoutError::Disconnected) => Err(StoreError::Unavailable(format!(
            "the {name} store call {what} died"
        ))),
    }
}

/// A duration as people read it: `5 s`, `0.25 s`.
pub fn secs(d: Duration) -> String {
    format!("{} s", (d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl Store for Bounded {
    fn name(&self) -> &str {
        &self.name
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.call("insert_one", self.limit, move |s| s.insert_one(doc))
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.call("insert_many", self.limit, move |s| s.insert_many(docs))
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        let f = filter.clone();
        self.call("find_one", self.limit, move |s| s.find_one(&f))
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        let f = filter.clone();
        self.call("find_many", self.limit, move |s| s.find_many(&f))
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        let f = filter.clone();
        self.call("count", self.limit, move |s| s.count(&f))
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        let (f, u) = (filter.clone(), set.clone());
        self.call("update_one", self.limit, move |s| s.update_one(&f, &u))
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        let (f, u) = (filter.clone(), set.clone());
        self.call("update_many", self.limit, move |s| s.update_many(&f, &u))
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        let f = filter.clone();
        self.call("delete_one", self.limit, move |s| s.delete_one(&f))
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        let f = filter.clone();
        self.call("delete_many", self.limit, move |s| s.delete_many(&f))
    }

    fn op_counts(&self) -> OpCounts {
        self.inner.op_counts()
    }

    fn notifies(&self) -> bool {
        self.inner.notifies()
    }

    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        let id = id.to_string();
        // The wait itself may take `timeout`; only a hang beyond it is cut short.
        let limit = timeout.saturating_add(self.limit);
        self.call("wait_for_change", limit, move |s| {
            Ok(s.wait_for_change(&id, timeout))
        })
        .unwrap_or(false)
    }

    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(Bounded::new(self.inner.for_caller(seed), self.limit))
    }
}
