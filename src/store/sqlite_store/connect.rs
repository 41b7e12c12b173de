//! Opening: a connection with joblock's settings (WAL, a bounded busy wait), and a
//! store on a file: writable (creating the file, its directories and the table) or
//! read-only (creating nothing).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use super::busy::{patient, retry_busy};
use super::exec::{Failure, store_error};
use super::path::{Found, create_parents, inspect_path};
use super::shape::{ensure_table, inspect};
use super::{Access, Shared, SqliteStore, Statements};
use crate::store::url::validate_namespace;
use crate::store::{OpCounter, StoreError};

/// Quotes a table name as an SQL identifier. Namespaces are letters, digits and `_`
/// (see [`validate_namespace`]); doubling quotes keeps this safe regardless.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Statements {
    fn new(table: &str) -> Statements {
        Statements {
            insert: format!("INSERT INTO {table} (id, doc) VALUES (?1, ?2)"),
            by_id: format!("SELECT seq, doc FROM {table} WHERE id = ?1"),
            all: format!("SELECT seq, doc FROM {table} ORDER BY seq"),
            update: format!("UPDATE {table} SET doc = ?1, version = version + 1 WHERE seq = ?2"),
            delete: format!("DELETE FROM {table} WHERE seq = ?1"),
            stamp: format!("SELECT seq, version FROM {table} WHERE id = ?1"),
        }
    }
}

/// Opens a connection to `path` (already checked to be a regular file, or nothing
/// when `access` may create it) with the busy handler, and for writers WAL and
/// `synchronous=NORMAL`.
///
/// The flags leave out `SQLITE_OPEN_URI`, so a path is always a path, even one
/// that starts with `file:`.
fn connect(path: &Path, shown: &str, access: Access) -> Result<Connection, StoreError> {
    let flags = match access {
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let failed = |e: rusqlite::Error| store_error(shown, "open", Failure::Sql(e));
    let mut conn = Connection::open_with_flags(path, flags).map_err(failed)?;
    conn.busy_handler(Some(patient())).map_err(failed)?;
    if access == Access::ReadWrite {
        use_wal(&conn, shown)?;
        // In WAL mode NORMAL syncs at checkpoints only: a commit survives the
        // process dying; a power cut may lose the last ones but never corrupts.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(failed)?;
        // Processes like `joblock run` end without closing their connections, so
        // SQLite's last-close checkpoint never runs and, left at its default
        // (1000 pages), the WAL grows to megabytes that every new process must
        // read and checksum to rebuild its index: 2.3 MB cost each `run` about
        // 4 ms. Checkpointing every 64 pages keeps it to a few hundred KB, and the
        // size limit truncates the file after a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 64)
            .map_err(failed)?;
        conn.pragma_update(None, "journal_size_limit", 1 << 20)
            .map_err(failed)?;
    }
    Ok(conn)
}

/// Puts the file in WAL mode (it stays so: the mode is recorded in the file), so
/// that readers in any process never block the writer or each other. Asked first,
/// because switching needs a moment alone with the file, which a busy one rarely
/// gives; also the first read of the file, so a file that is not a database is
/// refused here, before anything is written to it.
fn use_wal(conn: &Connection, shown: &str) -> Result<(), StoreError> {
    let failed = |e: rusqlite::Error| store_error(shown, "open", Failure::Sql(e));
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .map_err(failed)?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    let mode: String =
        retry_busy(|| conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)))
            .map_err(failed)?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "{shown} cannot use write-ahead logging (its journal mode stays {mode}), \
             which joblock needs for many processes to share it"
        )))
    }
}

impl Shared {
    fn new(path: &Path, namespace: &str, access: Access) -> Result<Shared, StoreError> {
        validate_namespace(namespace).map_err(StoreError::Invalid)?;
        if namespace.to_ascii_lowercase().starts_with("sqlite_") {
            return Err(StoreError::Invalid(format!(
                "{namespace:?} is not a namespace for SQLite: names starting with sqlite_ are \
                 SQLite's own"
            )));
        }
        Ok(Shared {
            path: path.to_path_buf(),
            shown: path.display().to_string(),
            namespace: namespace.to_string(),
            access,
            present: AtomicBool::new(false),
            sql: Statements::new(&quote_ident(namespace)),
            ops: OpCounter::default(),
        })
    }

