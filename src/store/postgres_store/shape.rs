//! What a namespace's name already holds on the server, and whether it is joblock's:
//! read from the catalogs before anything is created, written or listened to, so
//! that joblock never alters (or reads as its own) another application's table.

use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use super::names::{Names, TRIGGER_NAME};

/// The columns (name and type, in order) of the table joblock creates; see
/// `schema_ddl`. `bigserial` is a `bigint` with a sequence default.
const JOBLOCK_COLUMNS: &str = "id text, seq bigint, doc jsonb";

/// Text every body the notify function has had contains: what tells an older
/// joblock body (replaced on connect) from somebody else's function of that name.
const NOTIFY_CALL: &str = "pg_notify(TG_ARGV[0]";

/// What the namespace's name is in its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Table {
    /// Nothing by that name.
    Absent,
    /// A table with exactly joblock's columns.
    Joblock,
    /// Something else: what it is (`table`, `view`, ...) and its columns.
    Other {
        /// The kind of relation, as `table`, `view`, `sequence`, ...
        kind: &'static str,
        /// Its columns as `name type, ...` (or `no columns`).
        columns: String,
    },
}

/// What the namespace's trigger function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Function {
    /// No function by that name.
    Absent,
    /// joblock's, with this version's body, or an older body this role may not
    /// replace (it announces the same changes, only slower).
    Current,
    /// joblock's with an older body this role owns: replaced on a writable open.
    Older,
    /// A function of that name that is not a joblock notify trigger function.
    Other,
}

/// What [`inspect`] found of a namespace's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SchemaState {
    pub(super) table: Table,
    /// A trigger named [`TRIGGER_NAME`] is on the table.
    pub(super) trigger: bool,
    /// That trigger calls the namespace's function (not some other one).
    pub(super) trigger_calls_function: bool,
    pub(super) function: Function,
}

impl SchemaState {
    /// The table has joblock's notification trigger, calling joblock's function: a
    /// store may LISTEN on the namespace's channel.
    pub(super) fn notifies(&self) -> bool {
        self.table == Table::Joblock
            && self.trigger
            && self.trigger_calls_function
            && matches!(self.function, Function::Current | Function::Older)
    }

    /// Nothing to create or replace.
    pub(super) fn complete(&self) -> bool {
        self.notifies() && self.function == Function::Current
    }

    /// Why a store may not read this table at all, if it may not: it is not
    /// joblock's. The line tells the user what to do.
    pub(super) fn refuse_reading(&self, names: &Names) -> Option<String> {
        match &self.table {
            Table::Other { kind, columns } => Some(format!(
                "{kind} {} exists but is not a joblock table ({columns}): pick another --namespace",
                names.shown()
            )),
            Table::Absent | Table::Joblock => None,
        }
    }

    /// Why a writable store may not create or replace what is missing, if it may
    /// not: the table, the trigger or the function by joblock's names is somebody
    /// else's, and creating over it would change that application's objects.
    pub(super) fn refuse_writing(&self, names: &Names) -> Option<String> {
        if let Some(why) = self.refuse_reading(names) {
            return Some(why);
        }
        if self.function == Function::Other {
            return Some(format!(
                "function {}.{}() exists but is not joblock's notify function: pick another --namespace",
                names.schema, names.function_name
            ));
        }
        if self.trigger && !self.trigger_calls_function {
            return Some(format!(
                "trigger {TRIGGER_NAME} on {} does not call joblock's function {}.{}(): \
                 pick another --namespace",
                names.shown(),
                names.schema,
                names.function_name
            ));
        }
        None
    }
}

/// The kind of relation a `pg_class.relkind` names, for messages.
fn relation_kind(relkind: &str) -> &'static str {
    match relkind {
        "r" => "table",
        "p" => "partitioned table",
        "v" => "view",
        "m" => "materialized view",
        "S" => "sequence",
        "i" | "I" => "index",
        "f" => "foreign table",
        "c" => "composite type",
        _ => "relation",
    }
}

