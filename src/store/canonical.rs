//! Canonical JSON text: two values that are equal as `serde_json::Value`s always get
//! the same text.
//!
//! Every backend keys documents by the canonical text of their `_id` (so the `_id`
//! fast path and a full scan agree, and all backends report the same `DuplicateKey`
//! text), and Redis compares field values by their canonical text.

use serde_json::{Number, Value};

/// The canonical JSON text of `v`.
pub fn canonical_text(v: &Value) -> String {
    match v {
        // The common case: strings are already canonical.
        Value::String(_) => v.to_string(),
        _ => canonical(v).to_string(),
    }
}

/// `-0.0 == 0.0` as a `Value` but prints differently, and object key order is only
/// sorted without serde_json's `preserve_order`; normalise both.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() && n.as_f64() == Some(0.0) => {
            Number::from_f64(0.0).map_or_else(|| v.clone(), Value::Number)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(fields) => {
            let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_get_equal_text() {
        assert_eq!(canonical_text(&json!(-0.0)), canonical_text(&json!(0.0)));
        assert_eq!(
            canonical_text(&json!({"b": 1, "a": [2]})),
            r#"{"a":[2],"b":1}"#
        );
        assert_eq!(canonical_text(&json!("lock:x")), r#""lock:x""#);
    }
}
