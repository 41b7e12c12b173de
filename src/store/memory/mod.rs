//! The embedded backend: an insertion-ordered map behind one mutex, with the
//! scenario's latency model.
//!
//! Every operation runs in three steps: count it and validate the request, sleep
//! the drawn latency (never holding the data mutex, so a slow call cannot serialise
//! the others and hide races), then act under a single acquisition of the data
//! mutex, which is what makes each operation atomic.
//!
//! The latency model (`MemoryConfig`) is the exercise's simulated network and is
//! this store's own. Faults are not: this store injects none; wrap it in a
//! [`FaultyStore`](crate::store::FaultyStore), joblock's one fault injector.

mod query;
#[cfg(test)]
mod tests;
mod watch;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::{Map, Value};

use super::faulty::{lock, uniform};
use super::filter::{check_batch, keyed_document, matches, validate_filter, validate_set};
use super::{OpCounter, OpCounts, OpKind, Store, StoreError};
use crate::clock::Clock;
use query::{Docs, all_matches, apply, first_match, id_key};
use watch::Watches;

/// Latency model of the memory store, in scenario time.
///
/// Both fields are the *maximum* of a uniform draw: an operation sleeps a duration
/// drawn from `[0, max)` before acting. Zero means no sleep and no draw.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryConfig {
    /// Maximum delay of `insert_one` and `insert_many` (the classic mock's only delay).
    pub insert_latency: Duration,
    /// Maximum delay of every other operation (a real network delays every call).
    pub op_latency: Duration,
}

/// State shared by every handle of one store.
struct Shared {
    clock: Clock,
    config: MemoryConfig,
    docs: Mutex<Docs>,
    ops: OpCounter,
    watches: Watches,
}

/// The in-process document store; clones and [`Store::for_caller`] handles share the data.
///
/// Each handle owns its latency RNG, so a caller's latency draws depend only on its
/// seed and its own calls, never on how threads interleave.
pub struct MemoryStore {
    shared: Arc<Shared>,
    rng: Mutex<StdRng>,
}

