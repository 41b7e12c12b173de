//! The Redis backend: every operation is one Lua script, so each runs atomically on
//! the server, the way a real database's single-document operations do.
//!
//! # Layout under the namespace `ns`
//!
//! - `ns:doc:<id text>`: one HASH per document. Each field is a top-level key of the
//!   document; its value is the *canonical JSON text* of that key's value (the same
//!   canonical form the memory store uses for `_id`: object keys sorted, `-0.0`
//!   written as `0.0`). `<id text>` is the canonical text of the `_id`.
//! - `ns:ids`: a sorted set of id texts scored by `INCR ns:seq`: the insertion order.
//! - `ns:seq`: the insertion counter.
//! - `ns:changed:<id text>`: a pub/sub channel (not a key). The scripts `PUBLISH` to it
//!   whenever they insert, update or delete that document, inside the same script, so
//!   the notice is atomic with the change. [`Store::wait_for_change`] subscribes to it:
//!   a lock waiter wakes as soon as its own lock document changes (release,
//!   heartbeat) instead of polling, and only for its own lock.
//!
//! # Scripts
//!
//! - `INSERT_LUA` inserts a batch, all or none.
//! - `BY_ID_LUA` serves every filter that has `_id` (all the lock ever sends): at most
//!   one document can match, and its key is known, so it is one `HMGET` of the filter's
//!   fields, then (update) one `HSET` of the new fields, `PUBLISH`, and `HGETALL` for
//!   the reply. The stored `_id` field is compared like the others, which also tells
//!   a missing document (every field nil) from a present one.
//! - `SCAN_LUA` serves filters without `_id`: it tries every document in insertion
//!   order, one `HMGET` each.
//!
//! Commands that take a field per argument are sent in slices of at most 1000
//! arguments: Lua's `unpack()` of more could overflow its C stack.
//!
//! Documents come back packed into one string by the server's `cmsgpack` (a
//! MessagePack array of HGETALL's flat name/value-text list per document; see
//! [`Packed`]), not as nested reply arrays: the redis crate's reply parser costs far
//! more per element than per byte. The requests are written in the wire format
//! directly (see [`Request`]) and sent as `EVALSHA`; a `NOSCRIPT` reply (the server's
//! script cache was emptied, e.g. by a restart) loads the script and retries.
//!
//! # Why a hash of canonical texts, not one JSON string per document
//!
//! Redis's Lua `cjson` is lossy: it prints numbers with at most 14 significant digits
//! (`encode_number_precision` refuses more), so `123456789012345` comes back as
//! `1.2345678901234e+14`; it turns `[]` into `{}` and `1.0` into `1`. Decoding and
//! re-encoding a document in Lua to merge an update would therefore corrupt fields the
//! update never touched, and matching on decoded values would make `1` equal `1.0`
//! (the memory store keeps them apart). With one hash field per top-level key:
//!
//! - matching is byte equality of canonical texts, which is exactly `serde_json::Value`
//!   equality, i.e. the same semantics as [`super::matches`];
//! - an update is `HSET` of the new fields' texts, so other fields keep their bytes;
//! - nothing is ever decoded in Lua (`cmsgpack` only wraps the texts, byte for byte,
//!   and each is parsed on its own by the client), and the whole operation is still
//!   one script.
//!
//! Limits: a `-0.0` anywhere in a document is stored and returned as `0.0` (equal as a
//! `Value`); top-level key order is not kept (serde_json sorts keys anyway); scripts
//! touch keys they compute themselves, so this needs a standalone server, not a
//! cluster, and one whose Lua has the `cmsgpack` library Redis bundles; filters
//! without `_id` scan every document, as the memory store does.
//! Pub/sub channels are server-wide, not per database, so the same namespace in two
//! databases of one server shares its channels: a waiter may wake for the other
//! database's change, which is harmless (a notification is only a hint).
//!
//! The code is split by job: [`scripts`] holds the Lua, [`request`] writes an
//! `EVALSHA` in the wire format, [`reply`] reads the packed documents back,
//! [`connection`] opens connections and runs requests on them, [`queries`] picks the
//! script for a filter and runs it, [`subscriber`] waits for change notices, and
//! [`operations`] implements [`Store`] on top of them.

mod connection;
mod operations;
mod queries;
mod reply;
mod request;
mod scripts;
mod subscriber;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use redis::Client;

use super::OpCounter;
use super::limits::Limits;
use connection::Link;
pub(super) use connection::redact;
use subscriber::Subscriber;
// Named only by doc links here; the code that uses them is in the submodules.
#[cfg(doc)]
use super::Store;
#[cfg(doc)]
use reply::Packed;
#[cfg(doc)]
use request::Request;

/// State shared by every handle of one store.
struct Shared {
    client: Client,
    /// The URL with any password masked, for error messages.
    url: String,
    namespace: String,
    ids_key: String,
    seq_key: String,
    doc_prefix: String,
    /// `ns:changed:`: the scripts publish a document's changes to this prefix
    /// followed by its id text.
    channel_prefix: String,
    /// How long opening and each call may take.
    limits: Limits,
    /// How many replies the crate reads while connecting (AUTH, SELECT): each may
    /// take the whole connect timeout it is given.
    handshake_replies: u32,
    ops: OpCounter,
}

/// A document store on a Redis server; `for_caller` handles share data and op counts.
pub struct RedisStore {
    shared: Arc<Shared>,
    /// Opened lazily and dropped on a connection error, so the next operation
    /// reconnects (a restarted server is recovered without rebuilding the store).
    conn: Mutex<Option<Link>>,
    /// The pub/sub connection of [`Store::wait_for_change`], a second connection:
    /// a wait blocks for up to its whole timeout, and must not hold `conn` (and so
    /// every operation of this handle) meanwhile. Opened on the first wait, kept
    /// subscribed between waits, dropped on a connection error.
    subscriber: Mutex<Option<Subscriber>>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shared.url)
            .field("namespace", &self.shared.namespace)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning: the guarded connection is either healthy or
/// absent, and a panic elsewhere is no reason to refuse service.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
