//! Waiters announcing themselves, so `joblock watch` can show what is waiting.
//!
//! The lock never needs this (waiters only read), so it is optional and used by
//! worker processes only. A waiter inserts `wait:<key>:<owner>`, bumps its `touched`
//! counter now and then (a watcher judges liveness by seeing it move, as with
//! heartbeats), and deletes it when it stops waiting. Failures are ignored: presence
//! is for people, never for correctness.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::state::presence_id;
use crate::store::Store;

/// One waiter's announcement.
pub struct Presence {
    store: Arc<dyn Store>,
    id: String,
    key: String,
    owner: String,
    touched: u64,
    announced: bool,
    last_touch: Option<Duration>,
}

impl Presence {
    /// A waiter `owner` on lock `key`; nothing is written until [`Presence::touch`].
    pub fn new(store: Arc<dyn Store>, key: &str, owner: &str) -> Presence {
        Presence {
            store,
            id: presence_id(key, owner),
            key: key.to_string(),
            owner: owner.to_string(),
            touched: 0,
            announced: false,
            last_touch: None,
        }
    }

    /// Announces the waiter, or shows it is alive if `every` has passed since last time.
    pub fn touch(&mut self, now: Duration, every: Duration) {
        if self.last_touch.is_some_and(|t| now < t + every) {
            return;
        }
        self.last_touch = Some(now);
        self.touched += 1;
        if !self.announced {
            let doc = json!({
                "_id": self.id, "key": self.key, "owner": self.owner, "touched": self.touched,
            });
            self.announced = self.store.insert_one(doc).is_ok();
        } else {
            let _ = self.store.update_one(
                &json!({ "_id": self.id }),
                &json!({ "touched": self.touched }),
            );
        }
    }

    /// Removes the announcement (the waiter got the lock, gave up or died cleanly).
    pub fn withdraw(&mut self) {
        if self.announced {
            let _ = self.store.delete_one(&json!({ "_id": self.id }));
            self.announced = false;
        }
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.withdraw();
    }
}