impl Clone for MemoryStore {
    /// Shares the data and counters; the clone's RNG is seeded from a draw of
    /// this handle's RNG, so clones are independent yet still reproducible from the
    /// original seed. (`StdRng` is not `Clone` in rand 0.10, and copying its state
    /// would only make the two handles draw identical latencies.)
    fn clone(&self) -> Self {
        MemoryStore {
            shared: Arc::clone(&self.shared),
            rng: Mutex::new(StdRng::seed_from_u64(lock(&self.rng).random::<u64>())),
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store on `clock` with the given latency model and RNG seed.
    pub fn new(clock: Clock, config: MemoryConfig, seed: u64) -> MemoryStore {
        MemoryStore {
            shared: Arc::new(Shared {
                clock,
                config,
                docs: Mutex::new(Docs::new()),
                ops: OpCounter::default(),
                watches: Watches::default(),
            }),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// The latency model this store was built with.
    pub fn config(&self) -> MemoryConfig {
        self.shared.config
    }

    fn docs(&self) -> MutexGuard<'_, Docs> {
        lock(&self.shared.docs)
    }

    /// Sleeps the latency drawn for an operation of `kind`; called after validation
    /// and before taking the data mutex. A zero maximum draws nothing.
    fn delay(&self, kind: OpKind) {
        let max = match kind {
            OpKind::InsertOne | OpKind::InsertMany => self.shared.config.insert_latency,
            _ => self.shared.config.op_latency,
        };
        if max.is_zero() {
            return;
        }
        let delay = uniform(&mut lock(&self.rng), max);
        if !delay.is_zero() {
            self.shared.clock.sleep(delay);
        }
    }

    /// Raises the change signals a write collected (after the data mutex is
    /// released: a woken waiter's first act is to read).
    fn raise(&self, signals: impl IntoIterator<Item = crate::clock::Signal>) {
        for signal in signals {
            self.shared.clock.raise(&signal);
        }
    }

    /// Counts, validates the filter and delays: the common prologue.
    fn prologue<'f>(
        &self,
        kind: OpKind,
        filter: &'f Value,
    ) -> Result<&'f Map<String, Value>, StoreError> {
        self.shared.ops.record(kind);
        let filter = validate_filter(filter)?;
        self.delay(kind);
        Ok(filter)
    }
}

impl Store for MemoryStore {
    fn name(&self) -> &str {
        "memory"
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertOne);
        let (key, fields) = keyed_document(doc, "document")?;
        self.delay(OpKind::InsertOne);
        let mut docs = self.docs();
        if docs.contains_key(&key) {
            return Err(StoreError::DuplicateKey(key));
        }
        let signal = self.shared.watches.on_presence(&key);
        docs.insert(key, fields);
        drop(docs);
        self.raise(signal);
        Ok(())
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertMany);
        // Shape errors are found before touching the data, so they insert nothing.
        let batch = check_batch(docs, keyed_document)?;
        self.delay(OpKind::InsertMany);
        let mut docs = self.docs();
        // New documents are appended, so rolling back is truncating to the old length;
        // doing it under the same lock means no one ever sees a partial batch.
        let before = docs.len();
        let mut signals = Vec::new();
        for (key, fields) in batch {
            if docs.contains_key(&key) {
                docs.truncate(before);
                return Err(StoreError::DuplicateKey(key));
            }
            signals.extend(self.shared.watches.on_presence(&key));
            docs.insert(key, fields);
        }
        drop(docs);
        self.raise(signals);
        Ok(())
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        let filter = self.prologue(OpKind::FindOne, filter)?;
        let docs = self.docs();
        Ok(first_match(&docs, filter)
            .and_then(|i| docs.get_index(i))
            .map(|(_, doc)| Value::Object(doc.clone())))
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        let filter = self.prologue(OpKind::FindMany, filter)?;
        let docs = self.docs();
        Ok(all_matches(&docs, filter)
            .into_iter()
            .filter_map(|i| docs.get_index(i))
            .map(|(_, doc)| Value::Object(doc.clone()))
            .collect())
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        let filter = self.prologue(OpKind::Count, filter)?;
        let docs = self.docs();
        let n = if filter.contains_key("_id") {
            usize::from(first_match(&docs, filter).is_some())
        } else {
            docs.values().filter(|doc| matches(doc, filter)).count()
        };
        Ok(n as u64)
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::UpdateOne);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.delay(OpKind::UpdateOne);
        let mut docs = self.docs();
        let Some(i) = first_match(&docs, filter) else {
            return Ok(None);
        };
        let mut signal = None;
        let updated = docs.get_index_mut(i).map(|(key, doc)| {
            signal = self.shared.watches.on_update(key, doc, set);
            apply(doc, set);
            Value::Object(doc.clone())
        });
        drop(docs);
        self.raise(signal);
        Ok(updated)
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::UpdateMany);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.delay(OpKind::UpdateMany);
        let mut docs = self.docs();
        let hits = all_matches(&docs, filter);
        let mut signals = Vec::new();
        for &i in &hits {
            if let Some((key, doc)) = docs.get_index_mut(i) {
                signals.extend(self.shared.watches.on_update(key, doc, set));
                apply(doc, set);
            }
        }
        drop(docs);
        self.raise(signals);
        Ok(hits.len() as u64)
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        let filter = self.prologue(OpKind::DeleteOne, filter)?;
        let mut docs = self.docs();
        // `shift_remove` keeps the remaining documents in insertion order, which
        // "first match" depends on.
        let removed = first_match(&docs, filter).and_then(|i| docs.shift_remove_index(i));
        drop(docs);
        let signal = removed
            .as_ref()
            .and_then(|(key, _)| self.shared.watches.on_presence(key));
        self.raise(signal);
        Ok(u64::from(removed.is_some()))
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        let filter = self.prologue(OpKind::DeleteMany, filter)?;
        let mut docs = self.docs();
        let before = docs.len();
        let mut signals = Vec::new();
        if filter.contains_key("_id") {
            if let Some((key, _)) =
                first_match(&docs, filter).and_then(|i| docs.shift_remove_index(i))
            {
                signals.extend(self.shared.watches.on_presence(&key));
            }
        } else {
            // `retain` visits in order and keeps the survivors' order.
            let watches = &self.shared.watches;
            docs.retain(|key, doc| {
                let keep = !matches(doc, filter);
                if !keep {
                    signals.extend(watches.on_presence(key));
                }
                keep
            });
        }
        let deleted = (before - docs.len()) as u64;
        drop(docs);
        self.raise(signals);
        Ok(deleted)
    }

    fn op_counts(&self) -> OpCounts {
        self.shared.ops.snapshot()
    }

    fn change_signal(&self, id: &str, fields: &[&str]) -> Option<crate::clock::Signal> {
        let key = id_key(&Value::String(id.to_string()));
        Some(self.shared.watches.watch(&self.shared.clock, key, fields))
    }

    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(MemoryStore {
            shared: Arc::clone(&self.shared),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }
}
