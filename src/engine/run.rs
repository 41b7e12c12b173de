//! The run's life: spawn the jobs, serve commands, wait for every job, recover a lock
//! a dead holder left behind, check the invariants and the outputs, report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};
use rand::RngExt;
use serde_json::json;

use super::EngineError;
use super::commands::{Command, Mailbox};
use super::dispatch;
use super::events::{Emitter, Event, JobId, Stamped};
use super::invariants;
use super::registry::Registry;
use super::scenario::{Scenario, WaitMode, secs};
use super::seeds::{self, Stream};
use super::summary::{Summary, check_committed, check_output};
use crate::clock::Clock;
use crate::lock::{LocalQueue, Lock, LockConfig, LockDoc, OutputBinding, lock_key};
use crate::output::FencedOutput;
use crate::store::{FaultyStore, Store, WrapperFaults};
use crate::worker::{self, Context, End, Job};

/// Everything the engine's threads share.
pub(super) struct Shared {
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
    /// Job threads not yet joined; `None` once the run stopped taking jobs.
    handles: Mutex<Option<Vec<JoinHandle<End>>>>,
    /// Set when every job has ended: schedulers stop.
    pub done: AtomicBool,
}

impl Shared {
    fn handles(&self) -> MutexGuard<'_, Option<Vec<JoinHandle<End>>>> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts one more job for client `client`; `None` once the run is closing.
    pub fn spawn_job(&self, client: usize) -> Result<Option<JobId>, EngineError> {
        let mut handles = self.handles();
        let Some(list) = handles.as_mut() else {
            return Ok(None);
        };
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
        let cx = self.context(client, id, mailbox, self.scenario.lock_config());
        let handle = self
            .clock
            .spawn(format!("job-{id}"), move || worker::run(&job, &cx))
            .map_err(EngineError::Spawn)?;
        list.push(handle);
        Ok(Some(id))
    }

