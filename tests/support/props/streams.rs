//! Event streams for the dashboard's property test: real ones from the engine on a
//! virtual clock, and adversarial ones made by corrupting a real one.

use std::path::Path;
use std::time::Duration;

use joblock::engine::{self, ClockKind, Scenario};
use joblock::events::{Event, How, JobId, OutputCheck, SeenLock, Stamped, Summary, parse_at};
use rand::RngExt;
use rand::rngs::StdRng;

/// Events kept from one engine run; past this the run is told to stop (its wind-down
/// is kept too), so a crowded run does not cost seconds of folding per case.
pub const STREAM_CAP: usize = 6000;

/// A run that has not ended after this long is stopped (and kept as far as it got).
const RUN_DEADLINE: Duration = Duration::from_secs(20);

/// A scenario drawn from `rng`: 1..=12 clients, 1..=200 jobs, any crash probability,
/// and a random `--at` schedule written in the `--at` grammar.
pub fn scenario(rng: &mut StdRng, output: &Path) -> Scenario {
    let clients: u32 = rng.random_range(1..=12);
    // Mostly small runs (cheap, and they end), sometimes crowded ones.
    let jobs: u32 = match rng.random_range(0..10) {
        0..=5 => rng.random_range(1..=25),
        6..=8 => rng.random_range(1..=80),
        _ => rng.random_range(1..=200),
    };
    let crash_prob = match rng.random_range(0..6) {
        0 => 0.0,
        1 => 1.0,
        _ => rng.random_range(0.0..=1.0),
    };
    let per_client = f64::from(jobs.div_ceil(clients));
    // Waiters retry less often in crowded runs: 200 waiters retrying every 0.1 s for
    // half an hour of scenario time would be millions of events.
    let retry = if per_client > 20.0 {
        rng.random_range(1.0..4.0)
    } else if rng.random_bool(0.5) {
        0.1
    } else {
        rng.random_range(0.1..1.5)
    };
    let lease: f64 = if rng.random_bool(0.7) {
        3.0
    } else {
        rng.random_range(0.5..8.0)
    };
    let horizon = per_client * 12.0 + 10.0;
    let mut schedule = Vec::new();
    for _ in 0..rng.random_range(0..=8) {
        let at = rng.random_range(0.0..horizon);
        for spec in at_actions(rng, lease) {
            let line = format!("{at:.3}:{spec}");
            schedule.push(parse_at(&line).unwrap_or_else(|e| panic!("--at {line}: {e}")));
        }
    }
    Scenario {
        jobs,
        clients,
        crash_prob,
        seed: rng.random(),
        output: output.to_path_buf(),
        lease,
        retry,
        give_up: if rng.random_bool(0.2) {
            rng.random_range(1.0..30.0)
        } else {
            2000.0
        },
        db_latency: rng.random_range(0.0..1.0),
        op_latency: if rng.random_bool(0.3) {
            rng.random_range(0.0..0.05)
        } else {
            0.0
        },
        clock: ClockKind::Virtual,
        schedule,
        ..Scenario::default()
    }
}

/// One `--at` action (two for a pause: a virtual clock stays frozen until a resume,
/// and only a command could resume it, so the resume comes at the same moment).
fn at_actions(rng: &mut StdRng, lease: f64) -> Vec<String> {
    let one = match rng.random_range(0..20) {
        0 | 1 => "crash".to_string(),
        2 | 3 => "kill".to_string(),
        4 => "stall".to_string(),
        5 => format!("stall={:.2}", rng.random_range(0.2..lease * 3.0)),
        6 => return vec!["pause".into(), "resume".into()],
        7 => "stop".to_string(),
        8 => "add".to_string(),
        9 => format!("speed={}", rng.random_range(0.1..50.0)),
        10 => format!("latency={:.3}", rng.random_range(0.0..0.3)),
        11 => format!(
            "spike={:.2},{:.2}",
            rng.random_range(0.0..2.0),
            rng.random_range(0.0..8.0)
        ),
        12 => format!("jitter={:.2}", rng.random_range(0.0..=0.6)),
        13 => format!("fail={}", rng.random_range(0..8)),
        14 => format!("fail-prob={:.2}", rng.random_range(0.0..0.3)),
        15 => format!("lose={}", rng.random_range(0..5)),
        16 => format!("lose-prob={:.2}", rng.random_range(0.0..0.2)),
        17 => format!("outage={:.2}", rng.random_range(0.0..lease * 2.0)),
        18 => "clear".to_string(),
        // A store reset halts the run: rarer, or most runs would end early.
        _ if rng.random_bool(0.3) => "reset".to_string(),
        _ => "resume".to_string(),
    };
    vec![one]
}