/// Reads the catalogs for the namespace's table, trigger and function, in one
/// statement, by schema and name (so no search_path is consulted). Only reads:
/// read-only stores run it too.
///
/// `current_body` is this version's function body: a function with it is
/// [`Function::Current`].
pub(super) async fn inspect(
    client: &impl GenericClient,
    names: &Names,
    current_body: &str,
) -> Result<SchemaState, tokio_postgres::Error> {
    let row = client
        .query_typed_one(
            "WITH rel AS (
             SELECT c.oid, c.relkind::text AS relkind
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2),
         fn AS (
             SELECT p.oid, p.prosrc,
                    p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
                        AND l.lanname = 'plpgsql' AS is_trigger,
                    pg_catalog.pg_has_role(p.proowner, 'USAGE') AS owned
             FROM pg_catalog.pg_proc p
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_catalog.pg_language l ON l.oid = p.prolang
             WHERE n.nspname = $1 AND p.proname = $3 AND p.pronargs = 0)
         SELECT (SELECT relkind FROM rel),
                (SELECT pg_catalog.string_agg(a.attname::text || ' '
                            || pg_catalog.format_type(a.atttypid, a.atttypmod), ', '
                            ORDER BY a.attnum)
                 FROM pg_catalog.pg_attribute a, rel
                 WHERE a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped),
                EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t, rel
                        WHERE t.tgrelid = rel.oid AND t.tgname = $4),
                EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t, rel, fn
                        WHERE t.tgrelid = rel.oid AND t.tgname = $4 AND t.tgfoid = fn.oid),
                (SELECT is_trigger FROM fn),
                (SELECT prosrc FROM fn),
                (SELECT owned FROM fn)",
            &[
                (&names.schema, Type::TEXT),
                (&names.namespace, Type::TEXT),
                (&names.function_name, Type::TEXT),
                (&TRIGGER_NAME, Type::TEXT),
            ],
        )
        .await?;
    let relkind: Option<String> = row.try_get(0)?;
    let columns: Option<String> = row.try_get(1)?;
    let table = match relkind {
        None => Table::Absent,
        Some(k) if k == "r" && columns.as_deref() == Some(JOBLOCK_COLUMNS) => Table::Joblock,
        Some(k) => Table::Other {
            kind: relation_kind(&k),
            columns: columns.map_or_else(|| "no columns".to_string(), |c| format!("columns {c}")),
        },
    };
    let is_trigger: Option<bool> = row.try_get(4)?;
    let body: Option<String> = row.try_get(5)?;
    let owned: Option<bool> = row.try_get(6)?;
    let function = match (is_trigger, body) {
        (None, _) | (_, None) => Function::Absent,
        (Some(true), Some(body)) if body.contains(NOTIFY_CALL) => {
            if body == current_body || owned != Some(true) {
                Function::Current
            } else {
                Function::Older
            }
        }
        _ => Function::Other,
    };
    Ok(SchemaState {
        table,
        trigger: row.try_get(2)?,
        trigger_calls_function: row.try_get(3)?,
        function,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(table: Table, trigger: bool, calls: bool, function: Function) -> SchemaState {
        SchemaState {
            table,
            trigger,
            trigger_calls_function: calls,
            function,
        }
    }

    #[test]
    fn only_joblocks_table_trigger_and_function_are_complete() {
        let names = Names::new("public", "jobs");
        let done = state(Table::Joblock, true, true, Function::Current);
        assert!(done.complete() && done.notifies());
        assert_eq!(done.refuse_writing(&names), None);
        let older = state(Table::Joblock, true, true, Function::Older);
        assert!(older.notifies() && !older.complete());
        let absent = state(Table::Absent, false, false, Function::Absent);
        assert!(!absent.notifies());
        assert_eq!(absent.refuse_writing(&names), None);
        assert_eq!(absent.refuse_reading(&names), None);
    }

    #[test]
    fn another_applications_objects_are_refused_in_one_line() {
        let names = Names::new("public", "jobs");
        let foreign = state(
            Table::Other {
                kind: "table",
                columns: "columns id integer, note text".to_string(),
            },
            false,
            false,
            Function::Absent,
        );
        let line = "table public.jobs exists but is not a joblock table \
                    (columns id integer, note text): pick another --namespace";
        assert_eq!(foreign.refuse_reading(&names).as_deref(), Some(line));
        assert_eq!(foreign.refuse_writing(&names).as_deref(), Some(line));
        // A foreign function or trigger stops writers only: readers never create.
        let function = state(Table::Absent, false, false, Function::Other);
        assert_eq!(function.refuse_reading(&names), None);
        assert!(
            function
                .refuse_writing(&names)
                .is_some_and(|l| l.contains("joblock_notify_jobs()") && !l.contains('\n'))
        );
        let trigger = state(Table::Joblock, true, false, Function::Absent);
        assert!(!trigger.notifies());
        assert!(
            trigger
                .refuse_writing(&names)
                .is_some_and(|l| l.starts_with("trigger joblock_notify on public.jobs"))
        );
    }
}
