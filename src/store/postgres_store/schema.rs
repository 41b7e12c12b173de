//! The namespace's schema: its table and the trigger (with its function) that
//! announces every changed row, created when missing, safely under concurrent
//! creators and without CREATE rights on an existing table, and never over another
//! application's objects (see [`super::shape`]).

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient};

use super::conn::Wire;
use super::names::{Names, TRIGGER_NAME, quote_ident, quote_literal};
use super::shape::{Function, SchemaState, Table, inspect};

/// How often `connect` re-checks for the table after losing a creation race.
const CREATE_ATTEMPTS: usize = 5;

/// The notification payload meaning "some row changed": sent for an `id` too long
/// for a payload (they must be shorter than 8000 bytes). No canonical key is `*`
/// (every key is JSON text), so it cannot be confused with a real row.
pub(super) const ANY_ROW: &str = "*";

/// Whether a creation failed because another session created the same object at
/// the same moment: `CREATE TABLE` of a table made since our check, or two
/// creators' catalog rows colliding. The loser re-checks and retries.
fn lost_creation_race(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    )
}

/// Why [`ensure_schema`] did not get the namespace's schema ready.
#[derive(Debug)]
pub(super) enum SchemaError {
    /// The server refused, the connection failed or the deadline passed.
    Wire(Wire),
    /// The namespace's name holds another application's object: nothing was
    /// changed. The line says what it is and what to do.
    NotJoblocks(String),
}

impl From<tokio_postgres::Error> for SchemaError {
    fn from(e: tokio_postgres::Error) -> Self {
        SchemaError::Wire(Wire::Pg(e))
    }
}

/// What the namespace's schema holds now (only reads the catalogs).
pub(super) async fn schema_state(
    client: &impl GenericClient,
    names: &Names,
) -> Result<SchemaState, tokio_postgres::Error> {
    inspect(client, names, &notify_function_body()).await
}

/// The body of the trigger function: announce the changed row's `id` on the channel
/// the trigger passes as its argument.
///
/// The payload is the row's `id` (the canonical key of its `_id`), so a waiter can
/// tell its own document's changes from the others'. For a DELETE the old row is
/// announced; an UPDATE that changed `id` (this store never does) announces both.
/// Payloads must be shorter than 8000 bytes: a longer id says only "some row
/// changed" rather than failing the write.
///
/// It runs once per written row, so it is kept cheap: `sent := pg_notify(...)` is
/// evaluated as a simple expression, where `PERFORM pg_notify(...)` would start a
/// whole SPI query, and the common case builds no array. That saved 2-5 µs of
/// server time per lock update over the previous body (an array of changed ids and
/// a `FOREACH ... PERFORM` loop), which tables created by older versions still have
/// until [`ensure_schema`] replaces it.
fn notify_function_body() -> String {
    format!(
        "
DECLARE
    changed_id text;
    sent text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed_id := OLD.id;
    ELSE
        changed_id := NEW.id;
        IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
            sent := pg_notify(TG_ARGV[0], CASE WHEN octet_length(OLD.id) < 8000
                                               THEN OLD.id ELSE '{ANY_ROW}' END);
        END IF;
    END IF;
    sent := pg_notify(TG_ARGV[0], CASE WHEN octet_length(changed_id) < 8000
                                       THEN changed_id ELSE '{ANY_ROW}' END);
    RETURN NULL;
END
"
    )
}

/// The statements that create what is missing of a namespace's schema: the table,
/// and the trigger that announces every changed row on the namespace's channel
/// (with its function, see [`notify_function_body`]). Every name is
/// schema-qualified (see [`Names`]).
///
/// The table is created with a plain `CREATE TABLE`, not `IF NOT EXISTS`: a table
/// somebody made since the check must fail the creation (and be checked again),
/// not silently get joblock's trigger. The function is created with `CREATE OR
/// REPLACE`, also to replace an older body; the trigger only when missing (the
/// caller checked, under the schema lock, that neither is somebody else's).
fn schema_ddl(names: &Names, state: &SchemaState) -> String {
    let Names {
        table, function, ..
    } = names;
    let mut ddl = String::new();
    if state.table == Table::Absent {
        ddl.push_str(&format!(
            "CREATE TABLE {table} (\
             id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL);\n"
        ));
    }
    if !state.trigger || state.function != Function::Current {
        ddl.push_str(&format!(
            "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql \
             AS $joblock${}$joblock$;\n",
            notify_function_body()
        ));
    }
    if !state.trigger {
        ddl.push_str(&format!(
            "CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}({channel});
",
            trigger = quote_ident(TRIGGER_NAME),
            channel = quote_literal(&names.channel),
        ));
    }
    ddl
}