/// Runs `scenario` on its virtual clock and collects its events (at most about
/// [`STREAM_CAP`] before the run is told to stop).
pub fn run(scenario: Scenario) -> Vec<Stamped> {
    let handle = engine::start(scenario).expect("a valid scenario starts");
    let started = std::time::Instant::now();
    let mut events = Vec::new();
    let mut stopped = false;
    loop {
        match handle.events().recv_timeout(Duration::from_secs(1)) {
            Ok(ev) => events.push(ev),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
        }
        let late = started.elapsed() > RUN_DEADLINE;
        if !stopped && (events.len() >= STREAM_CAP || late) {
            stopped = true;
            let _ = handle.commands().send(joblock::events::Command::Resume);
            let _ = handle.commands().send(joblock::events::Command::Stop);
        }
        if late && started.elapsed() > 2 * RUN_DEADLINE {
            // Hung even after a stop: keep what came, leave the run behind.
            std::mem::forget(handle);
            return events;
        }
    }
    let _ = handle.join();
    events
}

// ---------------------------------------------------------------------------
// Corruption: what a damaged or hand-edited recording can contain.
// ---------------------------------------------------------------------------

/// Strings a recording can hold: escapes that would drive a terminal, line breaks,
/// bidi overrides, wide and combining characters, emptiness, length.
pub fn nasty_string(rng: &mut StdRng) -> String {
    const NASTY: &[&str] = &[
        "",
        "\u{1b}[31mred\u{1b}[0m",
        "\u{1b}]2;title\u{7}",
        "line\nbreak",
        "cr\rreturn",
        "tab\there",
        "nul\0byte",
        "c1\u{85}\u{9b}",
        "del\u{7f}",
        "bidi\u{202e}txet",
        "iso\u{2066}late\u{2069}",
        "日本語のクライアント",
        "e\u{301}\u{301}\u{301}",
        "👩‍👩‍👧‍👦",
        "client-1",
        "client-999",
        " ",
    ];
    if rng.random_bool(0.1) {
        return "x".repeat(rng.random_range(100..3000));
    }
    NASTY[rng.random_range(0..NASTY.len())].to_string()
}

/// A time a recording can hold: zero, negative, tiny, huge, subnormal.
pub fn nasty_time(rng: &mut StdRng, around: f64) -> f64 {
    match rng.random_range(0..12) {
        0 => 0.0,
        1 => -0.0,
        2 => -rng.random_range(0.0..100.0),
        3 => 1e300,
        4 => 1e-300,
        5 => f64::MAX,
        6 => -1e300,
        7 => f64::MIN_POSITIVE / 4.0,
        8 => around - rng.random_range(0.0..50.0),
        9 => around + rng.random_range(0.0..1e6),
        10 => 1e15,
        _ => around,
    }
}

fn nasty_u64(rng: &mut StdRng) -> u64 {
    match rng.random_range(0..5) {
        0 => 0,
        1 => u64::MAX,
        2 => u64::MAX - 1,
        3 => 1 << 53,
        _ => rng.random(),
    }
}

fn nasty_u32(rng: &mut StdRng) -> u32 {
    match rng.random_range(0..4) {
        0 => 0,
        1 => u32::MAX,
        2 => u32::MAX - 1,
        _ => rng.random_range(0..100),
    }
}

fn nasty_f64(rng: &mut StdRng) -> f64 {
    nasty_time(rng, 3.0)
}

/// A job number: a known one, the engine's 0, one past the end, or huge.
fn some_job(rng: &mut StdRng, jobs: u32) -> JobId {
    match rng.random_range(0..8) {
        0 => 0,
        1 => jobs.saturating_add(1),
        2 => jobs.saturating_add(rng.random_range(2..1000)),
        3 => u32::MAX,
        4 => u32::MAX - 1,
        _ => rng.random_range(1..=jobs.max(1)),
    }
}

