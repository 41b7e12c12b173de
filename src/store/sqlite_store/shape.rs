//! What a namespace's name already is in the database file, and whether it is
//! joblock's table: read from the schema before anything is created, written or
//! read, so that joblock never alters (or reads as its own) another application's
//! table. A writable open creates the table when the name is free.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::exec::Failure;

/// The columns of joblock's table as `name TYPE`, in order; [`inspect`] also checks
/// their constraints.
const JOBLOCK_COLUMNS: &str = "seq INTEGER, id TEXT, version INTEGER, doc TEXT";

/// The statement that creates joblock's table `table` (already quoted).
fn create_sql(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
         version INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL)"
    )
}

/// What the namespace's name is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Table {
    /// Nothing by that name.
    Absent,
    /// A table with exactly joblock's columns and constraints.
    Joblock,
    /// Something else: what it is (`table`, `view`, `index`, ...) and its columns.
    Other {
        /// The kind of object, as the schema names it.
        kind: String,
        /// Its columns as `name TYPE, ...` (or `no columns`).
        columns: String,
    },
}

impl Table {
    /// Whether joblock's table is there (`true`) or the name is free (`false`); for
    /// anything else, why a store may not use the name, in a line that tells the
    /// user what to do.
    pub(super) fn usable(&self, namespace: &str, shown: &str) -> Result<bool, String> {
        match self {
            Table::Joblock => Ok(true),
            Table::Absent => Ok(false),
            Table::Other { kind, columns } => Err(format!(
                "{kind} {namespace} in {shown} exists but is not a joblock table ({columns}): \
                 pick another --namespace"
            )),
        }
    }
}

/// One column as `PRAGMA table_xinfo` describes it.
struct Column {
    name: String,
    kind: String,
    not_null: bool,
    primary_key: bool,
    hidden: bool,
}

/// Whether `columns` are joblock's: names and types, `seq` the (integer, so rowid)
/// primary key, the others `NOT NULL`, nothing hidden.
fn joblock_columns(columns: &[Column]) -> bool {
    let text = describe(columns);
    text == JOBLOCK_COLUMNS
        && columns.iter().all(|c| {
            !c.hidden && c.primary_key == (c.name == "seq") && (c.not_null || c.name == "seq")
        })
}

fn describe(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads what the name `namespace` is, from the schema only (no row of any table is
/// read, nothing is written): read-only stores run it too.
pub(super) fn inspect(conn: &Connection, namespace: &str) -> rusqlite::Result<Table> {
    // Names are compared without case, as SQLite resolves them.
    let found: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT type, sql FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE")?
        .query_row([namespace], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((kind, sql)) = found else {
        return Ok(Table::Absent);
    };
    // A virtual table's columns can only be listed with its module loaded.
    if kind != "table" || sql.is_some_and(|s| s.starts_with("CREATE VIRTUAL")) {
        let kind = if kind == "table" {
            "virtual table".to_string()
        } else {
            kind
        };
        return Ok(Table::Other {
            kind,
            columns: "not a plain table".to_string(),
        });
    }
    let columns = conn
        .prepare_cached(r#"SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?1)"#)?
        .query_map([namespace], |r| {
            Ok(Column {
                name: r.get(0)?,
                kind: r.get(1)?,
                not_null: r.get(2)?,
                primary_key: r.get::<_, i64>(3)? != 0,
                hidden: r.get::<_, i64>(4)? != 0,
            })
        })?
        .collect::<rusqlite::Result<Vec<Column>>>()?;
    if joblock_columns(&columns) && id_is_unique(conn, namespace)? {
        return Ok(Table::Joblock);
    }
    Ok(Table::Other {
        kind,
        columns: if columns.is_empty() {
            "no columns".to_string()
        } else {
            format!("columns {}", describe(&columns))
        },
    })
}

/// Whether a unique index covers exactly the `id` column: what gives `DuplicateKey`.
fn id_is_unique(conn: &Connection, namespace: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        r#"SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1) AS l
                          WHERE l."unique" AND
                                (SELECT group_concat(name) FROM pragma_index_info(l.name)) = 'id')"#,
    )?
    .query_row([namespace], |r| r.get(0))
}

/// Makes sure `table` (the quoted `namespace`) is joblock's, creating it when the
/// name is free; another application's object of that name is refused untouched.
///
/// The usual case (the table is there) is one read of the schema; creating takes
/// the write lock first and looks again, so two processes opening a new file at
/// once create the table once and neither fails.
pub(super) fn ensure_table(
    conn: &mut Connection,
    namespace: &str,
    table: &str,
    shown: &str,
) -> Result<(), Failure> {
    let usable = |found: Table| found.usable(namespace, shown).map_err(Failure::NotJoblocks);
    if usable(inspect(conn, namespace)?)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !usable(inspect(&tx, namespace)?)? {
        tx.execute_batch(&create_sql(table))?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    #[test]
    fn the_created_table_is_recognised_and_a_free_name_is_absent() {
        let mut conn = memory();
        assert_eq!(inspect(&conn, "jobs").unwrap(), Table::Absent);
        ensure_table(&mut conn, "jobs", "\"jobs\"", "mem").unwrap();
        assert_eq!(inspect(&conn, "jobs").unwrap(), Table::Joblock);
        assert_eq!(inspect(&conn, "JOBS").unwrap(), Table::Joblock);
        ensure_table(&mut conn, "jobs", "\"jobs\"", "mem").unwrap();
    }

    #[test]
    fn lookalikes_and_other_objects_are_not_joblocks() {
        let conn = memory();
        conn.execute_batch(
            "CREATE TABLE plain (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, \
                                 version INTEGER NOT NULL, doc TEXT NOT NULL);
             CREATE TABLE notes (id INTEGER, note TEXT);
             CREATE VIEW seen AS SELECT 1 AS one;
             CREATE INDEX by_note ON notes (note);",
        )
        .unwrap();
        // Same columns, but nothing keeps `id` unique.
        assert!(matches!(
            inspect(&conn, "plain").unwrap(),
            Table::Other { .. }
        ));
        let notes = inspect(&conn, "notes").unwrap();
        assert_eq!(
            notes.usable("notes", "f.db"),
            Err("table notes in f.db exists but is not a joblock table \
                 (columns id INTEGER, note TEXT): pick another --namespace"
                .to_string())
        );
        assert_eq!(Table::Absent.usable("n", "f"), Ok(false));
        assert_eq!(Table::Joblock.usable("n", "f"), Ok(true));
        for (name, kind) in [("seen", "view"), ("by_note", "index")] {
            match inspect(&conn, name).unwrap() {
                Table::Other { kind: k, .. } => assert_eq!(k, kind),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn ensure_table_refuses_another_table_and_leaves_it_alone() {
        let mut conn = memory();
        conn.execute_batch("CREATE TABLE jobs (id INTEGER); INSERT INTO jobs VALUES (7);")
            .unwrap();
        match ensure_table(&mut conn, "jobs", "\"jobs\"", "f.db") {
            Err(Failure::NotJoblocks(line)) => assert!(line.contains("pick another"), "{line}"),
            Err(_) => panic!("expected NotJoblocks"),
            Ok(()) => panic!("another table was taken for joblock's"),
        }
        let n: i64 = conn
            .query_row("SELECT id FROM jobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 7);
    }
}
