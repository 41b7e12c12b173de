//! Documents in and out of rows: the `_id` key, a document checked and written as
//! JSON text for an INSERT, and `doc::text` columns parsed back into documents.

use serde_json::Value;

use super::failure::Failure;
use crate::store::StoreError;
use crate::store::canonical::canonical_text;
use crate::store::filter::{describe, keyed_document};

/// The key for an `_id`: its canonical JSON text, as every backend keys documents.
pub(super) fn id_key(id: &Value) -> String {
    canonical_text(id)
}

/// Checks a document's shape (same messages as memory) and returns its key and JSON text.
pub(super) fn split_doc(doc: Value, what: &str) -> Result<(String, String), StoreError> {
    let (key, fields) = keyed_document(doc, what)?;
    Ok((key, Value::Object(fields).to_string()))
}

/// Parses a `doc::text` column back into a document.
fn parse_doc(text: &str) -> Result<Value, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(doc @ Value::Object(_)) => Ok(doc),
        Ok(other) => Err(Failure::BadRow(format!(
            "a stored document is not a JSON object: {}",
            describe(&other)
        ))),
        Err(e) => Err(Failure::BadRow(format!(
            "a stored document is not JSON: {e}"
        ))),
    }
}

/// The documents in a result whose only column is `doc::text`.
pub(super) fn docs_of(rows: &[tokio_postgres::Row]) -> Result<Vec<Value>, Failure> {
    rows.iter()
        .map(|row| parse_doc(row.try_get::<_, &str>(0)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_get_the_same_keys_as_in_memory() {
        assert_eq!(id_key(&json!("x")), "\"x\"");
        assert_eq!(id_key(&json!(-0.0)), id_key(&json!(0.0)));
        assert_ne!(id_key(&json!(1)), id_key(&json!(1.0)));
        assert_eq!(
            id_key(&json!({"b": 1, "a": [-0.0]})),
            id_key(&json!({"a": [0.0], "b": 1}))
        );
    }

    #[test]
    fn split_doc_reports_like_memory() {
        assert_eq!(
            split_doc(json!({"x": 1}), "document"),
            Err(StoreError::Invalid("document has no _id".to_string()))
        );
        assert_eq!(
            split_doc(json!([1]), "document 2 of the batch"),
            Err(StoreError::Invalid(
                "document 2 of the batch must be a JSON object, got [1]".to_string()
            ))
        );
    }
}