fn some_client(rng: &mut StdRng, clients: &[String]) -> String {
    if clients.is_empty() || rng.random_bool(0.3) {
        nasty_string(rng)
    } else {
        clients[rng.random_range(0..clients.len())].clone()
    }
}

fn some_seen(rng: &mut StdRng, jobs: u32) -> SeenLock {
    match rng.random_range(0..3) {
        0 => SeenLock::Held {
            holder: rng.random_bool(0.8).then(|| some_job(rng, jobs)),
            fence: nasty_u64(rng),
            heartbeat: nasty_u64(rng),
        },
        1 => SeenLock::LostRace,
        _ => SeenLock::StoreError {
            error: nasty_string(rng),
        },
    }
}

fn some_how(rng: &mut StdRng) -> How {
    match rng.random_range(0..3) {
        0 => How::Created,
        1 => How::Handoff,
        _ => How::Takeover,
    }
}

/// A summary with odd numbers and odd text in it.
pub fn some_summary(rng: &mut StdRng, base: Option<&Summary>) -> Summary {
    let mut s = base.cloned().unwrap_or_default();
    if rng.random_bool(0.5) {
        s.finished = nasty_u32(rng);
        s.crashed = nasty_u32(rng);
        s.repaired_bytes = nasty_u64(rng);
        s.mean_wait = nasty_f64(rng);
        s.max_wait = nasty_f64(rng);
        s.total_time = nasty_f64(rng);
        s.serial_time = nasty_f64(rng);
    }
    for _ in 0..rng.random_range(0..4) {
        s.violations.push(nasty_string(rng));
    }
    for _ in 0..rng.random_range(0..3) {
        s.trouble.push(nasty_string(rng));
    }
    if rng.random_bool(0.3) {
        for _ in 0..rng.random_range(0..40) {
            s.violations
                .push(format!("violation {}", rng.random::<u16>()));
        }
    }
    for _ in 0..rng.random_range(0..3) {
        s.outputs.push(OutputCheck {
            client: nasty_string(rng),
            path: nasty_string(rng),
            records: rng.random_range(0..10),
            expected: rng.random_range(0..10),
            passed: rng.random_bool(0.5),
            verdict: nasty_string(rng),
        });
    }
    s
}

