//! The SQLite backend: one table per namespace in one database file, which every
//! process on the machine that opens the same path shares.
//!
//! # Layout
//!
//! `CREATE TABLE ns (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
//! version INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL)`:
//!
//! - `seq` is the insertion order every "first match" and every listing follows.
//!   `AUTOINCREMENT` makes SQLite never hand out a number twice, even after the
//!   newest row was deleted, so a re-inserted id comes last and `(seq, version)`
//!   names one state of one row for the file's whole life.
//! - `id` is the canonical JSON text of the `_id`, the key every backend uses, so
//!   its unique index refuses exactly the inserts memory refuses, and a filter with
//!   `_id` is one index lookup.
//! - `version` counts the row's updates: what [`Store::wait_for_change`] compares.
//! - `doc` is the whole document as serde_json writes it. SQLite never parses it:
//!   a filter is matched in Rust with [`crate::store::matches`] on the candidate
//!   rows (the row of the filter's `_id`, else every row in `seq` order; documents
//!   are few), so matching and numbers are exactly the memory store's: `1` and
//!   `1.0` stay apart, integers up to `u64::MAX` and every finite float come back
//!   as they went in.
//!
//! # Atomic across processes
//!
//! The file is in WAL mode, so readers never block the writer or each other. Every
//! read is one `SELECT`: one snapshot. `insert_one` is one `INSERT`. Every other
//! write reads before it writes (which row matches first, what the document is
//! now), so it runs in one `BEGIN IMMEDIATE` transaction: that takes the file's
//! write lock *before* the read, so no other connection, in this process or
//! another, can commit between the match and the write. That is what makes the
//! lock's compare-and-set (`update_one` filtered on the observed owner and fence)
//! have exactly one winner. A writer that finds the lock taken retries with short
//! sleeps for up to [`busy::BUSY_TIMEOUT`], then fails `Unavailable` naming the
//! file. `synchronous=NORMAL`: a commit survives the process dying, and only a
//! power cut may lose the last commits (WAL keeps the file consistent either way).
//!
//! # Notifications
//!
//! SQLite has no LISTEN, but `PRAGMA data_version` (which changes when another
//! connection committed) costs a few microseconds, so a wait polls it every 1 ms,
//! then every [`notify::POLL`], on a second connection of the handle's, and reads
//! the awaited row's `(seq, version)` only when it changed: see [`notify`].
//!
//! # Where the guarantee ends
//!
//! One machine, a local filesystem. WAL's shared memory and SQLite's POSIX locks
//! are not safe on network filesystems (NFS, SMB): two machines opening one file
//! there can both think they hold the write lock. Use PostgreSQL or Redis across
//! machines.
//!
//! The code is split by job: [`path`] checks and prepares the database path,
//! [`connect`] opens connections and the store, [`busy`] waits for the write lock, [`shape`] creates the namespace's
//! table or tells that an existing one is not joblock's, [`rows`] reads and writes
//! documents, [`exec`] runs them on a handle's connection and explains failures,
//! [`notify`] waits for changes, and [`operations`] implements [`Store`].

mod busy;
mod connect;
mod exec;
mod notify;
mod operations;
mod path;
mod rows;
mod shape;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use super::OpCounter;
// Named only by doc links here; the code that uses it is in `operations`.
#[cfg(doc)]
use super::Store;

/// Whether a store may create and write its file and table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Create the file, its directories and the table when missing.
    ReadWrite,
    /// Open nothing that is missing, create nothing, write nothing.
    ReadOnly,
}

/// The statements of one namespace, written once (the table name is the only thing
/// spliced into SQL; every value is a bound parameter).
struct Statements {
    insert: String,
    by_id: String,
    all: String,
    update: String,
    delete: String,
    stamp: String,
}

/// State shared by every handle of one store.
struct Shared {
    /// The database file, as the URL named it (relative to the working directory
    /// or absolute).
    path: PathBuf,
    /// The path for messages.
    shown: String,
    namespace: String,
    access: Access,
    /// Whether the file and the table are known to be there with joblock's shape.
    /// Always so after a writable open (which created them); a read-only store that
    /// found neither looks again on each read (workers may have created them since).
    present: AtomicBool,
    sql: Statements,
    ops: OpCounter,
}

/// A document store in one SQLite file; handles from [`Store::for_caller`] share the
/// file, the table and the op counts, and each has its own connections.
///
/// One handle runs one operation at a time (its connection is behind a mutex), so
/// threads that should not wait for each other each take their own handle.
pub struct SqliteStore {
    shared: Arc<Shared>,
    /// `None` until first use, and again after an error that may have left the
    /// connection unusable: the next operation opens a fresh one.
    conn: Mutex<Option<Connection>>,
    /// The second connection [`Store::wait_for_change`] polls on, with what each
    /// awaited row was at its last look: opened on the first wait. Separate from
    /// `conn` because a wait lasts up to its whole timeout and must not hold the
    /// operations' mutex meanwhile.
    watcher: Mutex<Option<notify::Watcher>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.shared.shown)
            .field("namespace", &self.shared.namespace)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning: a panic during an operation already dropped
/// the connection it had taken out, so what is left is always usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
