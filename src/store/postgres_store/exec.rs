//! Running statements on a handle's connection: connecting when there is none,
//! dropping it when it breaks, the prepared-statement cache, and turning a
//! [`Failure`] into a [`StoreError`].

use postgres::types::Type;
use postgres::{Client, Statement};
use serde_json::Value;

use super::docs::docs_of;
use super::failure::{Failure, breaks_connection, explain};
use super::sql::Params;
use super::{PostgresStore, lock};
use crate::store::{OpKind, StoreError};

/// Prepared statements kept per connection at most.
const STATEMENT_CACHE: usize = 64;

impl PostgresStore {
    /// Runs `body` on this handle's connection, connecting first if there is none.
    ///
    /// The client is taken out of the slot while `body` runs and only put back if
    /// the connection survived, so a broken connection (or a panic) leaves `None`
    /// and the next operation reconnects.
    pub(super) fn run<T>(
        &self,
        kind: OpKind,
        body: impl FnOnce(&mut Client) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let mut slot = lock(&self.conn);
        let mut client = match slot.take() {
            Some(client) => client,
            None => self.shared.open()?,
        };
        let result = body(&mut client);
        let broken = match &result {
            Err(Failure::Pg(e)) => breaks_connection(e) || client.is_closed(),
            _ => client.is_closed(),
        };
        if broken {
            lock(&self.stmts).clear();
        } else {
            *slot = Some(client);
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
        self.run(kind, |client| {
            let stmt = self.statement(client, sql, params.0.len())?;
            docs_of(&client.query(&stmt, &params.refs())?)
        })
    }

    /// The prepared statement for `sql`, whose `params` parameters are all `text`,
    /// on this handle's connection.
    pub(super) fn statement(
        &self,
        client: &mut Client,
        sql: &str,
        params: usize,
    ) -> Result<Statement, postgres::Error> {
        let mut cache = lock(&self.stmts);
        if let Some(stmt) = cache.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = client.prepare_typed(sql, &vec![Type::TEXT; params])?;
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
        self.run(kind, |client| {
            let stmt = self.statement(client, sql, params.0.len())?;
            Ok(client.execute(&stmt, &params.refs())?)
        })
    }
}
