//! Matching semantics shared by every backend: what a filter is, what an update may
//! set, and when a document matches.
//!
//! Matching is exact equality on top-level keys, nothing more: the lock protocol must
//! be correct with the operations of a tiny mock database, so no operators (`$gt`,
//! `$exists`, ...) and no dotted paths are offered.

use serde_json::{Map, Value};

use super::StoreError;
use super::canonical::canonical_text;

/// Longest rendering of a caller's value inside an error message.
const DESCRIBE_MAX: usize = 80;

/// Renders a value for an error message, shortened so a huge payload cannot flood logs.
pub(crate) fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= DESCRIBE_MAX {
        return text;
    }
    // Cut on a char boundary: the text may hold multi-byte UTF-8.
    let mut end = DESCRIBE_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Checks that `doc` is a JSON object with an `_id` and returns the key every backend
/// stores it under (the canonical text of the `_id`) and its fields. `what` names the
/// document in the error ("document", "document 2 of the batch").
pub(crate) fn keyed_document(
    doc: Value,
    what: &str,
) -> Result<(String, Map<String, Value>), StoreError> {
    match doc {
        Value::Object(fields) => match fields.get("_id") {
            Some(id) => Ok((canonical_text(id), fields)),
            None => Err(StoreError::Invalid(format!("{what} has no _id"))),
        },
        other => Err(StoreError::Invalid(format!(
            "{what} must be a JSON object, got {}",
            describe(&other)
        ))),
    }
}

/// Checks every document of an `insert_many` batch with `check` before anything is
/// written (so a bad one inserts nothing), naming a bad one by its position.
pub(crate) fn check_batch<T>(
    docs: Vec<Value>,
    check: impl Fn(Value, &str) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| check(doc, &format!("document {i} of the batch")))
        .collect()
}

/// Checks that `filter` is a JSON object and returns its fields.
pub fn validate_filter(filter: &Value) -> Result<&Map<String, Value>, StoreError> {
    filter.as_object().ok_or_else(|| {
        StoreError::Invalid(format!(
            "filter must be a JSON object, got {}",
            describe(filter)
        ))
    })
}

/// Checks that `set` is a JSON object without `_id` and returns its fields.
///
/// Any `_id` key is refused, even one equal to the document's current `_id`: the key
/// identifies the document, and allowing a "no-op" rewrite would make the check
/// depend on which document matched, which a backend cannot always know up front.
pub fn validate_set(set: &Value) -> Result<&Map<String, Value>, StoreError> {
    let fields = set.as_object().ok_or_else(|| {
        StoreError::Invalid(format!(
            "update must be a JSON object of fields to set, got {}",
            describe(set)
        ))
    })?;
    if fields.contains_key("_id") {
        return Err(StoreError::Invalid("cannot change _id".to_string()));
    }
    Ok(fields)
}

/// Whether `doc` has every key of `filter` with an equal value.
///
/// A missing key never matches, not even a filter value of `null`: `{"owner": null}`
/// selects documents whose `owner` is explicitly null, which is how the lock tells
/// "released" apart from "never had an owner field". An empty filter matches every
/// document.
///
/// Equality is `serde_json::Value` equality, so numbers compare by representation
/// class: `1` and `1.0` are different values and do not match each other. Backends
/// must keep numbers as the caller wrote them for this to be consistent; the lock
/// only ever filters on strings and integers, so this never bites it.
pub fn matches(doc: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter
        .iter()
        .all(|(key, wanted)| doc.get(key) == Some(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("test fixture is not an object: {other}"),
        }
    }

    #[test]
    fn validate_filter_accepts_objects_including_empty() {
        assert!(validate_filter(&json!({})).is_ok());
        assert_eq!(validate_filter(&json!({"a": 1})).unwrap().len(), 1);
    }

    #[test]
    fn validate_filter_rejects_non_objects_and_names_the_value() {
        for bad in [json!([1]), json!(null), json!("x"), json!(3), json!(true)] {
            match validate_filter(&bad) {
                Err(StoreError::Invalid(msg)) => {
                    assert!(msg.contains("filter must be a JSON object"), "{msg}");
                    assert!(msg.contains(&bad.to_string()), "{msg}");
                }
                other => panic!("expected Invalid for {bad}, got {other:?}"),
            }
        }
    }

    #[test]
    fn validate_set_rejects_non_objects() {
        assert!(matches!(
            validate_set(&json!([["a", 1]])),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn validate_set_rejects_any_id_key() {
        assert_eq!(
            validate_set(&json!({"_id": "a", "x": 1})),
            Err(StoreError::Invalid("cannot change _id".to_string()))
        );
    }

    #[test]
    fn validate_set_accepts_plain_fields_and_empty_objects() {
        assert_eq!(validate_set(&json!({"owner": null})).unwrap().len(), 1);
        assert!(validate_set(&json!({})).unwrap().is_empty());
    }

    #[test]
    fn empty_filter_matches_every_document() {
        assert!(matches(&obj(json!({"_id": 1})), &Map::new()));
        assert!(matches(&Map::new(), &Map::new()));
    }

    #[test]
    fn every_filter_key_must_be_present_and_equal() {
        let doc = obj(json!({"_id": "a", "owner": "w1", "n": 2}));
        assert!(matches(&doc, &obj(json!({"owner": "w1", "n": 2}))));
        assert!(!matches(&doc, &obj(json!({"owner": "w1", "n": 3}))));
        assert!(!matches(&doc, &obj(json!({"owner": "w1", "other": 2}))));
    }

    #[test]
    fn null_filter_value_matches_only_an_explicit_null() {
        let filter = obj(json!({"owner": null}));
        assert!(matches(&obj(json!({"_id": 1, "owner": null})), &filter));
        assert!(!matches(&obj(json!({"_id": 1})), &filter));
        assert!(!matches(&obj(json!({"_id": 1, "owner": "w"})), &filter));
    }

    #[test]
    fn integer_and_float_forms_of_a_number_do_not_match() {
        // Documented serde_json behaviour, pinned so a change is noticed.
        assert!(!matches(&obj(json!({"n": 1})), &obj(json!({"n": 1.0}))));
        assert!(matches(&obj(json!({"n": 1.5})), &obj(json!({"n": 1.5}))));
    }

    #[test]
    fn nested_values_compare_structurally() {
        let doc = obj(json!({"meta": {"a": [1, 2], "b": null}}));
        assert!(matches(
            &doc,
            &obj(json!({"meta": {"b": null, "a": [1, 2]}}))
        ));
        assert!(!matches(
            &doc,
            &obj(json!({"meta": {"a": [2, 1], "b": null}}))
        ));
    }

    #[test]
    fn describe_shortens_long_values_on_a_char_boundary() {
        let long = Value::String("é".repeat(200));
        let text = describe(&long);
        assert!(text.ends_with("..."));
        assert!(text.len() <= DESCRIBE_MAX + 3);
        assert_eq!(describe(&json!([1])), "[1]");
    }
}
