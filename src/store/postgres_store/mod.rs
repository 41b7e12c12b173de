//! PostgreSQL backend: one table per namespace, one atomic statement per operation.
//!
//! The table is `(id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL)`:
//! `id` is the canonical JSON text of the document's `_id` (the same key the memory
//! store uses, so the primary key gives `DuplicateKey` exactly when memory would),
//! `seq` is the insertion order every "first match" and every listing follows, and
//! `doc` is the whole document, `_id` included.
//!
//! A filter is exact top-level equality: a missing key never matches, and
//! `{"owner": null}` only matches an explicit JSON null. An `_id` in the filter
//! becomes `id = $n`, which uses the primary key index, so every lock operation
//! touches one row by index. The other keys whose values are scalars (strings,
//! numbers, booleans, null: everything the lock filters on) become one containment
//! test, `doc @> $n::jsonb` with `$n` = `{"k": v, ...}`, which for scalars means
//! exactly "has `k`, equal to `v`". A key whose value is an array or object becomes
//! `doc -> k = v::jsonb` instead (containment would accept a superset of it; `doc ->
//! k` is SQL NULL for a missing key, which equals nothing). So the lock's
//! compare-and-set is `UPDATE t SET doc = doc || $1::jsonb WHERE id = $2 AND doc @>
//! $3::jsonb RETURNING doc::text`, one statement shape for every acquire, renewal
//! and release, and its read is `SELECT doc::text FROM t WHERE id = $1` (no
//! `ORDER BY`: at most one row has that `id`).
//!
//! Every value (document, filter value, filter key, update) is bound as a `text`
//! parameter and cast in SQL; the only thing spliced into SQL text is the table name,
//! quoted as an identifier. The statements operations repeat (inserts, finds,
//! updates, deletes) are prepared once per connection and cached by their SQL text;
//! the cache goes with the connection when it breaks.
//!
//! Change notification (LISTEN/NOTIFY): a row trigger on the table calls
//! `pg_notify('joblock_<namespace>', id)` for every inserted, updated or deleted row,
//! so [`Store::wait_for_change`] can sleep until the lock document changes instead
//! of polling. It is a trigger rather than a `pg_notify` inside joblock's own
//! statements (which would cost the lock's update 4-5 µs less server time) because
//! it also announces writes by anyone else, older joblock versions included: that
//! is what lets [`Store::notifies`] promise notification, and a table without the
//! trigger that this role may not add it to is used without (waiters poll). The
//! trigger function is the part of that cost this store controls, so it is kept
//! minimal, and a slower one left by an older version is replaced on connect when
//! this role owns it.
//!
//! Each handle listens on its own, second connection (opened on its first
//! wait): a wait blocks for up to a whole retry interval and must not hold the
//! connection its operations use. A notification is only a hint that the row may
//! have changed: it is sent at commit, may arrive after the caller's next read, is
//! lost while the listener is reconnecting, and one for a long `_id` (payloads are
//! limited to 8000 bytes) is sent as `*`, meaning "some row changed". Callers always
//! re-read the document; a missed notification only costs a waiter its timeout.
//!
//! Known differences from the memory store (the contract's reference), none of which
//! the lock can hit because it only stores strings, integers, booleans and null:
//!
//! - Numbers compare numerically: jsonb holds numbers as `numeric`, so a filter
//!   `{"n": 1.0}` matches a stored `1`, whereas memory compares `serde_json` values
//!   and keeps `1` and `1.0` apart. (`_id`s are still told apart, because they are
//!   compared as canonical JSON text, exactly as memory does.) Numbers also come
//!   back in PostgreSQL's spelling: a float that serde_json writes with an exponent
//!   comes back written out in full, so `1e17` (an `f64`) reads back as the integer
//!   `100000000000000000`, and `-0.0` reads back as `0.0`. Integers and floats
//!   written with a fraction (`1.0`, `0.1`) round-trip unchanged.
//! - jsonb cannot hold the character U+0000: a document or filter value containing it
//!   is refused with `Invalid` (memory would store or compare it).
//! - Insertion order is the order `seq` values were drawn (when each INSERT ran),
//!   not commit order: with inserts in flight, a reader can briefly see a later
//!   document without an earlier one that has not committed yet. Memory orders by
//!   completion. Each statement still sees one consistent snapshot.
//! - `Unavailable` after the connection dropped *during* an operation does not say
//!   whether the server applied it: the commit may have happened just before the
//!   connection was lost. Memory never leaves that doubt: it injects no faults, and
//!   `FaultyStore` says which of its faults applied (a lost reply did, a failure not).
//!
//! Every exchange with the server has a deadline (see [`crate::store::limits`]):
//! connections are `tokio_postgres` ones, each driven on a runtime of its own by
//! [`conn`], because a blocking client cannot give up on a server that accepts
//! and never answers. A call that misses its deadline is `Unavailable`, and its
//! connection is dropped (the next call reconnects).
//!
//! The code is split by job: [`conn`] is one connection with deadlines,
//! [`connect`] opens connections and creates the store,
//! [`schema`] creates the table and its notification trigger, [`names`] quotes and
//! derives SQL identifiers, [`sql`] builds statements and their parameters, [`docs`]
//! turns documents into rows and back, [`exec`] runs statements on a handle's
//! connection, [`failure`] classifies errors, [`listen`] waits for notifications, and
//! [`operations`] implements [`Store`] on top of them.

