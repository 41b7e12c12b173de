//! The job body and its heartbeat stand without the engine: a test double of
//! `worker::Sink` runs a whole job and a heartbeat, and sees everything they report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use joblock::clock::Clock;
use joblock::events::{Event, JobId, Order};
use joblock::lock::{AcquireOutcome, Lock, LockConfig, OutputBinding, Quiet, lock_key};
use joblock::output::{FencedOutput, recorded_path};
use joblock::store::{MemoryConfig, MemoryStore, Store};
use joblock::worker::{self, Context, End, Heartbeat, Job, Mailbox, Sink};

/// How long a test waits for something that takes milliseconds, before calling it
/// lost (never a pass/fail timing: a slow machine only waits longer).
const PATIENCE: Duration = Duration::from_secs(60);

/// A sink that forwards events on a channel and logs the bookkeeping calls; it can
/// also post a crash order the moment the first chunk is reported.
struct Recorder {
    events: Sender<Event>,
    calls: Mutex<Vec<String>>,
    crash_after_chunk: Mutex<Option<Arc<Mailbox>>>,
}

impl Recorder {
    fn new() -> (Arc<Recorder>, Receiver<Event>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let r = Arc::new(Recorder {
            events: tx,
            calls: Mutex::new(Vec::new()),
            crash_after_chunk: Mutex::new(None),
        });
        (r, rx)
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn call(&self, what: String) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what);
    }
}

impl Sink for Recorder {
    fn report(&self, _at: Duration, event: Event) {
        if matches!(event, Event::ChunkWritten { chunk: 1, .. })
            && let Some(mailbox) = self
                .crash_after_chunk
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
        {
            mailbox.post(Order::Crash);
        }
        let _ = self.events.send(event);
    }

    fn job_of(&self, owner: &str) -> Option<JobId> {
        (owner == "the-other").then_some(7)
    }

    fn holds(&self, job: &Job) {
        self.call(format!("holds {}", job.id));
    }

    fn lets_go(&self, job: &Job) {
        self.call(format!("lets go {}", job.id));
    }

    fn ended(&self, job: &Job) {
        self.call(format!("ended {}", job.id));
    }
}

fn store(clock: &Clock) -> Arc<dyn Store> {
    Arc::new(MemoryStore::new(clock.clone(), MemoryConfig::default(), 1))
}

fn config() -> LockConfig {
    LockConfig {
        lease: Duration::from_secs(3),
        retry: Duration::from_millis(100),
        give_up: Duration::from_secs(60),
    }
}

#[test]
fn a_heartbeat_renews_and_reports_with_no_engine() {
    // 100x speed: a renewal every lease / 3 = 1 s of scenario time is 10 ms.
    let clock = Clock::real(100.0);
    let store = store(&clock);
    let lock = Lock::new(
        store.clone(),
        clock.clone(),
        lock_key("worker", "c"),
        config(),
    );
    let lease = match lock.acquire("me", &mut Quiet, &|| false) {
        Ok(AcquireOutcome::Acquired(lease, _)) => lease,
        _ => panic!("a free lock on a healthy store must be acquired"),
    };
    let (sink, events) = Recorder::new();
    let mut hb = match Heartbeat::start(&clock, lease.clone(), sink, 1, "c".into()) {
        Ok(hb) => hb,
        Err(e) => panic!("cannot start the heartbeat thread: {e}"),
    };
    let mut beats = Vec::new();
    while beats.len() < 3 {
        match events.recv_timeout(PATIENCE) {
            Ok(Event::Heartbeat {
                job, fence, beat, ..
            }) => {
                assert_eq!((job, fence), (1, lease.fence()));
                beats.push(beat);
            }
            Ok(other) => panic!("a heartbeat reports only renewals here, got {other:?}"),
            Err(e) => panic!("no renewal reported within {PATIENCE:?}: {e}"),
        }
    }
    hb.stop();
    assert!(beats.windows(2).all(|w| w[0] < w[1]), "{beats:?}");
    let doc = lock.read().ok().flatten().map(|d| (d.owner, d.heartbeat));
    assert_eq!(doc, Some((Some("me".to_string()), lease.heartbeat())));
    assert!(
        lease.heartbeat() >= beats[2],
        "the store holds the last beat"
    );
}

