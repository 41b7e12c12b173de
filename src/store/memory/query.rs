//! How the memory store finds documents: keys by canonical `_id`, and first or all
//! matches of a filter in insertion order.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::store::canonical::canonical_text;
use crate::store::filter::matches;

/// Documents in insertion order, keyed by the canonical JSON text of their `_id`.
pub(super) type Docs = IndexMap<String, Map<String, Value>>;

/// The map key for an `_id`: its canonical JSON text (see [`crate::store::canonical`]).
pub(super) fn id_key(id: &Value) -> String {
    canonical_text(id)
}

/// Index of the first match in insertion order.
///
/// With `_id` in the filter at most one document can match, so it is looked up
/// directly: the lock always filters on `_id`, and a scan would make every lock
/// operation linear in the number of documents.
pub(super) fn first_match(docs: &Docs, filter: &Map<String, Value>) -> Option<usize> {
    match filter.get("_id") {
        Some(id) => docs
            .get_full(&id_key(id))
            .filter(|(_, _, doc)| matches(doc, filter))
            .map(|(i, _, _)| i),
        None => docs.values().position(|doc| matches(doc, filter)),
    }
}

/// Indices of every match, in insertion order.
pub(super) fn all_matches(docs: &Docs, filter: &Map<String, Value>) -> Vec<usize> {
    if filter.contains_key("_id") {
        first_match(docs, filter).into_iter().collect()
    } else {
        docs.values()
            .enumerate()
            .filter(|(_, doc)| matches(doc, filter))
            .map(|(i, _)| i)
            .collect()
    }
}

/// Sets the top-level fields of `set` on `doc` (the only update the API has).
pub(super) fn apply(doc: &mut Map<String, Value>, set: &Map<String, Value>) {
    for (key, value) in set {
        doc.insert(key.clone(), value.clone());
    }
}