/// Any event at all, with fields drawn to hurt.
pub fn random_event(rng: &mut StdRng, jobs: u32, clients: &[String]) -> Event {
    let job = some_job(rng, jobs);
    let client = some_client(rng, clients);
    match rng.random_range(0..32) {
        0 => {
            let n = match rng.random_range(0..4) {
                0 => 0,
                1 => rng.random_range(13..40),
                _ => rng.random_range(1..=12),
            };
            let mut names: Vec<String> = (1..=n).map(|i| format!("client-{i}")).collect();
            if rng.random_bool(0.3) && !names.is_empty() {
                names[0] = nasty_string(rng);
            }
            let mut outputs: Vec<String> = names.iter().map(|c| format!("out.{c}.txt")).collect();
            if rng.random_bool(0.3) {
                outputs.pop();
            }
            if rng.random_bool(0.3) && !outputs.is_empty() {
                outputs[0] = nasty_string(rng);
            }
            Event::RunStarted {
                jobs: nasty_u32(rng),
                clients: nasty_u32(rng),
                store: nasty_string(rng),
                speed: nasty_f64(rng),
                seed: nasty_u64(rng),
                clock: nasty_string(rng),
                lease: nasty_f64(rng),
                wait: if rng.random_bool(0.5) {
                    "queue".into()
                } else {
                    nasty_string(rng)
                },
                latency: nasty_f64(rng),
                floor: nasty_f64(rng),
                client_names: names,
                outputs,
            }
        }
        1 | 2 => Event::Queued {
            job: if rng.random_bool(0.5) {
                jobs.saturating_add(1)
            } else {
                job
            },
            client,
            hash: nasty_string(rng),
            will_crash: rng.random_bool(0.5),
        },
        3 => Event::LockAttempt {
            job,
            client,
            attempt: nasty_u32(rng),
            seen: some_seen(rng, jobs),
        },
        4 => Event::LeaseExpired {
            job,
            client,
            holder: rng.random_bool(0.8).then(|| some_job(rng, jobs)),
            fence: nasty_u64(rng),
            unchanged_for: nasty_f64(rng),
        },
        5 | 6 => Event::Acquired {
            job,
            client,
            fence: nasty_u64(rng),
            attempts: nasty_u32(rng),
            waited: nasty_f64(rng),
            how: some_how(rng),
            from_job: rng.random_bool(0.5).then(|| some_job(rng, jobs)),
            from_fence: rng.random_bool(0.5).then(|| nasty_u64(rng)),
            committed: nasty_u64(rng),
            wseq: nasty_u64(rng),
        },
        7 => Event::Repair {
            job,
            client,
            fence: nasty_u64(rng),
            from_len: nasty_u64(rng),
            to_len: nasty_u64(rng),
            bytes: nasty_u64(rng),
            reason: nasty_string(rng),
            wseq: nasty_u64(rng),
        },
        8 | 9 => Event::ChunkWritten {
            job,
            client,
            fence: nasty_u64(rng),
            chunk: nasty_u32(rng),
            of: nasty_u32(rng),
            offset: if rng.random_bool(0.5) {
                nasty_u64(rng)
            } else {
                rng.random_range(0..200)
            },
            text: nasty_string(rng),
            wseq: nasty_u64(rng),
        },
        10 => Event::WriteRejected {
            job,
            client,
            fence: nasty_u64(rng),
            highest: nasty_u64(rng),
        },
        11 => Event::Heartbeat {
            job,
            client,
            fence: nasty_u64(rng),
            beat: nasty_u64(rng),
        },
        12 => Event::HeartbeatFailed {
            job,
            client,
            error: nasty_string(rng),
        },
        13 => Event::Stalled {
            job,
            client,
            secs: nasty_f64(rng),
        },
        14 => Event::Released {
            job,
            client,
            fence: nasty_u64(rng),
            committed: nasty_u64(rng),
        },
        15 => Event::Finished { job, client },
        16 => Event::Crashed {
            job,
            client,
            reason: nasty_string(rng),
        },
        17 => Event::Killed {
            job,
            client,
            held: rng.random_bool(0.5),
        },
        18 => Event::Fenced {
            job,
            client,
            reason: nasty_string(rng),
        },
        19 => Event::GaveUp {
            job,
            client,
            attempts: nasty_u32(rng),
            waited: nasty_f64(rng),
        },
        20 => Event::CommandApplied {
            command: nasty_string(rng),
            job: rng.random_bool(0.5).then_some(job),
        },
        21 => Event::CommandIgnored {
            command: nasty_string(rng),
            reason: nasty_string(rng),
        },
        22 => Event::FaultInjected {
            what: nasty_string(rng),
        },
        23 => Event::Paused,
        24 => Event::Resumed,
        25 => Event::SpeedChanged {
            speed: nasty_f64(rng),
        },
        26 => Event::ReleaseUnconfirmed {
            job,
            client,
            fence: nasty_u64(rng),
        },
        27 => Event::OutputFailed {
            job,
            client,
            error: nasty_string(rng),
        },
        28 => Event::Halted {
            job,
            client,
            reason: nasty_string(rng),
        },
        29 => Event::InvariantBroken {
            what: nasty_string(rng),
        },
        30 => match rng.random_range(0..3) {
            0 => Event::CommandStarted {
                job,
                client,
                pid: rng.random(),
                fence: nasty_u64(rng),
                command: vec![nasty_string(rng)],
            },
            1 => Event::CommandSignalled {
                job,
                client,
                signal: nasty_string(rng),
                why: nasty_string(rng),
            },
            _ => Event::CommandExited {
                job,
                client,
                exit: nasty_string(rng),
                code: rng.random(),
            },
        },
        _ => Event::RunFinished {
            summary: Box::new(some_summary(rng, None)),
        },
    }
}

