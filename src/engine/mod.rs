//! The engine: turns a [`Scenario`] into threads, one per job, and reports
//! everything on one event stream; takes [`Command`]s back on a second channel.
//!
//! The engine knows nothing of terminals: front ends consume [`RunHandle::events`].

mod dispatch;
pub mod emitter;
pub mod invariants;
pub mod registry;
mod run;
pub mod scenario;
pub mod seeds;
mod shared;
mod sink;
pub mod verdicts;

pub use emitter::Emitter;
pub use registry::Registry;
pub use scenario::{ClockKind, Mode, Scenario, ScenarioError, WaitMode};

use std::fs::OpenOptions;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use thiserror::Error;

use crate::clock::Clock;
use crate::events::{Command, Stamped, Summary};
use crate::lock::{LockDoc, lock_key};
use crate::output::{FencedOutput, OutputError};
use crate::store::{MemoryConfig, MemoryStore, Store, StoreError, StoreUrl, open_store};
use serde_json::json;

/// Why a run could not start (or ended abnormally).
#[derive(Debug, Error)]
pub enum EngineError {
    /// A parameter cannot work.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// An output file cannot be created.
    #[error("cannot write output {path}: {error}")]
    Output {
        /// The path.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The output layer failed.
    #[error(transparent)]
    Fenced(#[from] OutputError),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Spawn(io::Error),
    /// The engine's own thread panicked.
    #[error("the engine thread panicked")]
    Panicked,
    /// The store could not be opened or used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another run holds the namespace's locks.
    #[error("{0}")]
    Busy(String),
}

/// A running (or finished) run.
pub struct RunHandle {
    events: Receiver<Stamped>,
    commands: Sender<Command>,
    clock: Clock,
    coordinator: JoinHandle<Summary>,
}

impl RunHandle {
    /// The event stream; it ends with `RunFinished`.
    pub fn events(&self) -> &Receiver<Stamped> {
        &self.events
    }

    /// A sender for commands into the engine.
    pub fn commands(&self) -> Sender<Command> {
        self.commands.clone()
    }

    /// The run's clock (for front ends that show scenario time).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Waits for the run to end and returns its summary.
    pub fn join(self) -> Result<Summary, EngineError> {
        self.coordinator.join().map_err(|_| EngineError::Panicked)
    }
}

/// The clock a scenario asks for.
pub fn clock_for(scenario: &Scenario) -> Clock {
    match scenario.clock {
        ClockKind::Real => Clock::real(scenario.speed),
        ClockKind::Virtual => Clock::virtual_time(),
    }
}

/// The embedded memory store with the scenario's latency model.
pub fn memory_store_for(scenario: &Scenario, clock: &Clock) -> Arc<dyn Store> {
    let config = MemoryConfig {
        insert_latency: scenario::secs(scenario.db_latency),
        op_latency: scenario::secs(scenario.op_latency),
    };
    let seed = seeds::derive(scenario.seed, 0, seeds::Stream::Engine);
    Arc::new(MemoryStore::new(clock.clone(), config, seed))
}

/// Starts a run on the store its scenario names.
pub fn start(scenario: Scenario) -> Result<RunHandle, EngineError> {
    scenario.validate()?;
    let clock = clock_for(&scenario);
    let store = match scenario.store {
        StoreUrl::Memory => memory_store_for(&scenario, &clock),
        ref url => {
            let seed = seeds::derive(scenario.seed, 0, seeds::Stream::Engine);
            open_store(
                url,
                &scenario.namespace,
                &clock,
                MemoryConfig::default(),
                seed,
            )?
        }
    };
    start_with(scenario, clock, store)
}

/// A standalone run truncates its outputs and starts them anew, so before anything
/// is truncated, every lock document it will use (from an earlier run in the same
/// namespace) must be free and bound to the same output path, or to none. A lock
/// held by somebody else, or committing to another file, means another run or fleet
/// uses this namespace: refuse to start.
fn check_keys(scenario: &Scenario, store: &dyn Store) -> Result<Vec<Option<LockDoc>>, EngineError> {
    let mut docs = Vec::new();
    for (client, path) in scenario.client_names().iter().zip(scenario.outputs()) {
        let key = lock_key("worker", client);
        let Some(doc) = store.find_one(&json!({ "_id": key }))? else {
            docs.push(None);
            continue;
        };
        let doc = LockDoc::from_value(&doc).map_err(|e| EngineError::Busy(e.to_string()))?;
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
fn bind_keys(
    scenario: &Scenario,
    store: &dyn Store,
    docs: &[Option<LockDoc>],
    outputs: &[Arc<FencedOutput>],
) -> Result<(), EngineError> {
    for (doc, output) in docs.iter().zip(outputs) {
        let Some(doc) = doc else { continue };
        let mut set = json!({ "committed": 0, "heartbeat": doc.heartbeat + 1 });
        shared::binding_of(output).write_into(&mut set);
        if store.update_one(&doc.cas_filter(), &set)?.is_none() {
            return Err(EngineError::Busy(format!(
                "{} in namespace {:?} changed while starting: another run is using it",
                doc.key, scenario.namespace
            )));
        }
    }
    Ok(())
}

/// Starts a run on a given clock and store.
pub fn start_with(
    scenario: Scenario,
    clock: Clock,
    store: Arc<dyn Store>,
) -> Result<RunHandle, EngineError> {
    scenario.validate()?;
    let docs = if scenario.is_worker() {
        Vec::new()
    } else {
        check_keys(&scenario, store.as_ref())?
    };
    let outputs = open_outputs(&scenario)?;
    bind_keys(&scenario, store.as_ref(), &docs, &outputs)?;
    let (event_tx, event_rx) = crossbeam_channel::unbounded();
    let (command_tx, command_rx) = crossbeam_channel::unbounded();
    let coordinator = run::launch(
        scenario,
        clock.clone(),
        store,
        outputs,
        event_tx,
        command_rx,
    )?;
    Ok(RunHandle {
        events: event_rx,
        commands: command_tx,
        clock,
        coordinator,
    })
}

/// Creates every output file, or none: each path is checked before any is truncated.
fn open_outputs(scenario: &Scenario) -> Result<Vec<Arc<FencedOutput>>, EngineError> {
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
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
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