    fn context(
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
                .with_queue(self.queues[client].clone()),
            output: self.outputs[client].clone(),
            emit: self.emit.clone(),
            mailbox,
            registry: self.registry.clone(),
            text,
            chunk: self.scenario.chunk,
            chunk_pause: secs(self.scenario.chunk_pause),
            announce: self.scenario.is_worker() && id != 0,
        }
    }

    /// Takes one unjoined job thread, or closes the run to new jobs when none is left.
    fn next_handle(&self) -> Option<JoinHandle<End>> {
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

/// Starts the coordinator thread.
pub(super) fn launch(
    scenario: Scenario,
    clock: Clock,
    store: Arc<dyn Store>,
    outputs: Vec<Arc<FencedOutput>>,
    event_tx: Sender<Stamped>,
    command_rx: Receiver<Command>,
) -> Result<JoinHandle<Summary>, EngineError> {
    let clients = scenario.client_names();
    // Every job's store handle goes through the fault wrapper, so store faults can
    // be injected at runtime on any backend; the engine's own end-of-run checks read
    // the store directly.
    let faulty = FaultyStore::new(
        store.clone(),
        seeds::derive(scenario.seed, 0, Stream::Faults),
    )
    .with_clock(clock.clone());
    let faults = faulty.faults_arc();
    let queues = (0..clients.len())
        .map(|_| (scenario.wait == WaitMode::Queue).then(LocalQueue::new))
        .collect();
    let shared = Arc::new(Shared {
        emit: Emitter::new(clock.clone(), event_tx),
        registry: Arc::new(Registry::new(clients.len())),
        scenario,
        clock,
        store: Arc::new(faulty),
        raw_store: store,
        faults,
        outputs,
        clients,
        queues,
        handles: Mutex::new(Some(Vec::new())),
        done: AtomicBool::new(false),
    });
    // Counted as running until every job exists, so virtual time cannot start early.
    let hold = shared.clock.enlist();
    thread::Builder::new()
        .name("engine".into())
        .spawn(move || coordinate(shared, command_rx, hold))
        .map_err(EngineError::Spawn)
}

fn coordinate(
    shared: Arc<Shared>,
    command_rx: Receiver<Command>,
    hold: crate::clock::Enlisted,
) -> Summary {
    let sc = &shared.scenario;
    shared.emit.emit(Event::RunStarted {
        jobs: sc.jobs,
        clients: sc.clients,
        store: shared.store.name().to_string(),
        speed: sc.speed,
        seed: sc.seed,
        clock: if shared.clock.is_virtual() {
            "virtual".into()
        } else {
            "real".into()
        },
        lease: sc.lease,
        // What actually runs: the locks ignore their queues on a virtual clock.
        wait: if sc.wait == WaitMode::Queue && !shared.clock.is_virtual() {
            "queue".into()
        } else {
            "race".into()
        },
        client_names: shared.clients.clone(),
        outputs: sc
            .outputs()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    });
    let mut violations = Vec::new();
    for i in 1..=sc.jobs {
        if let Err(e) = shared.spawn_job(sc.client_of(i)) {
            violations.push(format!("could not start job {i}: {e}"));
            break;
        }
    }
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let server = {
        let shared = shared.clone();
        thread::Builder::new()
            .name("commands".into())
            .spawn(move || dispatch::serve(&shared, &command_rx, &stop_rx))
    };
    let scheduler = dispatch::start_schedule(&shared);
    drop(hold);

    while let Some(h) = shared.next_handle() {
        if h.join().is_err() {
            violations.push("a job thread panicked".into());
        }
    }
    shared.done.store(true, Ordering::SeqCst);
    shared.clock.poke();
    // The fault schedule ends with the jobs: the recovery and the checks below run
    // against a healthy store, as the next scheduled run would.
    shared.faults.clear();
    if let Some(Ok(h)) = scheduler {
        let _ = h.join();
    }
    if !shared.scenario.is_worker() {
        recover(&shared, &mut violations);
    }
    drop(stop_tx);
    if let Ok(h) = server {
        let _ = h.join();
    }
    finish(&shared, violations)
}

/// How many times the end-of-run recovery tries to take a dead holder's lock over.
const RECOVERY_TRIES: usize = 5;

/// After every job ended, a lock still held can only belong to a dead (killed)
/// holder, and an output longer than its lock's committed length has a torn tail
/// that nobody came to repair (its last holder took over from a dead one and then
/// failed before fencing in, say). Like the next scheduled run would, take the lock
/// (over, once its lease expires), repair the torn tail and release, so the output
/// ends strictly valid. A halted run is left as it stands: its store cannot be trusted.
fn recover(shared: &Arc<Shared>, violations: &mut Vec<String>) {
    for (index, client) in shared.clients.iter().enumerate() {
        if shared.registry.halted().is_some() {
            return;
        }
        let key = lock_key("worker", client);
        let doc = match shared.raw_store.find_one(&json!({ "_id": key })) {
            Ok(Some(v)) => LockDoc::from_value(&v).ok(),
            _ => None,
        };
        let output = &shared.outputs[index];
        let needed = match doc {
            Some(d) => d.owner.is_some() || output.len() > d.committed,
            // The store forgot a lock the output knows: the next run would find out,
            // so the recovery does (and halts the run).
            None => output.record().is_ok_and(|r| r.lock.is_some()),
        };
        if !needed {
            continue;
        }
        let lease = secs(shared.scenario.lease);
        let config = LockConfig {
            give_up: lease * 4 + secs(shared.scenario.retry) * 4,
            ..shared.scenario.lock_config()
        };
        let cx = shared.context(index, 0, Arc::new(Mailbox::default()), config);
        let mut rng = seeds::rng(shared.scenario.seed, 0, Stream::Recovery);
        let job = Job {
            id: 0,
            client: client.clone(),
            client_index: index,
            hash: format!("recovery-{}", seeds::worker_hash(&mut rng)),
            will_crash: false,
        };
        // On a loaded machine with a tiny real-time lease even the recovery can lose
        // its own lease; it simply tries again.
        let end = shared.clock.spawn(format!("recovery-{client}"), move || {
            let mut end = End::GaveUp;
            for _ in 0..RECOVERY_TRIES {
                end = worker::run(&job, &cx);
                if end == End::Finished || cx.registry.halted().is_some() {
                    break;
                }
            }
            end
        });
        let end = end.map(|h| h.join());
        if !matches!(end, Ok(Ok(End::Finished))) && shared.registry.halted().is_none() {
            violations.push(format!(
                "{client}: the lock left by a dead holder could not be recovered"
            ));
        }
    }
}

fn finish(shared: &Arc<Shared>, mut violations: Vec<String>) -> Summary {
    // A worker's store and output are shared: other workers may hold the lock or be
    // mid-write right now, so only its own events are checked.
    let standalone = !shared.scenario.is_worker();
    let halted = shared.registry.halted();
    // A halted run is left as it stands (no recovery): a lock may still be held.
    for client in shared
        .clients
        .iter()
        .filter(|_| standalone && halted.is_none())
    {
        let key = lock_key("worker", client);
        if let Ok(Some(doc)) = shared.raw_store.find_one(&json!({ "_id": key }))
            && !doc.get("owner").is_none_or(|o| o.is_null())
        {
            violations.push(format!("{client}: lock still held after every job ended"));
        }
    }
    let events = shared.emit.log();
    violations.extend(invariants::check(&events));
    let mut summary = Summary::tally(&events);
    summary.store_ops = shared.store.op_counts();
    summary.faults = Summary::job_faults(&events);
    for (kind, n) in shared.faults.injected_by_kind() {
        if n > 0 {
            summary.faults.insert(format!("store {}", kind.name()), n);
        }
    }
    let finished = Summary::finished_per_client(&events);
    summary.outputs = shared
        .clients
        .iter()
        .zip(&shared.outputs)
        .filter(|_| standalone)
        .map(|(client, out)| {
            let expected = finished.get(client).copied().unwrap_or(0);
            match (&halted, out.record()) {
                (Some(_), Ok(r)) => check_committed(client, out.path(), r.watermark, expected),
                _ => check_output(client, out.path(), expected),
            }
        })
        .collect();
    for what in &violations {
        shared
            .emit
            .emit(Event::InvariantBroken { what: what.clone() });
    }
    summary.violations = violations;
    summary.trouble = summary.trouble_of(&events, halted);
    shared.emit.emit(Event::RunFinished {
        summary: Box::new(summary.clone()),
    });
    summary
}

/// The binding a lock document records for `output`: its id and its path.
pub(super) fn binding_of(output: &FencedOutput) -> OutputBinding {
    OutputBinding {
        id: output.id().to_string(),
        path: crate::output::recorded_path(output.path()),
    }
}
