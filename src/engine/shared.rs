//! What the engine's threads share during a run, and how it starts a job.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rand::RngExt;

use super::EngineError;
use super::admission::{Admission, Pending};
use super::emitter::Emitter;
use super::registry::Registry;
use super::scenario::{Scenario, secs};
use super::seeds::{self, Stream};
use super::sink::EngineSink;
use crate::clock::Clock;
use crate::events::{Event, JobId};
use crate::lock::history::now_ms;
use crate::lock::{Holder, LocalQueue, Lock, LockConfig, OutputBinding, lock_key};
use crate::output::FencedOutput;
use crate::store::{Store, WrapperFaults};
use crate::worker::{self, Context, Job, Mailbox};

/// Everything the engine's threads share.
pub(super) struct Shared {
    /// What every job reports to (the emitter and the registry below).
    pub sink: Arc<EngineSink>,
    pub scenario: Scenario,
    pub clock: Clock,
    /// The store as jobs see it: wrapped for fault injection.
    pub store: Arc<dyn Store>,
    /// The store itself, for the engine's own end-of-run checks.
    pub raw_store: Arc<dyn Store>,
    /// The fault knobs of `store`.
    pub faults: Arc<WrapperFaults>,
    pub emit: Emitter,
    pub registry: Arc<Registry>,
    pub outputs: Vec<Arc<FencedOutput>>,
    pub clients: Vec<String>,
    /// Queue mode: one queue per client key, shared by that client's jobs.
    pub queues: Vec<Option<Arc<LocalQueue>>>,
    /// Jobs waiting for a thread, and the runners that take them.
    pub admission: Admission,
    /// Runner threads that panicked outside a job (joined as the run went).
    pub runner_panics: AtomicUsize,
    runners_started: AtomicUsize,
    /// Runner threads not yet joined; `None` once the run stopped taking jobs.
    handles: Mutex<Option<Vec<JoinHandle<()>>>>,
    /// Set when every job has ended: schedulers stop.
    pub done: AtomicBool,
    /// This machine's name, for the holder each job describes in its lock document.
    host: String,
}

