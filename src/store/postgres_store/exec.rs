//! Running statements on a handle's connection: connecting when there is none,
//! dropping it when it breaks or misses its deadline, the prepared-statement
//! cache, and turning a [`Failure`] into a [`StoreError`].

use serde_json::Value;
use tokio_postgres::Statement;
use tokio_postgres::types::Type;

use super::conn::{Conn, Wire};
use super::docs::docs_of;
use super::failure::{Failure, breaks_connection, explain, explain_wire};
use super::sql::Params;
use super::{PostgresStore, lock};
use crate::store::limits::Deadline;
use crate::store::{OpKind, StoreError};

/// Prepared statements kept per connection at most.
const STATEMENT_CACHE: usize = 64;

impl PostgresStore {
    /// Runs `body` on this handle's connection, connecting first if there is none,
    /// all of it before the call's deadline (see [`crate::store::limits`]), which
    /// `body` is given to bound each exchange by.
    ///
    /// The connection is taken out of the slot while `body` runs and only put back
    /// if it survived, so a broken connection, one that missed its deadline (or a
    /// panic) leaves `None` and the next operation reconnects.
    pub(super) fn run<T>(
        &self,
        kind: OpKind,
        body: impl FnOnce(&mut Conn, Deadline) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let by = self.shared.limits.call_deadline();
        let mut slot = lock(&self.conn);
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => self.shared.open(by)?,
        };
        let result = body(&mut conn, by);
        let broken = match &result {
            Err(Failure::Pg(e)) => breaks_connection(e) || conn.is_closed(),
            Err(Failure::Gone(_)) => true,
            _ => conn.is_closed(),
        };
        if broken {
            lock(&self.stmts).clear();
        } else {
            *slot = Some(conn);
        }
        result.map_err(|failure| self.store_error(kind, failure, broken))
    }

    fn store_error(&self, kind: OpKind, failure: Failure, broken: bool) -> StoreError {
        let url = &self.shared.url;
        match failure {
            Failure::Duplicate(key) => StoreError::DuplicateKey(key),
            Failure::BadRow(why) => {
                StoreError::Unavailable(format!("{} on {url}: {why}", kind.name()))
            }
            Failure::Gone(e) => {
                StoreError::Unavailable(format!("{} on {url}: {}", kind.name(), explain_wire(&e)))
            }
            Failure::Pg(e) if broken => StoreError::Unavailable(format!(
                "lost connection to {url} during {}: {}",
                kind.name(),
                explain(&e)
            )),
            // Class 22 is "data exception": the server refused a value this store
            // passed through unchanged (e.g. U+0000, which jsonb cannot hold).
            Failure::Pg(e) if e.code().is_some_and(|c| c.code().starts_with("22")) => {
                StoreError::Invalid(format!(
                    "PostgreSQL refused a value in {}: {}",
                    kind.name(),
                    explain(&e)
                ))
            }
            Failure::Pg(e) => {
                StoreError::Unavailable(format!("{} on {url} failed: {}", kind.name(), explain(&e)))
            }
        }
    }

    /// Runs a statement that returns `doc::text` rows.
    pub(super) fn select_docs(
        &self,
        kind: OpKind,
        sql: &str,
        params: &Params,
    ) -> Result<Vec<Value>, StoreError> {
        self.run(kind, |conn, by| {
            let stmt = self.statement(conn, by, sql, params.0.len())?;
            docs_of(&conn.query(by, &stmt, &params.refs())?)
        })
    }

    /// The prepared statement for `sql`, whose `params` parameters are all `text`,
    /// on this handle's connection.
    pub(super) fn statement(
        &self,
        conn: &mut Conn,
        by: Deadline,
        sql: &str,
        params: usize,
    ) -> Result<Statement, Wire> {
        let mut cache = lock(&self.stmts);
        if let Some(stmt) = cache.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = conn.prepare_typed(by, sql, &vec![Type::TEXT; params])?;
        // Filters of arbitrary shape could grow the cache without end.
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Runs a statement and returns how many rows it affected.
    pub(super) fn execute(
        &self,
        kind: OpKind,
        sql: &str,
        params: &Params,
    ) -> Result<u64, StoreError> {
        self.run(kind, |conn, by| {
            let stmt = self.statement(conn, by, sql, params.0.len())?;
            Ok(conn.execute(by, &stmt, &params.refs())?)
        })
    }
}
