//! Running statements on a handle's connection: opening one when there is none,
//! dropping it after an error that may have left it unusable, write transactions
//! that take the file's write lock before they read, and turning a [`Failure`] into
//! a [`StoreError`].

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior, ffi};

use super::busy::BUSY_TIMEOUT;
use super::{Shared, SqliteStore, lock};
use crate::store::{OpKind, StoreError};

/// Why a statement (or a transaction) failed, before it is turned into a
/// [`StoreError`].
#[derive(Debug)]
pub(super) enum Failure {
    /// SQLite reported an error.
    Sql(rusqlite::Error),
    /// The unique index on `id` refused this `_id` (its canonical JSON text).
    Duplicate(String),
    /// A row came back that is not a JSON object (someone else wrote the table).
    BadRow(String),
    /// The namespace names another application's object; the line says so.
    NotJoblocks(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

impl Failure {
    /// Whether the connection is still fit for the next operation: after a refusal
    /// or a busy file it is; after anything else (an I/O error, a file that is no
    /// longer a database) a fresh connection, which checks the path again, is safer.
    fn keeps_connection(&self) -> bool {
        match self {
            Failure::Duplicate(_) | Failure::BadRow(_) | Failure::NotJoblocks(_) => true,
            Failure::Sql(e) => matches!(
                e.sqlite_error_code(),
                Some(
                    ErrorCode::DatabaseBusy
                        | ErrorCode::DatabaseLocked
                        | ErrorCode::ConstraintViolation
                        | ErrorCode::TooBig
                )
            ),
        }
    }
}

/// Turns a unique violation into `Duplicate(key)`: `seq` is SQLite's own and `id` is
/// the only other unique column, so a unique violation is always the `_id`.
pub(super) fn duplicate_or(e: rusqlite::Error, key: &str) -> Failure {
    match e.sqlite_error() {
        Some(err) if err.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE => {
            Failure::Duplicate(key.to_string())
        }
        _ => Failure::Sql(e),
    }
}

/// The [`StoreError`] for `failure` during `what` (an operation's name, or `open`)
/// on the file shown as `shown`.
pub(super) fn store_error(shown: &str, what: &str, failure: Failure) -> StoreError {
    let e = match failure {
        Failure::Duplicate(key) => return StoreError::DuplicateKey(key),
        Failure::NotJoblocks(line) => return StoreError::NotJoblocks(line),
        Failure::BadRow(why) => {
            return StoreError::Unavailable(format!("{what} on {shown}: {why}"));
        }
        Failure::Sql(e) => e,
    };
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!(
                "{shown} is busy: another connection held its write lock for over {} s \
                 ({what} gave up)",
                BUSY_TIMEOUT.as_secs()
            ))
        }
        Some(ErrorCode::NotADatabase) => {
            StoreError::Invalid(format!("{shown} is not a SQLite database ({what}: {e})"))
        }
        // The caller's value, not the store, is at fault.
        Some(ErrorCode::TooBig) => {
            StoreError::Invalid(format!("SQLite refused a value in {what} on {shown}: {e}"))
        }
        Some(ErrorCode::CannotOpen) => {
            StoreError::Unavailable(format!("cannot open {shown} ({what}): {e}"))
        }
        _ => StoreError::Unavailable(format!("{what} on {shown} failed: {e}")),
    }
}

impl Shared {
    /// [`store_error`] for this store's file.
    pub(super) fn store_error(&self, what: &str, failure: Failure) -> StoreError {
        store_error(&self.shown, what, failure)
    }
}

impl SqliteStore {
    /// Runs `body` on this handle's connection, opening one first if there is none.
    ///
    /// The connection is taken out of the slot while `body` runs and put back only
    /// if it is still fit (see [`Failure::keeps_connection`]), so after such an
    /// error (or a panic) the next operation opens a fresh one.
    pub(super) fn run<T>(
        &self,
        what: &str,
        body: impl FnOnce(&mut Connection) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let mut slot = lock(&self.conn);
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => self.shared.open()?,
        };
        let result = body(&mut conn);
        if result.as_ref().err().is_none_or(Failure::keeps_connection) {
            *slot = Some(conn);
        }
        result.map_err(|failure| self.shared.store_error(what, failure))
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction, committed if it succeeds.
    ///
    /// IMMEDIATE takes the file's write lock before `body` reads anything, so what it
    /// read is still true when it writes: no connection of any process commits in
    /// between. (A deferred transaction would read first and fail with
    /// `SQLITE_BUSY_SNAPSHOT` at its first write if someone committed meanwhile.)
    /// Returning early with an error drops the transaction, which rolls it back.
    pub(super) fn write<T>(
        &self,
        kind: OpKind,
        body: impl FnOnce(&Transaction<'_>) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        self.run(kind.name(), |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = body(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}