impl Shared {
    /// The shared state of a run that has not started a job yet.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        scenario: Scenario,
        clock: Clock,
        store: Arc<dyn Store>,
        raw_store: Arc<dyn Store>,
        faults: Arc<WrapperFaults>,
        emit: Emitter,
        outputs: Vec<Arc<FencedOutput>>,
        queues: Vec<Option<Arc<LocalQueue>>>,
    ) -> Shared {
        let clients = scenario.client_names();
        let registry = Arc::new(Registry::new(clients.len()));
        let threads = match scenario.threads {
            0 => super::thread_limits::Limits::of_this_machine().default_threads(),
            n => n as usize,
        };
        let sink = Arc::new(EngineSink {
            emit: emit.clone(),
            registry: registry.clone(),
            namespace: scenario.namespace.clone(),
        });
        Shared {
            sink,
            emit,
            registry,
            scenario,
            clock,
            store,
            raw_store,
            faults,
            outputs,
            clients,
            queues,
            admission: Admission::new(threads),
            runner_panics: AtomicUsize::new(0),
            runners_started: AtomicUsize::new(0),
            handles: Mutex::new(Some(Vec::new())),
            done: AtomicBool::new(false),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }

    fn handles(&self) -> MutexGuard<'_, Option<Vec<JoinHandle<()>>>> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues one more job for client `client` and starts a runner for it if
    /// one is free to start; `None` once the run is closing.
    pub fn spawn_job(self: &Arc<Self>, client: usize) -> Result<Option<JobId>, EngineError> {
        let Some(id) = self.queue_job(client)? else {
            return Ok(None);
        };
        self.start_runners()?;
        Ok(Some(id))
    }

    /// Queues a job without starting a runner for it: the run's first jobs are
    /// all queued before the runners start, so that each runner takes many jobs
    /// instead of one runner being started (and retiring) per job.
    pub fn queue_job(&self, client: usize) -> Result<Option<JobId>, EngineError> {
        let handles = self.handles();
        if handles.is_none() {
            return Ok(None);
        }
        let id = self.registry.len() as JobId + 1;
        let mut rng = seeds::rng(self.scenario.seed, id, Stream::Job);
        let will_crash = rng.random::<f64>() < self.scenario.crash_prob;
        let hash = if self.scenario.is_worker() {
            // Workers in other processes may run with the same --seed: their owner
            // ids must still never collide, so they come from the OS.
            seeds::worker_hash(&mut seeds::rng(seeds::fresh_seed(), id, Stream::Job))
        } else {
            seeds::worker_hash(&mut rng)
        };
        let mailbox = Arc::new(Mailbox::default());
        let registered = self.registry.add(client, hash.clone(), mailbox.clone());
        debug_assert_eq!(registered, id);
        let job = Job {
            id,
            client: self.clients[client].clone(),
            client_index: client,
            hash: hash.clone(),
            will_crash,
        };
        self.emit.emit(Event::Queued {
            job: id,
            client: job.client.clone(),
            hash,
            will_crash,
        });
        let pending = Pending {
            job,
            mailbox,
            queued_at: self.clock.now(),
        };
        self.admission.queue(pending);
        Ok(Some(id))
    }

    /// Starts the runners the waiting jobs need (up to the limit). A runner the
    /// machine refuses is an error only if no runner is left to take the jobs.
    pub fn start_runners(self: &Arc<Self>) -> Result<(), EngineError> {
        let mut handles = self.handles();
        let Some(list) = handles.as_mut() else {
            return Ok(());
        };
        // Retired runners are joined as the run goes, not only at its end: a thread
        // that ended keeps its stack mapped until joined, and a long run starts
        // many runners.
        if list.len() >= 2 * self.admission.limit() {
            let (done, running): (Vec<_>, Vec<_>) =
                list.drain(..).partition(JoinHandle::is_finished);
            *list = running;
            for h in done {
                if h.join().is_err() {
                    self.runner_panics.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        for _ in 0..self.admission.claim_runners() {
            let shared = self.clone();
            let name = format!(
                "runner-{}",
                self.runners_started.fetch_add(1, Ordering::Relaxed) + 1
            );
            match self.clock.spawn(name, move || shared.serve_admitted()) {
                Ok(handle) => list.push(handle),
                // The runners already started take the jobs in turn.
                Err(_) if self.admission.runner_failed() => {}
                Err(e) => return Err(EngineError::Spawn(e)),
            }
        }
        Ok(())
    }

    /// A runner's life: run admitted jobs until the line is empty.
    fn serve_admitted(&self) {
        while let Some(p) = self.admission.next() {
            let waited = self.clock.now().saturating_sub(p.queued_at);
            let mut config = self.scenario.lock_config();
            config.give_up = config.give_up.saturating_sub(waited);
            let cx = self.context(p.job.client_index, p.job.id, p.mailbox, config);
            // One job's panic must not take the jobs queued behind it down with it.
            if catch_unwind(AssertUnwindSafe(|| worker::run(&p.job, &cx))).is_err() {
                self.admission.job_panicked();
            }
        }
    }

    pub(super) fn context(
        &self,
        client: usize,
        id: JobId,
        mailbox: Arc<Mailbox>,
        config: LockConfig,
    ) -> Context {
        let stream = if id == 0 {
            Stream::Recovery
        } else {
            Stream::Store
        };
        let store = self
            .store
            .for_caller(seeds::derive(self.scenario.seed, id, stream));
        let key = lock_key("worker", &self.clients[client]);
        let text = if id == 0 {
            Vec::new()
        } else {
            self.scenario.text.clone().into_bytes()
        };
        let binding = binding_of(&self.outputs[client]);
        Context {
            clock: self.clock.clone(),
            lock: Lock::new(store, self.clock.clone(), key, config)
                .with_output(Some(binding))
                .with_broken(
                    // The recovery stays sound: it stands for the next, correct, run.
                    if id == 0 { None } else { self.scenario.broken },
                )
                .with_queue(self.queues[client].clone())
                .with_holder(Some(self.holder(id))),
            output: self.outputs[client].clone(),
            sink: self.sink.clone(),
            mailbox,
            text,
            chunk: self.scenario.chunk,
            chunk_pause: secs(self.scenario.chunk_pause),
            announce: self.scenario.is_worker() && id != 0,
        }
    }

    /// Who job `id` is, for people (`watch`, `locks`): written with each
    /// acquisition, so it costs no store operation of its own.
    fn holder(&self, id: JobId) -> Holder {
        Holder {
            owner: String::new(), // the lock fills in the owner of each acquisition
            host: self.host.clone(),
            pid: std::process::id(),
            command: vec![],
            // The end-of-run recovery is job 0, as in the events.
            job: Some(u64::from(id)),
            started_at_ms: now_ms(),
        }
    }

    /// Takes one unjoined runner thread, or closes the run to new jobs when none is left.
    pub(super) fn next_handle(&self) -> Option<JoinHandle<()>> {
        let mut handles = self.handles();
        let list = handles.as_mut()?;
        match list.pop() {
            Some(h) => Some(h),
            None => {
                *handles = None;
                None
            }
        }
    }
}

/// The binding a lock document records for `output`: its id and its path.
pub(super) fn binding_of(output: &FencedOutput) -> OutputBinding {
    OutputBinding {
        id: output.id().to_string(),
        path: crate::output::recorded_path(output.path()),
    }
}
