//! [`Store`] for [`PostgresStore`]: each operation as one statement (one transaction
//! for `insert_many`), and `wait_for_change` on the handle's listener. Reads of a
//! read-only store whose namespace has no table yet find nothing (see
//! [`PostgresStore::table_present`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::docs::{id_key, split_doc};
use super::failure::{Failure, duplicate_or};
use super::listen::{Heard, listen_for, sleep_until};
use super::sql::{Params, condition, in_order, json_text};
use super::{PostgresStore, lock};
use crate::store::filter::{check_batch, validate_filter, validate_set};
use crate::store::{OpCounts, OpKind, Store, StoreError};

impl Store for PostgresStore {
    fn name(&self) -> &str {
        "postgres"
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertOne);
        let (key, text) = split_doc(doc, "document")?;
        let sql = format!(
            "INSERT INTO {} (id, doc) VALUES ($1, $2::jsonb)",
            self.shared.names.table
        );
        // Prepared and cached like the other repeated statements: a waiter announces
        // itself with an insert, and a prepared one skips parsing and planning it.
        self.run(OpKind::InsertOne, |conn, by| {
            let stmt = self.statement(conn, by, &sql, 2)?;
            conn.execute(by, &stmt, &[&key, &text])
                .map_err(|e| duplicate_or(e, &key))?;
            Ok(())
        })
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertMany);
        // Shape errors are found before touching the database, so they insert nothing.
        let batch = check_batch(docs, split_doc)?;
        if batch.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {} (id, doc) VALUES ($1, $2::jsonb)",
            self.shared.names.table
        );
        // One row per statement inside one transaction: the first statement that
        // fails names the offending `_id` (the first duplicate in batch order, as in
        // memory), and dropping the uncommitted transaction rolls back the rest, so
        // nobody ever sees part of the batch.
        self.run(OpKind::InsertMany, |conn, by| {
            let stmt = self.statement(conn, by, &sql, 2)?;
            conn.with(by, async |client| -> Result<(), Failure> {
                let tx = client.transaction().await?;
                for (key, text) in &batch {
                    tx.execute(&stmt, &[key, text])
                        .await
                        .map_err(|e| duplicate_or(e, key))?;
                }
                tx.commit().await?;
                Ok(())
            })?
        })
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindOne);
        let filter = validate_filter(filter)?;
        if !self.table_present(OpKind::FindOne)? {
            return Ok(None);
        }
        let mut params = Params::default();
        let sql = format!(
            "SELECT doc::text FROM {} WHERE {}{}",
            self.shared.names.table,
            condition(filter, &mut params)?,
            in_order(filter, " LIMIT 1")
        );
        Ok(self
            .select_docs(OpKind::FindOne, &sql, &params)?
            .into_iter()
            .next())
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindMany);
        let filter = validate_filter(filter)?;
        if !self.table_present(OpKind::FindMany)? {
            return Ok(Vec::new());
        }
        let mut params = Params::default();
        let sql = format!(
            "SELECT doc::text FROM {} WHERE {}{}",
            self.shared.names.table,
            condition(filter, &mut params)?,
            in_order(filter, "")
        );
        self.select_docs(OpKind::FindMany, &sql, &params)
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::Count);
        let filter = validate_filter(filter)?;
        if !self.table_present(OpKind::Count)? {
            return Ok(0);
        }
        let mut params = Params::default();
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {}",
            self.shared.names.table,
            condition(filter, &mut params)?
        );
        self.run(OpKind::Count, |conn, by| {
            let typed = params.typed();
            let row = conn.run(by, async |client| {
                client.query_typed_one(&sql, &typed).await
            })?;
            let n: i64 = row.try_get(0)?;
            // count(*) is never negative.
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::UpdateOne);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        let mut params = Params::default();
        let set = params.push(json_text(set, "update")?);
        // This is the lock's compare-and-set. In READ COMMITTED, when a concurrent
        // transaction updated the row between our snapshot and our write, PostgreSQL
        // waits for it to commit and then re-evaluates the whole WHERE clause on the
        // new row version (EvalPlanQual); if the observed values changed, the row no
        // longer matches and nothing is updated. So of several racers filtering on
        // the same old values, exactly one gets the row back.
        let sql = format!(
            "UPDATE {t} SET doc = doc || {set}::jsonb WHERE {cond} RETURNING doc::text",
            t = self.shared.names.table,
            cond = self.one_row_condition(filter, &mut params)?
        );
        Ok(self
            .select_docs(OpKind::UpdateOne, &sql, &params)?
            .into_iter()
            .next())
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::UpdateMany);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        let mut params = Params::default();
        let set = params.push(json_text(set, "update")?);
        // Each row is re-checked against the filter after a concurrent update, as in
        // update_one, so no row that stopped matching is changed.
        let sql = format!(
            "UPDATE {t} SET doc = doc || {set}::jsonb WHERE {cond}",
            t = self.shared.names.table,
            cond = condition(filter, &mut params)?
        );
        self.execute(OpKind::UpdateMany, &sql, &params)
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteOne);
        let filter = validate_filter(filter)?;
        let mut params = Params::default();
        let sql = format!(
            "DELETE FROM {t} WHERE {cond}",
            t = self.shared.names.table,
            cond = self.one_row_condition(filter, &mut params)?
        );
        self.execute(OpKind::DeleteOne, &sql, &params)
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteMany);
        let filter = validate_filter(filter)?;
        let mut params = Params::default();
        let sql = format!(
            "DELETE FROM {t} WHERE {cond}",
            t = self.shared.names.table,
            cond = condition(filter, &mut params)?
        );
        self.execute(OpKind::DeleteMany, &sql, &params)
    }

    fn op_counts(&self) -> OpCounts {
        self.shared.ops.snapshot()
    }

    fn notifies(&self) -> bool {
        self.shared.notifies
    }

    /// Waits on this handle's listener connection (opened and subscribed on the
    /// first call) for a notification about `id`'s row.
    ///
    /// When the listener cannot be opened or breaks, it is dropped (the next call
    /// reopens it) and this sleeps out the rest of `timeout`: the caller falls back
    /// to polling at the pace it asked for rather than spinning on a dead server.
    /// Opening the listener is bounded by the call limit, not by `timeout` (a zero
    /// timeout must still be able to subscribe).
    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        if !self.shared.notifies {
            return false;
        }
        let started = Instant::now();
        // A timeout too large for `Instant` waits "forever" (a century).
        let deadline = started
            .checked_add(timeout)
            .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 24 * 3600));
        // The payload is the row's `id` column: the canonical key of `_id` = `id`.
        let key = id_key(&Value::String(id.to_string()));
        let mut slot = lock(&self.listener);
        let listener = match slot.take() {
            Some(listener) => Some(listener),
            None => self.shared.listen().ok(),
        };
        let heard = match listener {
            Some(mut listener) => {
                let heard = listen_for(&mut listener, &self.shared.names.channel, &key, deadline);
                if !matches!(heard, Heard::Lost) && !listener.is_closed() {
                    *slot = Some(listener);
                }
                heard
            }
            None => Heard::Lost,
        };
        drop(slot);
        match heard {
            Heard::Change => true,
            Heard::Nothing => false,
            Heard::Lost => {
                sleep_until(deadline);
                false
            }
        }
    }

    /// A handle with its own connection, opened on first use; `seed` is unused
    /// (this backend has no latency model to seed). It gets its own listener too,
    /// opened on its first [`Store::wait_for_change`].
    fn for_caller(&self, _seed: u64) -> Arc<dyn Store> {
        Arc::new(PostgresStore {
            shared: Arc::clone(&self.shared),
            conn: Mutex::new(None),
            stmts: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        })
    }
}