    /// Opens a connection for operations, looking at the path first (it may have
    /// been replaced since the store was opened).
    pub(super) fn open(&self) -> Result<Connection, StoreError> {
        self.connect(self.access)
    }

    /// Opens a connection that only reads (the watcher's): it never writes to the
    /// file, whatever the store's access.
    pub(super) fn open_reader(&self) -> Result<Connection, StoreError> {
        self.connect(Access::ReadOnly)
    }

    fn connect(&self, access: Access) -> Result<Connection, StoreError> {
        let found = inspect_path(&self.path, &self.shown)?;
        match (found, access) {
            (Found::Nothing, Access::ReadWrite) => create_parents(&self.path, &self.shown)?,
            (Found::Nothing, Access::ReadOnly) => {
                return Err(StoreError::Unavailable(format!(
                    "{} does not exist",
                    self.shown
                )));
            }
            (Found::File, _) => {}
        }
        connect(&self.path, &self.shown, access)
    }
}

impl SqliteStore {
    /// Opens (creating it and its directories if missing) the database file at
    /// `path` and creates the `namespace` table in it if missing.
    ///
    /// A path that is a directory, FIFO, socket or device is refused with
    /// [`StoreError::Invalid`] without being opened, as is a file that is not a
    /// SQLite database (left unchanged). An object of that name in the file that is
    /// not joblock's table is refused with [`StoreError::NotJoblocks`] and left
    /// untouched.
    pub fn open(path: &Path, namespace: &str) -> Result<SqliteStore, StoreError> {
        let shared = Shared::new(path, namespace, Access::ReadWrite)?;
        let mut conn = shared.open()?;
        let table = quote_ident(namespace);
        ensure_table(&mut conn, namespace, &table, &shared.shown)
            .map_err(|f| shared.store_error("open", f))?;
        shared.present.store(true, Ordering::Release);
        Ok(SqliteStore::with(Arc::new(shared), Some(conn)))
    }

    /// Opens the file at `path` without creating or changing anything: a missing
    /// file or table reads as an empty store (looked for again on each read), and
    /// the file is opened read-only, so not even WAL mode is set on it. (To read a
    /// WAL database SQLite itself needs its `-wal` and `-shm` files, and creates them
    /// beside an existing database when no writer left them there.)
    ///
    /// Writes are not refused here: `open_store_read_only`, the only caller, wraps
    /// the store in a [`crate::store::ReadOnly`] that refuses them.
    pub(crate) fn open_read_only(path: &Path, namespace: &str) -> Result<SqliteStore, StoreError> {
        let store = SqliteStore::with(
            Arc::new(Shared::new(path, namespace, Access::ReadOnly)?),
            None,
        );
        // Refuses now, not at the first read, a path or table that is not joblock's.
        store.table_present("open")?;
        Ok(store)
    }

    /// A handle on `shared` with `conn` (or none yet) and no watcher yet.
    pub(super) fn with(shared: Arc<Shared>, conn: Option<Connection>) -> SqliteStore {
        SqliteStore {
            shared,
            conn: Mutex::new(conn),
            watcher: Mutex::new(None),
        }
    }

    /// The database file this store keeps its documents in.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The namespace (table name) this store keeps its documents in.
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    /// Whether the file and the namespace's table are there to read. After a
    /// writable open they always are; a read-only store that found them missing
    /// looks again (workers may have created them since), so they read as an empty
    /// store, and a table of somebody else's that appeared meanwhile is refused
    /// rather than read.
    pub(super) fn table_present(&self, what: &str) -> Result<bool, StoreError> {
        let shared = &self.shared;
        if shared.present.load(Ordering::Acquire) {
            return Ok(true);
        }
        if inspect_path(&shared.path, &shared.shown)? == Found::Nothing {
            return Ok(false);
        }
        let found = self.run(what, |conn| Ok(inspect(conn, &shared.namespace)?))?;
        let present = found
            .usable(&shared.namespace, &shared.shown)
            .map_err(StoreError::NotJoblocks)?;
        if present {
            shared.present.store(true, Ordering::Release);
        }
        Ok(present)
    }
}