/// The job number field of an event, if it has one.
fn job_field(ev: &mut Event) -> Option<&mut JobId> {
    use Event::*;
    match ev {
        Queued { job, .. }
        | LockAttempt { job, .. }
        | LeaseExpired { job, .. }
        | Acquired { job, .. }
        | Repair { job, .. }
        | ChunkWritten { job, .. }
        | WriteRejected { job, .. }
        | Heartbeat { job, .. }
        | HeartbeatFailed { job, .. }
        | Stalled { job, .. }
        | Released { job, .. }
        | ReleaseUnconfirmed { job, .. }
        | Halted { job, .. }
        | OutputFailed { job, .. }
        | Finished { job, .. }
        | Crashed { job, .. }
        | Killed { job, .. }
        | Fenced { job, .. }
        | GaveUp { job, .. }
        | CommandStarted { job, .. }
        | CommandSignalled { job, .. }
        | CommandExited { job, .. } => Some(job),
        _ => None,
    }
}

/// The client name field of an event, if it has one.
fn client_field(ev: &mut Event) -> Option<&mut String> {
    use Event::*;
    match ev {
        Queued { client, .. }
        | LockAttempt { client, .. }
        | LeaseExpired { client, .. }
        | Acquired { client, .. }
        | Repair { client, .. }
        | ChunkWritten { client, .. }
        | WriteRejected { client, .. }
        | Heartbeat { client, .. }
        | HeartbeatFailed { client, .. }
        | Stalled { client, .. }
        | Released { client, .. }
        | ReleaseUnconfirmed { client, .. }
        | Halted { client, .. }
        | OutputFailed { client, .. }
        | Finished { client, .. }
        | Crashed { client, .. }
        | Killed { client, .. }
        | Fenced { client, .. }
        | GaveUp { client, .. }
        | CommandStarted { client, .. }
        | CommandSignalled { client, .. }
        | CommandExited { client, .. } => Some(client),
        _ => None,
    }
}

/// Corrupts a number field of the event (fences, offsets, chunk counts, lengths).
fn corrupt_numbers(rng: &mut StdRng, ev: &mut Event) {
    match ev {
        Event::ChunkWritten {
            fence,
            chunk,
            of,
            offset,
            ..
        } => match rng.random_range(0..4) {
            0 => *fence = nasty_u64(rng),
            1 => *chunk = nasty_u32(rng),
            2 => *of = nasty_u32(rng),
            _ => *offset = nasty_u64(rng),
        },
        Event::Repair {
            to_len,
            from_len,
            bytes,
            ..
        } => match rng.random_range(0..3) {
            0 => *to_len = nasty_u64(rng),
            1 => *from_len = nasty_u64(rng),
            _ => *bytes = nasty_u64(rng),
        },
        Event::Acquired {
            fence,
            attempts,
            waited,
            ..
        } => match rng.random_range(0..3) {
            0 => *fence = nasty_u64(rng),
            1 => *attempts = nasty_u32(rng),
            _ => *waited = nasty_f64(rng),
        },
        Event::LockAttempt { attempt, .. } => *attempt = nasty_u32(rng),
        Event::Stalled { secs, .. } => *secs = nasty_f64(rng),
        Event::SpeedChanged { speed } => *speed = nasty_f64(rng),
        Event::RunStarted {
            lease,
            speed,
            latency,
            floor,
            ..
        } => match rng.random_range(0..4) {
            0 => *lease = nasty_f64(rng),
            1 => *speed = nasty_f64(rng),
            2 => *latency = nasty_f64(rng),
            _ => *floor = nasty_f64(rng),
        },
        Event::RunFinished { summary } => **summary = some_summary(rng, Some(summary)),
        _ => {}
    }
}

