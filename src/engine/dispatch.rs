//! Applying commands: from the command channel (keys, tests) and from the
//! scenario's schedule (fault moments in scenario time).

use crate::events::schedule::{MAX_SPEED, MIN_SPEED};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, select};

use std::time::Duration;

use super::scenario::secs;
use super::shared::Shared;
use crate::clock::Wake;
use crate::events::{Command, Event, JobId, Order, StoreFault, Target};

/// Serves the command channel until `stop` disconnects.
pub(super) fn serve(shared: &Arc<Shared>, commands: &Receiver<Command>, stop: &Receiver<()>) {
    let mut commands_open = true;
    loop {
        let never = crossbeam_channel::never();
        let source = if commands_open { commands } else { &never };
        select! {
            recv(source) -> cmd => match cmd {
                Ok(cmd) => apply(shared, cmd),
                // The front end dropped its sender; keep waiting for the run to end.
                Err(_) => commands_open = false,
            },
            recv(stop) -> _ => return,
        }
    }
}

/// Starts the thread that applies scheduled commands at their scenario times.
pub(super) fn start_schedule(shared: &Arc<Shared>) -> Option<std::io::Result<JoinHandle<()>>> {
    if shared.scenario.schedule.is_empty() {
        return None;
    }
    let mut schedule = shared.scenario.schedule.clone();
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
    let s = shared.clone();
    Some(shared.clock.spawn("schedule".into(), move || {
        let done = || s.done.load(Ordering::SeqCst);
        for (at, cmd) in schedule {
            if s.clock.sleep_until_or(secs(at), &done) == Wake::Interrupted {
                return;
            }
            apply(&s, cmd);
        }
    }))
}

/// Applies one command, reporting what it did.
pub(super) fn apply(shared: &Arc<Shared>, cmd: Command) {
    let text = cmd.to_string();
    let outcome: Result<Option<JobId>, String> = match &cmd {
        Command::Pause => {
            shared.clock.pause();
            shared.emit.emit(Event::Paused);
            return;
        }
        Command::Resume => {
            shared.clock.resume();
            shared.emit.emit(Event::Resumed);
            return;
        }
        Command::SetSpeed(speed) => {
            if (MIN_SPEED..=MAX_SPEED).contains(speed) {
                shared.clock.set_speed(*speed);
                shared.emit.emit(Event::SpeedChanged { speed: *speed });
                return;
            }
            Err(format!(
                "speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}"
            ))
        }
        Command::Crash(t) => post(shared, t, Order::Crash),
        Command::Kill(t) => post(shared, t, Order::Kill),
        Command::Stall(t, s) => {
            if s.is_finite() && *s > 0.0 {
                post(shared, t, Order::Stall(secs(*s)))
            } else {
                Err(format!("stall must last a number of seconds > 0, got {s}"))
            }
        }
        Command::AddJob(client) => add_job(shared, client.as_deref()),
        Command::Fault(fault) => inject(shared, fault),
        Command::Stop => {
            for mb in shared.registry.live_mailboxes() {
                mb.post(Order::Stop);
            }
            shared.clock.poke();
            Ok(None)
        }
    };
    match outcome {
        Ok(job) => shared
            .emit
            .emit(Event::CommandApplied { command: text, job }),
        Err(reason) => shared.emit.emit(Event::CommandIgnored {
            command: text,
            reason,
        }),
    }
}

/// Sets a store fault on the wrapper every job's store handle goes through.
fn inject(shared: &Arc<Shared>, fault: &StoreFault) -> Result<Option<JobId>, String> {
    let f = &shared.faults;
    let now = shared.clock.now();
    let dur = |s: f64| -> Result<Duration, String> {
        if s.is_finite() && s >= 0.0 {
            Ok(secs(s))
        } else {
            Err(format!(
                "a duration must be a number of seconds >= 0, got {s}"
            ))
        }
    };
    let p = |x: f64| -> Result<f64, String> {
        if (0.0..=1.0).contains(&x) {
            Ok(x)
        } else {
            Err(format!("a probability must be between 0 and 1, got {x}"))
        }
    };
    match fault {
        StoreFault::Latency(s) => f.set_latency(dur(*s)?),
        StoreFault::Spike { max, secs: s } => f.spike(dur(*max)?, now + dur(*s)?),
        StoreFault::Jitter(x) => f.set_jitter(p(*x)?),
        StoreFault::FailNext(n) => f.fail_next(*n),
        StoreFault::FailProbability(x) => f.set_fail_probability(p(*x)?),
        StoreFault::LoseNext(n) => f.lose_next_replies(*n),
        StoreFault::LoseProbability(x) => f.set_lose_probability(p(*x)?),
        StoreFault::Outage(s) => f.outage_until(Some(now + dur(*s)?)),
        StoreFault::Clear => f.clear(),
        StoreFault::Reset => {
            // Straight to the store: a reset is what the store does, not a fault of
            // the path to it.
            shared
                .raw_store
                .delete_many(&serde_json::json!({}))
                .map_err(|e| format!("the store could not be reset: {e}"))?;
        }
    }
    shared.emit.emit(Event::FaultInjected {
        what: fault.to_string(),
    });
    Ok(None)
}

fn client_index(shared: &Shared, name: &str) -> Result<usize, String> {
    shared
        .clients
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| format!("no client named {name:?}"))
}

fn post(shared: &Arc<Shared>, target: &Target, order: Order) -> Result<Option<JobId>, String> {
    let job = match target {
        Target::Holder(None) => shared
            .registry
            .any_holder()
            .ok_or_else(|| "no job holds a lock".to_string())?,
        Target::Holder(Some(name)) => {
            let i = client_index(shared, name)?;
            shared
                .registry
                .holder(i)
                .ok_or_else(|| format!("no job holds {name}'s lock"))?
        }
        Target::Job(j) => *j,
    };
    if matches!(order, Order::Stall(_)) && !is_holder(shared, job) {
        return Err(format!("job {job} does not hold a lock"));
    }
    let mailbox = shared
        .registry
        .mailbox_if_alive(job)
        .ok_or_else(|| format!("job {job} is not running"))?;
    mailbox.post(order);
    shared.clock.poke();
    Ok(Some(job))
}

fn is_holder(shared: &Shared, job: JobId) -> bool {
    (0..shared.clients.len()).any(|i| shared.registry.holder(i) == Some(job))
}

fn add_job(shared: &Arc<Shared>, client: Option<&str>) -> Result<Option<JobId>, String> {
    let index = match client {
        Some(name) => client_index(shared, name)?,
        None => shared.scenario.client_of(shared.registry.len() as u32 + 1),
    };
    match shared.spawn_job(index) {
        Ok(Some(id)) => Ok(Some(id)),
        Ok(None) => Err("the run is ending".into()),
        Err(e) => Err(e.to_string()),
    }
}
