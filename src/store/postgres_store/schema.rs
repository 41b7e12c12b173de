//! The namespace's schema: its table and the trigger (with its function) that
//! announces every changed row, created when missing, safely under concurrent
//! creators and without CREATE rights on an existing table.

use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, GenericClient};

use super::names::{channel_name, notify_function_name, quote_ident, quote_literal};

/// How often `connect` re-checks for the table after losing a creation race.
const CREATE_ATTEMPTS: usize = 5;

/// The name of the change-notification trigger on every namespace's table.
const TRIGGER_NAME: &str = "joblock_notify";

/// The notification payload meaning "some row changed": sent for an `id` too long
/// for a payload (they must be shorter than 8000 bytes). No canonical key is `*`
/// (every key is JSON text), so it cannot be confused with a real row.
pub(super) const ANY_ROW: &str = "*";

/// Whether an error from `CREATE TABLE IF NOT EXISTS` means another session created
/// the same table at the same moment (the check and the creation are not atomic in
/// PostgreSQL, so the loser sees a catalog unique violation or "already exists").
fn lost_creation_race(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    )
}

/// What [`ensure_schema`] found of a namespace's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SchemaState {
    /// The table exists.
    table: bool,
    /// The table has the notification trigger.
    trigger: bool,
    /// The trigger function has this version's body ([`notify_function_body`]), or
    /// it is not this role's to replace (an older body still notifies, only slower).
    function: bool,
}

impl SchemaState {
    /// Nothing to create or replace.
    fn complete(self) -> bool {
        self.table && self.trigger && self.function
    }
}

/// What the namespace's schema has (`to_regclass`/`to_regprocedure` of the quoted
/// names, so case matches).
fn schema_state(
    client: &mut impl GenericClient,
    names: SchemaNames<'_>,
) -> Result<SchemaState, postgres::Error> {
    let table = names.table.to_string();
    let trigger = TRIGGER_NAME.to_string();
    let function = format!("{}()", quote_ident(&notify_function_name(names.namespace)));
    let body = notify_function_body();
    let row = client.query_typed_one(
        "SELECT to_regclass($1) IS NOT NULL, \
                EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2), \
                EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure($3) \
                        AND (prosrc = $4 OR NOT pg_has_role(proowner, 'USAGE')))",
        &[
            (&table, Type::TEXT),
            (&trigger, Type::TEXT),
            (&function, Type::TEXT),
            (&body, Type::TEXT),
        ],
    )?;
    Ok(SchemaState {
        table: row.try_get(0)?,
        trigger: row.try_get(1)?,
        function: row.try_get(2)?,
    })
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
/// (with its function, see [`notify_function_body`]).
///
/// The function is created with `CREATE OR REPLACE`, also to replace an older body;
/// the trigger only when missing (the caller checked, under the schema lock).
fn schema_ddl(names: &SchemaNames<'_>, state: SchemaState) -> String {
    let SchemaNames { table, namespace } = *names;
    let function = quote_ident(&notify_function_name(namespace));
    let mut ddl = String::new();
    if !state.table {
        ddl.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
             id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL);\n"
        ));
    }
    if !state.trigger || !state.function {
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
            channel = quote_literal(&channel_name(namespace)),
        ));
    }
    ddl
}

/// The names [`ensure_schema`] needs: the quoted table and the namespace as written.
#[derive(Clone, Copy)]
pub(super) struct SchemaNames<'a> {
    pub(super) table: &'a str,
    pub(super) namespace: &'a str,
}

