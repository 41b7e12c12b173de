//! Before a run starts: the lock documents it will use are checked (free, and bound
//! to the same outputs) before anything is truncated, the outputs are created all
//! or none, and the checked documents are bound to the new, empty outputs.

use std::fs::OpenOptions;
use std::sync::Arc;

use super::EngineError;
use super::scenario::Scenario;
use super::shared::binding_of;
use crate::lock::{LockDoc, LockError, lock_key, read_doc, rebind};
use crate::output::{FencedOutput, OutputError};
use crate::store::Store;

/// A standalone run truncates its outputs and starts them anew, so before anything
/// is truncated, every lock document it will use (from an earlier run in the same
/// namespace) must be free and bound to the same output path, or to none. A lock
/// held by somebody else, or committing to another file, means another run or fleet
/// uses this namespace: refuse to start.
pub(super) fn check_keys(
    scenario: &Scenario,
    store: &dyn Store,
) -> Result<Vec<Option<LockDoc>>, EngineError> {
    let mut docs = Vec::new();
    for (client, path) in scenario.client_names().iter().zip(scenario.outputs()) {
        let key = lock_key("worker", client);
        let doc = match read_doc(store, &key) {
            Ok(Some(doc)) => doc,
            Ok(None) => {
                docs.push(None);
                continue;
            }
            Err(LockError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(EngineError::Busy(e.to_string())),
        };
        if let Some(owner) = &doc.owner {
            return Err(EngineError::Busy(format!(
                "{key} in namespace {:?} is held by {owner}: another run is using it; pick another --namespace",
                scenario.namespace
            )));
        }
        let ours = crate::output::recorded_path(&path);
        if let Some(bound) = &doc.output
            && bound.path != ours
        {
            return Err(EngineError::Busy(format!(
                "{key} in namespace {:?} commits to the output {}, not {ours}: another run or fleet uses this key; pick another --namespace (nothing was truncated)",
                scenario.namespace, bound.path
            )));
        }
        docs.push(Some(doc));
    }
    Ok(docs)
}

/// Binds each checked lock document to its new, empty output: committed 0 and the
/// output's id, in one compare-and-set on a free lock (the fence keeps growing).
pub(super) fn bind_keys(
    scenario: &Scenario,
    store: &dyn Store,
    docs: &[Option<LockDoc>],
    outputs: &[Arc<FencedOutput>],
) -> Result<(), EngineError> {
    for (doc, output) in docs.iter().zip(outputs) {
        let Some(doc) = doc else { continue };
        if !rebind(store, doc, &binding_of(output))? {
            return Err(EngineError::Busy(format!(
                "{} in namespace {:?} changed while starting: another run is using it",
                doc.key, scenario.namespace
            )));
        }
    }
    Ok(())
}

/// Creates every output file, or none: each path is checked before any is truncated.
pub(super) fn open_outputs(scenario: &Scenario) -> Result<Vec<Arc<FencedOutput>>, EngineError> {
    let paths = scenario.outputs();
    if scenario.is_worker() {
        // Workers share the output: never truncate it, keep its fence.
        return paths
            .iter()
            .map(|p| {
                FencedOutput::open_shared(p)
                    .map(Arc::new)
                    .map_err(EngineError::from)
            })
            .collect();
    }
    let mut created = Vec::new();
    for path in &paths {
        // A FIFO would block the open below and a device takes no records.
        if crate::paths::check_output(path).is_err() {
            return Err(EngineError::Fenced(OutputError::NotRegular {
                path: path.clone(),
            }));
        }
        let existed = path.exists();
        let probe = OpenOptions::new().create(true).append(true).open(path);
        match probe {
            Ok(_) => {
                if !existed {
                    created.push(path.clone());
                }
            }
            Err(source) => {
                for p in &created {
                    let _ = std::fs::remove_file(p);
                }
                return Err(EngineError::Output {
                    path: path.clone(),
                    error: source,
                });
            }
        }
    }
    paths
        .iter()
        .map(|p| {
            FencedOutput::create(p)
                .map(Arc::new)
                .map_err(EngineError::from)
        })
        .collect()
}
