//! Queries: a document flattened for the insert script, and each operation sent to
//! the by-id script when its filter has `_id`, else to the scan script.

use serde_json::{Map, Value};

use super::RedisStore;
use super::request::{Request, write_canonical};
use super::scripts::{BY_ID, INSERT, SCAN};
use crate::store::StoreError;
use crate::store::canonical::canonical_text;
use crate::store::filter::keyed_document;

/// What a query does to its matches.
#[derive(Clone, Copy)]
pub(super) enum Action {
    Find,
    Update,
    Delete,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Find => "find",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// A document checked and flattened for the insert script: its id text and its
/// (name, value text) pairs.
pub(super) struct Flat {
    id: String,
    fields: Vec<(String, String)>,
}

/// Checks a document's shape (same messages as the memory store) and flattens it.
pub(super) fn flatten_doc(doc: Value, what: &str) -> Result<Flat, StoreError> {
    let (id, fields) = keyed_document(doc, what)?;
    Ok(Flat {
        id,
        fields: fields
            .iter()
            .map(|(k, v)| (k.clone(), canonical_text(v)))
            .collect(),
    })
}

impl RedisStore {
    /// Inserts a checked batch; `DuplicateKey` names the first clashing `_id`.
    pub(super) fn insert(&self, batch: &[Flat]) -> Result<(), StoreError> {
        let shared = &self.shared;
        let mut call = Request::new(&INSERT, 2);
        call.arg(shared.ids_key.as_bytes())
            .arg(shared.seq_key.as_bytes())
            .arg(shared.doc_prefix.as_bytes())
            .arg(shared.channel_prefix.as_bytes())
            .int(batch.len());
        for doc in batch {
            call.arg(doc.id.as_bytes()).int(doc.fields.len());
            for (name, text) in &doc.fields {
                call.arg(name.as_bytes()).arg(text.as_bytes());
            }
        }
        match self.eval(&INSERT, &call)? {
            redis::Value::Nil | redis::Value::Boolean(false) => Ok(()),
            redis::Value::BulkString(id) => Err(StoreError::DuplicateKey(
                String::from_utf8_lossy(&id).into_owned(),
            )),
            _ => Err(shared.unexpected("expected nil or an id")),
        }
    }

    /// Runs the by-id script: `action` on the document `filter` (which has `_id`)
    /// matches, setting `set` on update; `reply` is `doc` or `count`.
    fn by_id(
        &self,
        id: &Value,
        action: Action,
        reply: &str,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<redis::Value, StoreError> {
        let shared = &self.shared;
        let mut id_text = Vec::new();
        write_canonical(&mut id_text, id)?;
        let mut call = Request::new(&BY_ID, 2);
        call.joined(shared.doc_prefix.as_bytes(), &id_text)
            .arg(shared.ids_key.as_bytes())
            .joined(shared.channel_prefix.as_bytes(), &id_text)
            .arg(&id_text)
            .arg(action.name().as_bytes())
            .arg(reply.as_bytes())
            .filter(filter)?;
        if let Some(set) = set {
            call.pairs(set)?;
        }
        self.eval(&BY_ID, &call)
    }

    /// Runs the scan script: `action` on at most `limit` matches (0: all) of `filter`
    /// (which has no `_id`), setting `set` on update; `reply` is `docs` or `count`.
    fn scan(
        &self,
        action: Action,
        reply: &str,
        limit: usize,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<redis::Value, StoreError> {
        let shared = &self.shared;
        let mut call = Request::new(&SCAN, 1);
        call.arg(shared.ids_key.as_bytes())
            .arg(shared.doc_prefix.as_bytes())
            .arg(shared.channel_prefix.as_bytes())
            .arg(action.name().as_bytes())
            .arg(reply.as_bytes())
            .int(limit)
            .filter(filter)?;
        if let Some(set) = set {
            call.pairs(set)?;
        }
        self.eval(&SCAN, &call)
    }

    /// The first match of `filter`, after `action` was applied to it.
    pub(super) fn query_one(
        &self,
        action: Action,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<Option<Value>, StoreError> {
        match filter.get("_id") {
            // With _id in the filter at most one document can match: look it up
            // directly rather than scanning (the lock always filters on _id).
            Some(id) => {
                let reply = self.by_id(id, action, "doc", filter, set)?;
                self.shared.doc_reply(reply)
            }
            None => {
                let reply = self.scan(action, "docs", 1, filter, set)?;
                Ok(self.shared.docs_reply(reply)?.into_iter().next())
            }
        }
    }

    /// Every match of `filter`, in insertion order, after `action` was applied.
    pub(super) fn query_all(
        &self,
        action: Action,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<Vec<Value>, StoreError> {
        match filter.get("_id") {
            Some(_) => Ok(self.query_one(action, filter, set)?.into_iter().collect()),
            None => {
                let reply = self.scan(action, "docs", 0, filter, set)?;
                self.shared.docs_reply(reply)
            }
        }
    }

    /// How many documents `action` applied to (at most `limit`, 0: all).
    pub(super) fn query_count(
        &self,
        action: Action,
        limit: usize,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<u64, StoreError> {
        let reply = match filter.get("_id") {
            Some(id) => self.by_id(id, action, "count", filter, set)?,
            None => self.scan(action, "count", limit, filter, set)?,
        };
        self.shared.count_reply(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn insert_many_shape_errors_name_the_document() {
        assert_eq!(
            flatten_doc(json!({"a": 1}), "document 2 of the batch").err(),
            Some(StoreError::Invalid(
                "document 2 of the batch has no _id".to_string()
            ))
        );
    }
}