/// Creates the namespace's table and notification trigger unless they exist, and
/// replaces a trigger function an older version made; tolerates concurrent
/// creators. Returns whether the table has the trigger.
///
/// Checking first means a role without CREATE rights can use an existing table.
/// Creation runs in one transaction, so nobody sees the table without its trigger,
/// and under a session advisory lock keyed on the table, taken *before* the
/// transaction starts: joblock processes then create one at a time, and each one's
/// transaction starts after the previous creator committed, so its catalog checks
/// see what that one made. (`CREATE OR REPLACE FUNCTION` racing itself fails with
/// "tuple concurrently updated", which no retry rule could recognise safely.)
/// Other sessions racing on the table alone (an older joblock) are handled as for
/// `CREATE TABLE IF NOT EXISTS`: the loser re-checks and retries.
///
/// An existing table that lacks the trigger and that this role may not add one to
/// still works, without notification (`Ok(false)`): waiters poll as before. One
/// whose trigger function has an older body that this role may not replace keeps
/// it: it announces the same changes.
pub(super) fn ensure_schema(
    client: &mut Client,
    names: SchemaNames<'_>,
) -> Result<bool, postgres::Error> {
    if schema_state(client, names)?.complete() {
        return Ok(true);
    }
    let mut attempt = 0;
    loop {
        match create_schema(client, names) {
            Ok(()) => return Ok(true),
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                let state = schema_state(client, names)?;
                return if state.table {
                    Ok(state.trigger)
                } else {
                    Err(e)
                };
            }
            Err(e) if lost_creation_race(&e) && attempt < CREATE_ATTEMPTS => {
                // The winner may not have committed yet; once it has, we are done.
                if schema_state(client, names)?.complete() {
                    return Ok(true);
                }
                attempt += 1;
                std::thread::sleep(Duration::from_millis(20 * attempt as u64));
            }
            Err(e) => return Err(e),
        }
    }
}

/// One creation attempt for [`ensure_schema`]: lock, check, create, commit, unlock.
fn create_schema(client: &mut Client, names: SchemaNames<'_>) -> Result<(), postgres::Error> {
    let table = names.table.to_string();
    // Two-key form with the first key fixed, so that it is unlikely to collide with
    // an application's own advisory locks.
    client.execute_typed(
        "SELECT pg_advisory_lock(hashtext('joblock'), hashtext($1))",
        &[(&table, Type::TEXT)],
    )?;
    let created = (|| {
        let mut tx = client.transaction()?;
        let state = schema_state(&mut tx, names)?;
        let ddl = schema_ddl(&names, state);
        if !ddl.is_empty() {
            tx.batch_execute(&ddl)?;
        }
        tx.commit()
    })();
    // A session lock outlives errors, so release it whatever happened (a broken
    // connection released it already, and its error is the one worth reporting).
    let unlocked = client.execute_typed(
        "SELECT pg_advisory_unlock(hashtext('joblock'), hashtext($1))",
        &[(&table, Type::TEXT)],
    );
    created?;
    unlocked?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_ddl_creates_only_what_is_missing() {
        let names = SchemaNames {
            table: "\"jobs\"",
            namespace: "jobs",
        };
        let state = |table, trigger, function| SchemaState {
            table,
            trigger,
            function,
        };
        assert!(state(true, true, true).complete());
        assert_eq!(schema_ddl(&names, state(true, true, true)), "");
        let table_only = schema_ddl(&names, state(false, true, true));
        assert!(table_only.starts_with("CREATE TABLE IF NOT EXISTS \"jobs\" ("));
        assert!(!table_only.contains("TRIGGER"));
        assert!(!table_only.contains("FUNCTION"));
        let trigger_only = schema_ddl(&names, state(true, false, false));
        assert!(!trigger_only.contains("CREATE TABLE"));
        assert!(trigger_only.contains(&format!(
            "CREATE OR REPLACE FUNCTION \"joblock_notify_jobs\"() RETURNS trigger LANGUAGE plpgsql \
             AS $joblock${}$joblock$;",
            notify_function_body()
        )));
        assert!(trigger_only.contains(
            "CREATE TRIGGER \"joblock_notify\" AFTER INSERT OR UPDATE OR DELETE ON \"jobs\""
        ));
        assert!(trigger_only.contains("EXECUTE FUNCTION \"joblock_notify_jobs\"(E'joblock_jobs')"));
        // An older function body is replaced, the trigger left as it is.
        let function_only = schema_ddl(&names, state(true, true, false));
        assert!(function_only.starts_with("CREATE OR REPLACE FUNCTION \"joblock_notify_jobs\"()"));
        assert!(!function_only.contains("CREATE TRIGGER"));
        assert!(!function_only.contains("CREATE TABLE"));
    }

    #[test]
    fn the_notify_function_body_cannot_end_its_dollar_quote() {
        assert!(!notify_function_body().contains("$joblock$"));
        assert!(notify_function_body().contains(&format!("'{ANY_ROW}'")));
    }
}
