//! Writes outside the acquire protocol, each one insert or one compare-and-set, for
//! the commands that set a lock document up: a standalone run binding a free lock
//! to its new, empty output, and `joblock reseed` writing back what a store forgot.
//! Fences only ever go up here too.

use serde_json::json;

use super::{LockDoc, OutputBinding};
use crate::store::{Store, StoreError};

/// Binds the free document `doc` to a new, empty output: committed 0 and the
/// output's binding, in one compare-and-set on exactly `doc` (the heartbeat moves,
/// so a watcher sees the change). False if the document changed meanwhile.
pub fn rebind(
    store: &dyn Store,
    doc: &LockDoc,
    binding: &OutputBinding,
) -> Result<bool, StoreError> {
    let mut set = json!({ "committed": 0, "heartbeat": doc.heartbeat + 1 });
    binding.write_into(&mut set);
    Ok(store.update_one(&doc.cas_filter(), &set)?.is_some())
}

/// Inserts a free lock document for `key` at `fence` and `committed`, of the given
/// incarnation and bound to `binding`. False if a document appeared meanwhile.
pub fn restore(
    store: &dyn Store,
    key: &str,
    fence: u64,
    committed: u64,
    incarnation: &str,
    binding: &OutputBinding,
) -> Result<bool, StoreError> {
    let doc = LockDoc {
        fence,
        committed,
        incarnation: Some(incarnation.to_string()),
        output: Some(binding.clone()),
        ..LockDoc::free(key)
    }
    .to_value();
    match store.insert_one(doc) {
        Ok(()) => Ok(true),
        Err(StoreError::DuplicateKey(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Frees `doc` and sets its fence, committed length, incarnation and binding, in one
/// compare-and-set on exactly `doc`. The caller chooses values no lower than the
/// document's. False if the document changed meanwhile.
pub fn raise_free(
    store: &dyn Store,
    doc: &LockDoc,
    fence: u64,
    committed: u64,
    incarnation: &str,
    binding: &OutputBinding,
) -> Result<bool, StoreError> {
    let mut set = json!({
        "owner": null,
        "fence": fence.max(doc.fence),
        "heartbeat": doc.heartbeat + 1,
        "committed": committed,
        "incarnation": incarnation,
    });
    binding.write_into(&mut set);
    Ok(store.update_one(&doc.cas_filter(), &set)?.is_some())
}
