//! A store whose every call (and whose open, [`open_within`]) returns within a
//! time bound.
//!
//! PostgreSQL and Redis bound their own calls (see [`super::limits`]); this
//! wrapper bounds any store's, SQLite's included (a file lock held by a frozen
//! process), and is the backstop behind theirs. `joblock run`'s watchdog must
//! never wait on the store, and no command (`run`, `locks`, `watch`) may hang on
//! one, so every call here runs on a helper thread and gives up after the bound
//! with `Unavailable`. A call that gives up leaves its thread blocked in the store
//! until the store answers or the process ends: it holds nothing of ours.
//!
//! A wait for a change (a waiter's sleep until the lock document moves, up to a
//! third of a lease) also ends as soon as the wrapper is told to stop (SIGINT,
//! SIGTERM, ...), so that a waiting wrapper heeds a signal at once.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender, bounded, unbounded};
use serde_json::Value;

use crate::store::{OpCounts, Store, StoreError};

/// A call for the worker thread: runs on the store handle it is given.
type Job = Box<dyn FnOnce(&dyn Store) + Send>;

/// Says whether a wait should end now (the wrapper was told to stop).
pub type Interrupt = Arc<dyn Fn() -> bool + Send + Sync>;

/// How often a pending wait for a change looks at its [`Interrupt`].
const SLICE: Duration = Duration::from_millis(50);

/// Wraps a store so that no call takes longer than `limit`.
///
/// Calls run one at a time on a worker thread (starting a thread per call would
/// cost more than a local store's call). A call that times out abandons that
/// worker and its store handle: the next call gets a new worker on a fresh handle
/// (`for_caller`: its own connection), so it does not queue behind the hung one.
pub struct Bounded {
    handle: Mutex<Arc<dyn Store>>,
    limit: Duration,
    name: String,
    worker: Mutex<Option<Sender<Job>>>,
    interrupt: Interrupt,
}

impl Bounded {
    /// `inner` with every call bounded by `limit`.
    pub fn new(inner: Arc<dyn Store>, limit: Duration) -> Bounded {
        let name = inner.name().to_string();
        Bounded {
            handle: Mutex::new(inner),
            limit,
            name,
            worker: Mutex::new(None),
            interrupt: Arc::new(|| false),
        }
    }

    /// The same, with waits for a change ending early once `interrupt` says so.
    pub fn interruptible(mut self, interrupt: Interrupt) -> Bounded {
        self.interrupt = interrupt;
        self
    }

    fn inner(&self) -> Arc<dyn Store> {
        self.handle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The worker's queue, starting a worker if there is none.
    fn worker(&self) -> Result<Sender<Job>, StoreError> {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = worker.as_ref() {
            return Ok(tx.clone());
        }
        let (tx, rx) = unbounded::<Job>();
        let store = self.inner();
        thread::Builder::new()
            .name("store-calls".into())
            .spawn(move || {
                for job in rx {
                    job(store.as_ref());
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start a store call: {e}")))?;
        *worker = Some(tx.clone());
        Ok(tx)
    }

    /// Gives up on the current worker and its handle after a call hung.
    fn abandon(&self) {
        *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let mut handle = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        *handle = handle.for_caller(rand::random());
    }

    /// Runs `op` on the worker; `Unavailable` if it has not answered in `limit`.
    fn call<T: Send + 'static>(
        &self,
        what: &str,
        limit: Duration,
        op: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call_unless(what, limit, &|| false, op)
    }

    /// [`Bounded::call`] that also gives up as soon as `interrupted` says so
    /// (looked at every [`SLICE`]); a call given up on abandons its worker.
    fn call_unless<T: Send + 'static>(
        &self,
        what: &str,
        limit: Duration,
        interrupted: &dyn Fn() -> bool,
        op: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = bounded(1);
        let job: Job = Box::new(move |store| {
            let _ = tx.send(op(store));
        });
        if self.worker()?.send(job).is_err() {
            self.abandon();
            return Err(StoreError::Unavailable(format!(
                "the {} store call {what} could not be sent",
                self.name
            )));
        }
        let deadline = Instant::now().checked_add(limit);
        let why = loop {
            let left = deadline.map_or(SLICE, |d| d.saturating_duration_since(Instant::now()));
            match rx.recv_timeout(left.min(SLICE)) {
                Ok(answer) => return answer,
                Err(RecvTimeoutError::Disconnected) => break "died".to_string(),
                Err(RecvTimeoutError::Timeout) if interrupted() => {
                    break "was interrupted".to_string();
                }
                Err(RecvTimeoutError::Timeout) if left <= SLICE => {
                    break format!("did not answer within {}", secs(limit));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        };
        self.abandon();
        Err(StoreError::Unavailable(format!(
            "the {} store call {what} {why}",
            self.name
        )))
    }
}

/// The bound for commands that take no `--store-timeout` (`locks`, `watch`): long
/// enough for a slow server, short enough that a silent one is reported. A
/// networked store gives up sooner on its own ([`super::limits::OPEN_LIMIT`],
/// [`super::limits::CALL_LIMIT`]), with a line that names its server.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(10);

/// Opens a store with `open` on a helper thread, giving up after `limit`, and
/// bounds each of its calls by `limit` too. `kind` names the store in the error.
pub fn open_within(
    kind: &str,
    limit: Duration,
    open: impl FnOnce() -> Result<Arc<dyn Store>, StoreError> + Send + 'static,
) -> Result<Bounded, StoreError> {
    Ok(Bounded::new(open_in_time(kind, limit, open)?, limit))
}

/// Opens a store with `open` on a helper thread, giving up after `limit`; its
/// calls are not bounded (the engine's job threads call it directly).
pub fn open_in_time(
    kind: &str,
    limit: Duration,
    open: impl FnOnce() -> Result<Arc<dyn Store>, StoreError> + Send + 'static,
) -> Result<Arc<dyn Store>, StoreError> {
    let (tx, rx) = bounded(1);
    thread::Builder::new()
        .name("store-open".into())
        .spawn(move || {
            let _ = tx.send(open());
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start opening the store: {e}")))?;
    match rx.recv_timeout(limit) {
        Ok(opened) => opened,
        Err(_) => Err(StoreError::Unavailable(format!(
            "the {kind} store did not answer within {}",
            secs(limit)
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
        self.inner().op_counts()
    }

    fn notifies(&self) -> bool {
        self.inner().notifies()
    }

    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        let id = id.to_string();
        // The wait itself may take `timeout`; only a hang beyond it is cut short.
        let limit = timeout.saturating_add(self.limit);
        let interrupt = self.interrupt.clone();
        self.call_unless("wait_for_change", limit, interrupt.as_ref(), move |s| {
            Ok(s.wait_for_change(&id, timeout))
        })
        .unwrap_or(false)
    }

    fn change_signal(&self, id: &str, fields: &[&str]) -> Option<crate::clock::Signal> {
        self.inner().change_signal(id, fields)
    }

    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(
            Bounded::new(self.inner().for_caller(seed), self.limit)
                .interruptible(self.interrupt.clone()),
        )
    }
}
