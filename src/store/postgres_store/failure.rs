//! What can go wrong with a statement: [`Failure`], and how a `tokio_postgres::Error`
//! is explained on one line and classified (broken connection, duplicate `_id`).

use std::error::Error as _;

use tokio_postgres::error::SqlState;

use super::conn::Wire;

#[cfg(doc)]
use crate::store::StoreError;

/// Why one statement (or the insert_many transaction) failed, before it is turned
/// into a [`StoreError`].
pub(super) enum Failure {
    /// The server or the connection reported an error.
    Pg(tokio_postgres::Error),
    /// The server did not answer in time, or the connection had ended: either
    /// way the connection is unusable.
    Gone(Wire),
    /// The primary key refused this `_id` (its canonical JSON text).
    Duplicate(String),
    /// A row came back that is not a JSON object (someone else wrote the table).
    BadRow(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

impl From<Wire> for Failure {
    fn from(e: Wire) -> Self {
        match e {
            Wire::Pg(e) => Failure::Pg(e),
            other => Failure::Gone(other),
        }
    }
}

/// A [`Wire`] failure on one line.
pub(super) fn explain_wire(e: &Wire) -> String {
    match e {
        Wire::Pg(e) => explain(e),
        other => other.to_string(),
    }
}

/// An error and its causes on one line: the postgres crate's `Display` alone says
/// only "db error", and a server message may carry DETAIL/HINT lines.
pub(super) fn explain(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(code) = e.code() {
        text.push_str(&format!(" (SQLSTATE {})", code.code()));
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether the connection is unusable after `e`, so the handle must reconnect.
///
/// No SQLSTATE means the error came from the socket or the protocol (refused, reset,
/// closed); class 08 is a connection exception; 57P01-57P03 are the server shutting
/// down or not accepting connections (what a restart sends before closing).
pub(super) fn breaks_connection(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
        }
    }
}

/// Turns a unique violation into `Duplicate(key)`; the only unique constraints are
/// the primary key and `seq`, and `seq` comes from a sequence, so it is the `_id`.
pub(super) fn duplicate_or(e: impl Into<Wire>, key: &str) -> Failure {
    match e.into() {
        Wire::Pg(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            Failure::Duplicate(key.to_string())
        }
        other => other.into(),
    }
}
