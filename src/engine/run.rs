//! The run's life: spawn the jobs, serve commands, wait for every job, recover a lock
//! a dead holder left behind, check the invariants and the outputs, report.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};

use super::EngineError;
use super::dispatch;
use super::emitter::Emitter;
use super::floor::LeaseTiming;
use super::scenario::{Scenario, WaitMode, secs};
use super::seeds::{self, Stream};
use super::shared::Shared;
use super::verdicts::{check_committed, check_output};
use crate::clock::Clock;
use crate::events::{Command, Event, Stamped, Summary};
use crate::lock::{LocalQueue, LockConfig, lock_key, read_doc};
use crate::output::FencedOutput;
use crate::store::{FaultyStore, Store};
use crate::worker::{self, End, Job, Mailbox};

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
    let emit = Emitter::new(clock.clone(), event_tx);
    let shared = Arc::new(Shared::new(
        scenario,
        clock,
        Arc::new(faulty),
        store,
        faults,
        emit,
        outputs,
        queues,
    ));
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
    let timing = LeaseTiming::of_scenario(sc);
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
        latency: timing.latency,
        floor: timing.floor,
        client_names: shared.clients.clone(),
        outputs: sc
            .outputs()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    });
    let mut violations = Vec::new();
    for i in 1..=sc.jobs {
        if let Err(e) = shared.queue_job(sc.client_of(i)) {
            violations.push(format!("could not queue job {i}: {e}"));
            break;
        }
    }
    if let Err(e) = shared.start_runners() {
        violations.push(format!("could not start a job thread: {e}"));
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
            violations.push("a job runner thread panicked".into());
        }
    }
    for _ in 0..shared.runner_panics.load(Ordering::SeqCst) {
        violations.push("a job runner thread panicked".into());
    }
    for _ in 0..shared.admission.panicked() {
        violations.push("a job thread panicked".into());
    }
    if shared.admission.waiting() > 0 {
        violations.push(format!(
            "{} job(s) never got a thread: the machine refused to start one",
            shared.admission.waiting()
        ));
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
        let doc = read_doc(shared.raw_store.as_ref(), &key).ok().flatten();
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
        let registry = shared.registry.clone();
        let end = shared.clock.spawn(format!("recovery-{client}"), move || {
            let mut end = End::GaveUp;
            for _ in 0..RECOVERY_TRIES {
                end = worker::run(&job, &cx);
                if end == End::Finished || registry.halted().is_some() {
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
        if let Ok(Some(doc)) = read_doc(shared.raw_store.as_ref(), &key)
            && doc.owner.is_some()
        {
            violations.push(format!("{client}: lock still held after every job ended"));
        }
    }
    let (broken, mut tally) = shared.emit.conclude();
    violations.extend(broken);
    let mut summary = tally.summary();
    summary.store_ops = shared.store.op_counts();
    summary.faults = tally.faults();
    for (kind, n) in shared.faults.injected_by_kind() {
        if n > 0 {
            summary.faults.insert(format!("store {}", kind.name()), n);
        }
    }
    summary.outputs = shared
        .clients
        .iter()
        .zip(&shared.outputs)
        .filter(|_| standalone)
        .map(|(client, out)| {
            let expected = tally.finished_of(client);
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
    // Fenced jobs on a lease under the floor are the machine's doing: say so. The
    // fastest speed of the run is the worst the lease was.
    let worst = LeaseTiming::of_scenario(&shared.scenario)
        .at_speed(tally.fastest_speed().unwrap_or(shared.scenario.speed))
        .below_floor();
    tally.blame_floor(worst.map(|b| b.cause(summary.fenced)));
    summary.trouble = tally.trouble(&summary, halted);
    shared.emit.emit(Event::RunFinished {
        summary: Box::new(summary.clone()),
    });
    summary
}