mod conn;
mod connect;
mod docs;
mod exec;
mod failure;
mod listen;
mod names;
mod operations;
mod schema;
mod shape;
mod sql;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_postgres::{Config, Statement};

use super::OpCounter;
use super::limits::Limits;
use conn::Conn;
pub(super) use connect::redact;
// Only the doc links name it; the code that uses it is in `operations`.
#[cfg(doc)]
use super::Store;

/// State shared by every handle of one store.
struct Shared {
    /// Parsed connection settings, reused by every (re)connection.
    config: Config,
    /// How long opening and each call may take.
    limits: Limits,
    /// The URL with any password removed, for error messages.
    url: String,
    /// The namespace's table, function and channel, qualified by the schema the
    /// first connection resolved (see [`names::Names`]).
    names: names::Names,
    /// Whether the table is known to exist with joblock's shape. Always so after a
    /// writable open (which created it); a read-only open that found no table keeps
    /// looking on each read, and reads as empty until workers create it.
    present: AtomicBool,
    /// Settings for listener connections: `config` with TCP keepalives tightened.
    listener_config: Config,
    /// Whether the table has the notification trigger. `false` only when the table
    /// existed without it and this role may not add it: waiters then poll.
    notifies: bool,
    ops: OpCounter,
}

/// A document store kept in one PostgreSQL table; handles from
/// [`Store::for_caller`] share the table and op counts but each has its own connection.
///
/// One handle runs one operation at a time (its connection is behind a mutex), so
/// threads that should not wait for each other each take their own handle.
pub struct PostgresStore {
    shared: Arc<Shared>,
    /// `None` until first use, and again after the connection broke: the next
    /// operation reconnects, so a restarted server is picked up without a restart here.
    conn: Mutex<Option<Conn>>,
    /// Statements prepared on `conn`, by SQL text: the lock issues a handful of
    /// statement shapes over and over, and a prepared one skips parsing and planning.
    /// Cleared whenever the connection is dropped (statements belong to it).
    stmts: Mutex<HashMap<String, Statement>>,
    /// The connection that LISTENs for this handle's [`Store::wait_for_change`]:
    /// opened on the first wait, kept so that notifications arriving between waits
    /// are buffered rather than lost, and dropped (reopened by the next wait) when it
    /// breaks. Separate from `conn` because a wait blocks for up to its whole timeout,
    /// and must neither hold the operations' mutex nor be ended by an operation.
    listener: Mutex<Option<Conn>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shared.url)
            .field("namespace", &self.shared.names.namespace)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning: a panic during an operation already dropped
/// the client it had taken out, so what is left is always usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
