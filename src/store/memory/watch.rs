//! Change notices of the memory store: a clock signal per watched document, raised
//! when the document appears or goes, or an update gives a watched field a new
//! value (a lock waiter watches `owner` and `fence`, so heartbeats wake nobody).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};

use super::super::faulty::lock;
use crate::clock::{Clock, Signal};

/// One watched document: its signal and the fields whose changes raise it.
struct Watch {
    signal: Signal,
    fields: Vec<String>,
}

/// The watched documents of one store, by map key (canonical `_id` text).
#[derive(Default)]
pub(super) struct Watches {
    /// Whether anything is watched: writes skip the map while nothing is.
    any: AtomicBool,
    by_key: Mutex<HashMap<String, Watch>>,
}

impl Watches {
    /// The signal of `key`, now also raised by changes of `fields`.
    pub(super) fn watch(&self, clock: &Clock, key: String, fields: &[&str]) -> Signal {
        let mut by_key = lock(&self.by_key);
        let w = by_key.entry(key).or_insert_with(|| Watch {
            signal: clock.signal(),
            fields: Vec::new(),
        });
        for f in fields {
            if !w.fields.iter().any(|have| have == f) {
                w.fields.push((*f).to_string());
            }
        }
        self.any.store(true, Ordering::SeqCst);
        w.signal.clone()
    }

    /// The signal to raise when the document `key` is inserted or deleted.
    pub(super) fn on_presence(&self, key: &str) -> Option<Signal> {
        if !self.any.load(Ordering::SeqCst) {
            return None;
        }
        lock(&self.by_key).get(key).map(|w| w.signal.clone())
    }

    /// The signal to raise when `set` is applied to `doc` (not yet applied): some
    /// when a watched field would change.
    pub(super) fn on_update(
        &self,
        key: &str,
        doc: &Map<String, Value>,
        set: &Map<String, Value>,
    ) -> Option<Signal> {
        if !self.any.load(Ordering::SeqCst) {
            return None;
        }
        let by_key = lock(&self.by_key);
        let w = by_key.get(key)?;
        w.fields
            .iter()
            .any(|f| set.get(f).is_some_and(|v| doc.get(f) != Some(v)))
            .then(|| w.signal.clone())
    }
}