/// Creates the namespace's table and notification trigger unless they exist, and
/// replaces a trigger function an older version made; tolerates concurrent
/// creators. Returns whether the table has the trigger.
///
/// Before anything is created, what exists is checked: a table by the namespace's
/// name that is not joblock's (other columns, a view, ...), or a trigger or
/// function by joblock's names that is not joblock's, is refused
/// ([`SchemaError::NotJoblocks`]) and left exactly as it is.
///
/// Checking first also means a role without CREATE rights can use an existing
/// table. Creation runs in one transaction, so nobody sees the table without its
/// trigger, and under a session advisory lock keyed on the table, taken *before*
/// the transaction starts: joblock processes then create one at a time, and each
/// one's transaction starts after the previous creator committed, so its catalog
/// checks see what that one made. (`CREATE OR REPLACE FUNCTION` racing itself fails
/// with "tuple concurrently updated", which no retry rule could recognise safely.)
/// Other sessions racing on the table alone (an older joblock, another application)
/// make our `CREATE TABLE` fail: the loser re-checks (and so refuses a foreign
/// table) and retries.
///
/// An existing table that lacks the trigger and that this role may not add one to
/// still works, without notification (`Ok(false)`): waiters poll as before. One
/// whose trigger function has an older body that this role may not replace keeps
/// it: it announces the same changes.
pub(super) async fn ensure_schema(client: &mut Client, names: &Names) -> Result<bool, SchemaError> {
    let found = schema_state(client, names).await?;
    if let Some(why) = found.refuse_writing(names) {
        return Err(SchemaError::NotJoblocks(why));
    }
    if found.complete() {
        return Ok(true);
    }
    let mut attempt = 0;
    loop {
        match create_schema(client, names).await {
            Ok(()) => return Ok(true),
            Err(SchemaError::Wire(Wire::Pg(e)))
                if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) =>
            {
                let found = schema_state(client, names).await?;
                if let Some(why) = found.refuse_writing(names) {
                    return Err(SchemaError::NotJoblocks(why));
                }
                return if found.table == Table::Joblock {
                    Ok(found.notifies())
                } else {
                    Err(SchemaError::Wire(Wire::Pg(e)))
                };
            }
            Err(SchemaError::Wire(Wire::Pg(e)))
                if lost_creation_race(&e) && attempt < CREATE_ATTEMPTS =>
            {
                // The winner may not have committed yet; once it has, we are done
                // (or, if the winner made somebody else's table, we refuse it).
                let found = schema_state(client, names).await?;
                if let Some(why) = found.refuse_writing(names) {
                    return Err(SchemaError::NotJoblocks(why));
                }
                if found.complete() {
                    return Ok(true);
                }
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * attempt as u64)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One creation attempt for [`ensure_schema`]: lock, check, create, commit, unlock.
async fn create_schema(client: &mut Client, names: &Names) -> Result<(), SchemaError> {
    // The lock is keyed on the quoted, unqualified table name, as older versions
    // keyed it, so that an older creator and this one still take turns. Two-key
    // form with the first key fixed, so that it is unlikely to collide with an
    // application's own advisory locks.
    let key = quote_ident(&names.namespace);
    client
        .execute_typed(
            "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('joblock'), pg_catalog.hashtext($1))",
            &[(&key, Type::TEXT)],
        )
        .await?;
    let created = async {
        let tx = client.transaction().await?;
        let found = schema_state(&tx, names).await?;
        if let Some(why) = found.refuse_writing(names) {
            return Err(SchemaError::NotJoblocks(why));
        }
        let ddl = schema_ddl(names, &found);
        if !ddl.is_empty() {
            tx.batch_execute(&ddl).await?;
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    // A session lock outlives errors, so release it whatever happened (a broken
    // connection released it already, and its error is the one worth reporting).
    let unlocked = client
        .execute_typed(
            "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('joblock'), pg_catalog.hashtext($1))",
            &[(&key, Type::TEXT)],
        )
        .await;
    created?;
    unlocked?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_ddl_creates_only_what_is_missing_with_qualified_names() {
        let names = Names::new("public", "jobs");
        let state = |table, trigger, function| SchemaState {
            table,
            trigger,
            trigger_calls_function: trigger,
            function,
        };
        let done = state(Table::Joblock, true, Function::Current);
        assert!(done.complete());
        assert_eq!(schema_ddl(&names, &done), "");
        let table_only = schema_ddl(&names, &state(Table::Absent, true, Function::Current));
        assert!(table_only.starts_with("CREATE TABLE \"public\".\"jobs\" ("));
        assert!(!table_only.contains("TRIGGER"));
        assert!(!table_only.contains("FUNCTION"));
        let trigger_only = schema_ddl(&names, &state(Table::Joblock, false, Function::Absent));
        assert!(!trigger_only.contains("CREATE TABLE"));
        assert!(trigger_only.contains(&format!(
            "CREATE OR REPLACE FUNCTION \"public\".\"joblock_notify_jobs\"() RETURNS trigger \
             LANGUAGE plpgsql AS $joblock${}$joblock$;",
            notify_function_body()
        )));
        assert!(trigger_only.contains(
            "CREATE TRIGGER \"joblock_notify\" AFTER INSERT OR UPDATE OR DELETE ON \"public\".\"jobs\""
        ));
        assert!(
            trigger_only
                .contains("EXECUTE FUNCTION \"public\".\"joblock_notify_jobs\"(E'joblock_jobs')")
        );
        // An older function body is replaced, the trigger left as it is.
        let function_only = schema_ddl(&names, &state(Table::Joblock, true, Function::Older));
        assert!(
            function_only
                .starts_with("CREATE OR REPLACE FUNCTION \"public\".\"joblock_notify_jobs\"()")
        );
        assert!(!function_only.contains("CREATE TRIGGER"));
        assert!(!function_only.contains("CREATE TABLE"));
    }

    #[test]
    fn the_notify_function_body_cannot_end_its_dollar_quote() {
        assert!(!notify_function_body().contains("$joblock$"));
        assert!(notify_function_body().contains(&format!("'{ANY_ROW}'")));
    }
}
