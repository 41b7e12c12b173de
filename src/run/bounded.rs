//! A store whose every call returns within a time bound.
//!
//! A server that accepts connections and never answers would block a PostgreSQL
//! query forever (TCP keeps the connection alive; only a reply is missing). The
//! wrapper's watchdog must never wait on the store, and a wrapper that cannot
//! reach its store before acquiring must say so and exit, so every call here runs
//! on a helper thread and gives up after the bound with `Unavailable`. A call that
//! gives up leaves its thread blocked in the store until the store answers or the
//! process ends: it holds nothing of ours.
//!
//! A wait for a change (a waiter's sleep until the lock document moves, up to a
//! third of a lease) also ends as soon as the wrapper is told to stop (SIGINT,
//! SIGTERM, ...), so that a waiting wrapper heeds a signal at once.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, bounded};
use serde_json::Value;

use crate::store::{OpCounts, Store, StoreError};

/// Says whether a wait should end now (the wrapper was told to stop).
pub type Interrupt = Arc<dyn Fn() -> bool + Send + Sync>;

/// How often a pending wait for a change looks at its [`Interrupt`].
const SLICE: Duration = Duration::from_millis(50);

/// Wraps a store so that no call takes longer than `limit`.
pub struct Bounded {
    inner: Arc<dyn Store>,
    limit: Duration,
    name: String,
    interrupt: Interrupt,
}

impl Bounded {
    /// `inner` with every call bounded by `limit`.
    pub fn new(inner: Arc<dyn Store>, limit: Duration) -> Bounded {
        let name = inner.name().to_string();
        Bounded {
            inner,
            limit,
            name,
            interrupt: Arc::new(|| false),
        }
    }

    /// The same, with waits for a change ending early once `interrupt` says so.
    pub fn interruptible(mut self, interrupt: Interrupt) -> Bounded {
        self.interrupt = interrupt;
        self
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
    within_unless(store, name, what, limit, &|| false, op)
}

/// Runs `op` on `store` on a helper thread, giving up after `limit` or as soon as
/// `interrupted` says so (looked at every [`SLICE`]).
fn within_unless<T: Send + 'static>(
    store: &Arc<dyn Store>,
    name: &str,
    what: &str,
    limit: Duration,
    interrupted: &dyn Fn() -> bool,
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
    let deadline = Instant::now().checked_add(limit);
    loop {
        let left = deadline.map_or(SLICE, |d| d.saturating_duration_since(Instant::now()));
        match rx.recv_timeout(left.min(SLICE)) {
            Ok(answer) => return answer,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(StoreError::Unavailable(format!(
                    "the {name} store call {what} died"
                )));
            }
            Err(RecvTimeoutError::Timeout) if interrupted() => {
                return Err(StoreError::Unavailable(format!(
                    "the {name} store call {what} was interrupted"
                )));
            }
            Err(RecvTimeoutError::Timeout) if left <= SLICE => {
                return Err(StoreError::Unavailable(format!(
                    "the {name} store did not answer {what} within {}",
                    secs(limit)
                )));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
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
        within_unless(
            &self.inner,
            &self.name,
            "wait_for_change",
            limit,
            self.interrupt.as_ref(),
            move |s| Ok(s.wait_for_change(&id, timeout)),
        )
        .unwrap_or(false)
    }

    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(
            Bounded::new(self.inner.for_caller(seed), self.limit)
                .interruptible(self.interrupt.clone()),
        )
    }
}