/// Replaces a text field of the event with a nasty string.
fn corrupt_text(rng: &mut StdRng, ev: &mut Event) {
    let s = nasty_string(rng);
    match ev {
        Event::Queued { hash, .. } => *hash = s,
        Event::ChunkWritten { text, .. } => *text = s,
        Event::Repair { reason, .. }
        | Event::Crashed { reason, .. }
        | Event::Fenced { reason, .. }
        | Event::Halted { reason, .. } => *reason = s,
        Event::HeartbeatFailed { error, .. } | Event::OutputFailed { error, .. } => *error = s,
        Event::FaultInjected { what } | Event::InvariantBroken { what } => *what = s,
        Event::CommandApplied { command, .. } | Event::CommandIgnored { command, .. } => {
            *command = s
        }
        Event::RunStarted {
            store,
            client_names,
            outputs,
            clock,
            ..
        } => match rng.random_range(0..4) {
            0 => *store = s,
            1 if !client_names.is_empty() => {
                let i = rng.random_range(0..client_names.len());
                client_names[i] = s;
            }
            2 if !outputs.is_empty() => {
                let i = rng.random_range(0..outputs.len());
                outputs[i] = s;
            }
            _ => *clock = s,
        },
        _ => {
            if let Some(c) = client_field(ev) {
                *c = s;
            }
        }
    }
}

/// What the stream's run said about itself: jobs and client names.
fn shape(events: &[Stamped]) -> (u32, Vec<String>) {
    let mut jobs = 0;
    let mut clients = Vec::new();
    for s in events {
        match &s.event {
            Event::RunStarted { client_names, .. } => clients = client_names.clone(),
            Event::Queued { job, .. } => jobs = jobs.max(*job),
            _ => {}
        }
    }
    (jobs, clients)
}

/// A corrupted copy of a real stream: events dropped, duplicated, swapped with a
/// neighbour, moved to unknown jobs and clients, stamped at odd or backward times,
/// with odd numbers and text, and random events inserted.
pub fn corrupt(rng: &mut StdRng, real: &[Stamped]) -> Vec<Stamped> {
    let (jobs, clients) = shape(real);
    let mut events = real.to_vec();
    let summary = real.iter().rev().find_map(|s| match &s.event {
        Event::RunFinished { summary } => Some((**summary).clone()),
        _ => None,
    });
    let rounds = rng.random_range(1..=30);
    for _ in 0..rounds {
        let n = events.len();
        let i = if n == 0 { 0 } else { rng.random_range(0..n) };
        match rng.random_range(0..14) {
            0 if n > 0 => {
                // Drop one event, or a run of them.
                let len = if rng.random_bool(0.7) {
                    1
                } else {
                    rng.random_range(1..=n - i)
                };
                events.drain(i..i + len);
            }
            1 if n > 0 => {
                let copies = if rng.random_bool(0.9) {
                    1
                } else {
                    rng.random_range(2..50)
                };
                for _ in 0..copies {
                    events.insert(i, events[i].clone());
                }
            }
            2 if n > 1 => {
                let j = (i + 1).min(n - 1);
                events.swap(i.min(n - 2), j);
            }
            3 if n > 0 => {
                if let Some(job) = job_field(&mut events[i].event) {
                    *job = some_job(rng, jobs);
                }
            }
            4 if n > 0 => {
                if let Some(c) = client_field(&mut events[i].event) {
                    *c = some_client(rng, &clients);
                    if rng.random_bool(0.5) {
                        *c = nasty_string(rng);
                    }
                }
            }
            5 | 6 if n > 0 => {
                let around = events[i].t;
                events[i].t = nasty_time(rng, around);
            }
            7 if n > 1 => {
                // Time goes backwards from here on.
                let back = rng.random::<f64>() * events[i].t.abs().max(1.0) * 2.0;
                for s in &mut events[i..] {
                    s.t -= back;
                }
            }
            8 if n > 0 => corrupt_numbers(rng, &mut events[i].event),
            9 if n > 0 => corrupt_text(rng, &mut events[i].event),
            10 | 11 => {
                let t = if n == 0 {
                    0.0
                } else {
                    nasty_time(rng, events[i.min(n - 1)].t)
                };
                let event = random_event(rng, jobs, &clients);
                events.insert(
                    i,
                    Stamped {
                        seq: rng.random(),
                        t,
                        event,
                    },
                );
            }
            12 => {
                // The run "ends" early, or twice.
                let t = if n == 0 { 0.0 } else { events[i.min(n - 1)].t };
                let event = Event::RunFinished {
                    summary: Box::new(some_summary(rng, summary.as_ref())),
                };
                events.insert(i, Stamped { seq: 0, t, event });
            }
            _ if n > 0 => events[i].seq = nasty_u64(rng),
            _ => {}
        }
    }
    events
}