fn context(clock: &Clock, dir: &std::path::Path, sink: Arc<dyn Sink>) -> (Context, String) {
    let path = dir.join("out.txt");
    let output = match FencedOutput::create(&path) {
        Ok(o) => Arc::new(o),
        Err(e) => panic!("cannot create {}: {e}", path.display()),
    };
    let binding = OutputBinding {
        id: output.id().to_string(),
        path: recorded_path(&path),
    };
    let lock = Lock::new(
        store(clock),
        clock.clone(),
        lock_key("worker", "c"),
        config(),
    )
    .with_output(Some(binding));
    let cx = Context {
        clock: clock.clone(),
        lock,
        output,
        sink,
        mailbox: Arc::new(Mailbox::default()),
        text: b"hello world\n".to_vec(),
        chunk: 5,
        chunk_pause: Duration::ZERO,
        announce: false,
    };
    (cx, path.display().to_string())
}

fn job(will_crash: bool) -> Job {
    Job {
        id: 1,
        client: "c".into(),
        client_index: 0,
        hash: "me".into(),
        will_crash,
    }
}

fn kinds(events: &Receiver<Event>) -> Vec<String> {
    events
        .try_iter()
        .map(|e| {
            let v = serde_json::to_value(&e).unwrap_or_default();
            v["type"].as_str().unwrap_or("?").to_string()
        })
        .filter(|k| k != "heartbeat")
        .collect()
}

/// One job's whole set-up: a temp dir with its output, a recorder, a context.
struct Fixture {
    _dir: tempfile::TempDir,
    sink: Arc<Recorder>,
    events: Receiver<Event>,
    cx: Context,
    path: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        let (sink, events) = Recorder::new();
        let (cx, path) = context(&Clock::real(1.0), dir.path(), sink.clone());
        Fixture {
            _dir: dir,
            sink,
            events,
            cx,
            path,
        }
    }
}

#[test]
fn a_job_runs_to_its_end_under_a_test_double() {
    let f = Fixture::new();
    let (sink, events, cx, path) = (&f.sink, &f.events, &f.cx, &f.path);
    let end = worker::run(&job(false), cx);
    assert_eq!(end, End::Finished);
    assert_eq!(
        kinds(events),
        [
            "acquired",
            "chunk_written",
            "chunk_written",
            "chunk_written",
            "released",
            "finished"
        ]
    );
    assert_eq!(sink.calls(), ["holds 1", "lets go 1", "ended 1"]);
    let written = std::fs::read(path).unwrap_or_default();
    assert_eq!(written, b"hello world\n");
    assert_eq!(cx.lock.read().ok().flatten().map(|d| d.committed), Some(12));
}

#[test]
fn an_order_from_the_runner_mid_record_repairs_and_releases() {
    let f = Fixture::new();
    let (sink, events, cx, path) = (&f.sink, &f.events, &f.cx, &f.path);
    // The runner orders a crash as the first chunk lands: the job takes it before
    // the second, cuts its torn first chunk and releases without committing.
    *sink
        .crash_after_chunk
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(cx.mailbox.clone());
    let end = worker::run(&job(false), cx);
    assert_eq!(end, End::Crashed);
    assert_eq!(
        kinds(events),
        ["acquired", "chunk_written", "repair", "released", "crashed"]
    );
    assert_eq!(std::fs::read(path).unwrap_or_default(), b"");
    let doc = cx.lock.read().ok().flatten();
    assert_eq!(doc.map(|d| (d.owner, d.committed)), Some((None, 0)));
}

#[test]
fn an_order_before_the_lock_is_won_ends_the_job_leaving_nothing() {
    let f = Fixture::new();
    let (sink, events, cx, path) = (&f.sink, &f.events, &f.cx, &f.path);
    cx.mailbox.post(Order::Crash);
    assert_eq!(worker::run(&job(false), cx), End::Crashed);
    assert_eq!(kinds(events), ["crashed"]);
    assert_eq!(sink.calls(), ["lets go 1", "ended 1"]);
    assert_eq!(std::fs::read(path).unwrap_or_default(), b"");
    assert!(
        cx.lock.read().ok().flatten().is_none(),
        "nothing was written to the store"
    );
}
