//! The engine: turns a [`Scenario`] into threads, one per job, and reports
//! everything on one event stream; takes [`Command`]s back on a second channel.
//!
//! The engine knows nothing of terminals: front ends consume [`RunHandle::events`].

pub mod admission;
mod dispatch;
pub mod emitter;
pub mod floor;
pub mod invariants;
pub mod registry;
mod run;
pub mod scenario;
pub mod seeds;
mod setup;
mod shared;
mod sink;
pub mod thread_limits;
pub mod verdicts;

pub use emitter::Emitter;
pub use registry::Registry;
pub use scenario::{ClockKind, Mode, Scenario, ScenarioError, WaitMode};

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use thiserror::Error;

use crate::clock::Clock;
use crate::events::{Command, Stamped, Summary};
use crate::output::OutputError;
use crate::store::{
    Limits, MemoryConfig, MemoryStore, Store, StoreError, StoreUrl, open_store_within,
};

/// How many events a virtual run lets its front end fall behind by.
pub const VIRTUAL_BACKLOG: usize = 16_384;

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
    /// The event stream; it ends with `RunFinished`. On a virtual clock it holds
    /// at most [`VIRTUAL_BACKLOG`] events: drain it before [`RunHandle::join`].
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
            let (u, ns, c) = (url.clone(), scenario.namespace.clone(), clock.clone());
            // Every job's call ends within a third of its lease in real time, so a
            // holder whose renewal hangs still fences itself in time.
            let limits = Limits::default().holding(&clock, scenario::secs(scenario.lease));
            // A server that accepts and never answers must not hang the start.
            crate::store::bounded::open_in_time(
                url.kind(),
                crate::store::bounded::DEFAULT_LIMIT,
                move || open_store_within(&u, &ns, &c, MemoryConfig::default(), seed, &limits),
            )?
        }
    };
    start_with(scenario, clock, store)
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
        setup::check_keys(&scenario, store.as_ref())?
    };
    let outputs = setup::open_outputs(&scenario)?;
    setup::bind_keys(&scenario, store.as_ref(), &docs, &outputs)?;
    let (event_tx, event_rx) = if clock.is_virtual() {
        // A virtual run outpaces any printer: unbounded, 100,000 jobs kept most of
        // their million events queued (100 MB). A full stream makes the emitting job
        // wait, which on a virtual clock changes nothing (a job that waits counts as
        // running, so time stands still). A real clock keeps the stream unbounded: a
        // holder waiting on a slow front end would lose its lease.
        crossbeam_channel::bounded(VIRTUAL_BACKLOG)
    } else {
        crossbeam_channel::unbounded()
    };
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
