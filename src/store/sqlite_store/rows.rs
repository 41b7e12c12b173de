//! Documents in and out of rows: a document's key and text for an INSERT, the rows
//! a filter matches (looked up by `_id`, else scanned in insertion order and
//! matched in Rust), and the writes of one row.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::Statements;
use super::exec::{Failure, duplicate_or};
use crate::store::StoreError;
use crate::store::canonical::canonical_text;
use crate::store::filter::{describe, keyed_document, matches};

/// A stored document and the row it is in.
pub(super) struct Stored {
    /// The row's insertion number (its rowid).
    pub(super) seq: i64,
    pub(super) doc: Map<String, Value>,
}

impl Stored {
    /// The document, as the operations return it.
    pub(super) fn into_value(self) -> Value {
        Value::Object(self.doc)
    }
}

/// JSON text of a document's fields. Writing a JSON map with string keys cannot
/// fail; were it ever to, the operation is refused rather than run with a wrong value.
fn doc_text(fields: &Map<String, Value>) -> Result<String, StoreError> {
    serde_json::to_string(fields)
        .map_err(|e| StoreError::Invalid(format!("cannot write a document as JSON: {e}")))
}

/// Checks a document's shape (same messages as memory) and returns its key (the
/// canonical text of its `_id`) and its JSON text.
pub(super) fn split_doc(doc: Value, what: &str) -> Result<(String, String), StoreError> {
    let (key, fields) = keyed_document(doc, what)?;
    Ok((key, doc_text(&fields)?))
}

/// Parses a `doc` column back into a document.
fn parse_doc(text: &str) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(doc)) => Ok(doc),
        Ok(other) => Err(Failure::BadRow(format!(
            "a stored document is not a JSON object: {}",
            describe(&other)
        ))),
        Err(e) => Err(Failure::BadRow(format!(
            "a stored document is not JSON: {e}"
        ))),
    }
}

/// The rows whose documents match `filter`, in insertion order, at most `limit`.
///
/// With `_id` in the filter at most one row can match, and the unique index on `id`
/// finds it: the lock always filters on `_id`. Without it every row is read in
/// `seq` order, until `limit` have matched.
pub(super) fn matching(
    conn: &Connection,
    sql: &Statements,
    filter: &Map<String, Value>,
    limit: usize,
) -> Result<Vec<Stored>, Failure> {
    let mut found = Vec::new();
    if limit == 0 {
        return Ok(found);
    }
    if let Some(id) = filter.get("_id") {
        let row: Option<(i64, String)> = conn
            .prepare_cached(&sql.by_id)?
            .query_row([canonical_text(id)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((seq, text)) = row {
            let doc = parse_doc(&text)?;
            if matches(&doc, filter) {
                found.push(Stored { seq, doc });
            }
        }
        return Ok(found);
    }
    let mut stmt = conn.prepare_cached(&sql.all)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        // Borrowed from SQLite's buffer: a scan copies no document it does not keep.
        let text = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let doc = parse_doc(text)?;
        if matches(&doc, filter) {
            found.push(Stored {
                seq: row.get(0)?,
                doc,
            });
            if found.len() == limit {
                break;
            }
        }
    }
    Ok(found)
}

/// Inserts one document by its key and text; `Duplicate` if the key is taken.
pub(super) fn insert(
    conn: &Connection,
    sql: &Statements,
    key: &str,
    text: &str,
) -> Result<(), Failure> {
    conn.prepare_cached(&sql.insert)?
        .execute(params![key, text])
        .map_err(|e| duplicate_or(e, key))?;
    Ok(())
}

/// Sets the fields of `set` on `row`'s document, in memory and in its row (whose
/// version it bumps, which is what wakes a watcher).
pub(super) fn update(
    conn: &Connection,
    sql: &Statements,
    row: &mut Stored,
    set: &Map<String, Value>,
) -> Result<(), Failure> {
    row.doc
        .extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
    let text = serde_json::to_string(&row.doc)
        .map_err(|e| Failure::BadRow(format!("cannot write the updated document: {e}")))?;
    conn.prepare_cached(&sql.update)?
        .execute(params![text, row.seq])?;
    Ok(())
}

/// Deletes `row`.
pub(super) fn delete(conn: &Connection, sql: &Statements, row: &Stored) -> Result<(), Failure> {
    conn.prepare_cached(&sql.delete)?.execute([row.seq])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_doc_keys_like_memory_and_reports_like_it() {
        let (key, text) = split_doc(json!({"_id": -0.0, "n": u64::MAX}), "document").unwrap();
        assert_eq!(key, canonical_text(&json!(0.0)));
        assert_eq!(
            parse_doc(&text).ok().map(Value::Object),
            Some(json!({"_id": -0.0, "n": u64::MAX}))
        );
        assert_eq!(
            split_doc(json!({"x": 1}), "document"),
            Err(StoreError::Invalid("document has no _id".to_string()))
        );
    }

    #[test]
    fn rows_that_are_not_objects_are_bad_rows() {
        assert!(matches!(parse_doc("[1]"), Err(Failure::BadRow(m)) if m.contains("[1]")));
        assert!(matches!(parse_doc("{"), Err(Failure::BadRow(m)) if m.contains("not JSON")));
    }
}
