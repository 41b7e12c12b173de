//! Store calls are bounded in time (issue 14): a PostgreSQL or Redis server that
//! accepts connections and never answers, or one frozen with SIGSTOP mid-run.
//!
//! * Opening a store on a silent listener fails, naming the URL without its
//!   password, instead of hanging.
//! * Every command (the demo, `worker`, `watch`, `watch --once`, `locks`, `run`)
//!   exits with its store-unreachable code and one line naming the store.
//! * A holder's calls on a frozen server end within a third of its lease, and a
//!   run whose server is frozen under its holder fences that holder, then
//!   completes with a valid output once the server runs again.
//!
//! Wall-clock bounds are generous ([`BOUND`]) so a slow, busy machine never fails
//! them; each test prints what it measured.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};
use joblock::clock::Clock;
use joblock::store::{
    Limits, MemoryConfig, Store, StoreError, StoreUrl, open_store, open_store_read_only,
    open_store_within,
};
use joblock::verify;
use serde_json::{Value, json};
use support::net::Silent;

/// The most any bounded wait here may take: far above the real figures (a few
/// seconds), so only a hang fails.
const BOUND: Duration = Duration::from_secs(30);

/// A store URL on the silent listener, and how messages must show it.
struct Hung {
    url: String,
    shown: String,
}

/// PostgreSQL and Redis URLs on `addr`, with passwords (never shown) and the
/// options that could lengthen a wait (a URL's own connect timeout, a database
/// to SELECT).
fn hung_urls(addr: SocketAddr) -> Vec<Hung> {
    vec![
        Hung {
            url: format!("postgres://joblock:secret@{addr}/db"),
            shown: format!("postgres://joblock@{addr}/db"),
        },
        Hung {
            url: format!("postgres://joblock@{addr}/db?connect_timeout=60"),
            shown: format!("postgres://joblock@{addr}/db?connect_timeout=60"),
        },
        Hung {
            url: format!("redis://:secret@{addr}"),
            shown: format!("redis://:***@{addr}"),
        },
        Hung {
            url: format!("redis://{addr}/2"),
            shown: format!("redis://{addr}/2"),
        },
    ]
}

fn parse(url: &str) -> StoreUrl {
    StoreUrl::parse(url).unwrap_or_else(|e| panic!("{e}"))
}

/// The message of an `Unavailable` open, after checking it came within [`BOUND`].
fn unavailable(what: &str, open: impl FnOnce() -> Result<Arc<dyn Store>, StoreError>) -> String {
    let began = Instant::now();
    let opened = open();
    let took = began.elapsed();
    eprintln!("{what}: failed after {took:.2?}");
    assert!(took < BOUND, "{what} took {took:?}");
    match opened {
        Err(StoreError::Unavailable(msg)) => msg,
        Err(other) => panic!("{what}: expected Unavailable, got {other:?}"),
        Ok(_) => panic!("{what}: opened on a server that never answers"),
    }
}

#[test]
fn opening_a_store_on_a_server_that_never_answers_fails_in_bounded_time_naming_it() {
    let silent = Silent::start();
    for hung in hung_urls(silent.addr) {
        let url = parse(&hung.url);
        let clock = Clock::real(1.0);
        let writable = unavailable(&format!("open {}", hung.shown), || {
            open_store(&url, "hung", &clock, MemoryConfig::default(), 0)
        });
        let read_only = unavailable(&format!("open read-only {}", hung.shown), || {
            open_store_read_only(&url, "hung")
        });
        for msg in [writable, read_only] {
            assert!(msg.contains(&hung.shown), "{msg}");
            assert!(msg.contains("did not answer within"), "{msg}");
            assert!(!msg.contains("secret") && !msg.contains('\n'), "{msg}");
        }
    }
    assert!(silent.connections() >= 8, "every open reached the listener");
}

/// Runs `joblock ARGS` in `dir`; kills it and fails if it outlives [`BOUND`].
fn run_bounded(dir: &Path, args: &[&str]) -> (Option<i32>, String, Duration) {
    let began = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start joblock");
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if began.elapsed() > BOUND => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("joblock {args:?} still running after {BOUND:?}");
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("wait for joblock: {e}"),
        }
    };
    let took = began.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (status.code(), stderr, took)
}

#[test]
fn every_command_on_a_server_that_never_answers_exits_with_one_line_naming_the_store() {
    let silent = Silent::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("worker.txt");
    let out = out.to_str().expect("a UTF-8 path");
    // The two URLs with passwords: one per backend.
    let urls: Vec<Hung> = hung_urls(silent.addr)
        .into_iter()
        .filter(|h| h.url.contains("secret"))
        .collect();
    // Exit 3 for the engine's commands and watch, 69 (EX_UNAVAILABLE) for run and
    // locks, as each documents.
    let commands = |url: &str| -> Vec<(&'static str, Vec<String>, i32)> {
        let own = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        vec![
            (
                "main",
                own(&["--headless", "--store", url, "--namespace", "hung"]),
                3,
            ),
            (
                "worker",
                own(&[
                    "worker",
                    "--store",
                    url,
                    "--namespace",
                    "hung",
                    "--client",
                    "acme",
                    "--jobs",
                    "2",
                    "--output",
                    out,
                ]),
                3,
            ),
            (
                "watch --once",
                own(&["watch", "--store", url, "--namespace", "hung", "--once"]),
                3,
            ),
            (
                "watch",
                own(&["watch", "--store", url, "--namespace", "hung"]),
                3,
            ),
            (
                "locks list",
                own(&["locks", "list", "--store", url, "--namespace", "hung"]),
                69,
            ),
            (
                "run",
                own(&[
                    "run",
                    "--store",
                    url,
                    "--namespace",
                    "hung",
                    "--key",
                    "worker:acme",
                    "--",
                    "true",
                ]),
                69,
            ),
        ]
    };
    // In parallel: each one only waits for a listener that never answers.
    thread::scope(|s| {
        for hung in &urls {
            for (name, args, code) in commands(&hung.url) {
                let dir = dir.path();
                s.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let (got, stderr, took) = run_bounded(dir, &args);
                    eprintln!("{name} on {}: exit {got:?} after {took:.2?}", hung.shown);
                    assert_eq!(got, Some(code), "{name} on {}: {stderr}", hung.shown);
                    assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
                    assert!(stderr.contains(&hung.shown), "{name}: {stderr}");
                    assert!(!stderr.contains("secret"), "{name}: {stderr}");
                });
            }
        }
    });
    assert!(
        !dir.path().join("output.txt").exists(),
        "the demo wrote nothing"
    );
}

/// A store on `url` whose calls are a holder's of a 1.5 s lease (0.5 s each).
fn holders_store(url: &str, namespace: &str) -> Arc<dyn Store> {
    let clock = Clock::real(1.0);
    let limits = Limits::default().holding(&clock, Duration::from_millis(1500));
    open_store_within(
        &parse(url),
        namespace,
        &clock,
        MemoryConfig::default(),
        0,
        &limits,
    )
    .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// Freezes the server under a holder's store and checks that its calls (and a
/// wait for a change) end in time, then that it recovers once the server runs.
fn calls_end_in_time_while_frozen(url: &str, freeze: &dyn Fn(), thaw: &dyn Fn()) {
    let store = holders_store(url, &support::unique_namespace("frozen"));
    let id = json!("lock:worker:acme");
    store
        .insert_one(json!({"_id": "lock:worker:acme", "heartbeat": 1}))
        .expect("insert before the freeze");
    // The listener is opened (and subscribed) before the freeze, as a waiter's is.
    store.wait_for_change("lock:worker:acme", Duration::ZERO);
    freeze();
    let began = Instant::now();
    let renewed = store.update_one(
        &json!({"_id": id, "heartbeat": 1}),
        &json!({"heartbeat": 2}),
    );
    let took = began.elapsed();
    eprintln!("{url}: update_one on a frozen server failed after {took:.2?}");
    match renewed {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains("did not answer within 0.5 s"), "{msg}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(took < BOUND, "{took:?}");
    // The next call reconnects: its connect is bounded by the same limit.
    let began = Instant::now();
    assert!(store.find_one(&json!({"_id": id})).is_err());
    eprintln!(
        "{url}: a reconnecting find_one failed after {:.2?}",
        began.elapsed()
    );
    let began = Instant::now();
    store.wait_for_change("lock:worker:acme", Duration::from_millis(300));
    eprintln!(
        "{url}: a 0.3 s wait for a change took {:.2?}",
        began.elapsed()
    );
    assert!(began.elapsed() < BOUND);
    thaw();
    let deadline = Instant::now() + BOUND;
    loop {
        match store.find_one(&json!({"_id": id})) {
            Ok(doc) => {
                // The timed-out update may have applied after the thaw: either is
                // a heartbeat the caller sent.
                let beat = doc.and_then(|d| d["heartbeat"].as_u64());
                assert!(matches!(beat, Some(1 | 2)), "{beat:?}");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "no recovery after the thaw: {e}"),
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_holders_calls_on_a_frozen_redis_end_within_a_third_of_its_lease() {
    let server = support::redis_server::RedisServer::start();
    calls_end_in_time_while_frozen(&server.url, &|| server.freeze(), &|| server.thaw());
}

#[test]
fn a_holders_calls_on_a_frozen_postgres_end_within_a_third_of_its_lease() {
    let server = support::pg_server::PgServer::start();
    calls_end_in_time_while_frozen(&server.url, &|| server.freeze(), &|| server.thaw());
}

/// A worker process whose JSON events arrive on a channel; killed when dropped.
struct Worker {
    child: Child,
    events: Receiver<Value>,
    /// Its stderr, read on a thread of its own so the pipe never fills.
    stderr: Option<thread::JoinHandle<String>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_worker(url: &str, namespace: &str, output: &Path) -> Worker {
    // A 3 s lease at speed 4: 0.75 s of real time, so each call gets 0.25 s.
    let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .arg("worker")
        .args(["--store", url, "--namespace", namespace, "--client", "acme"])
        .args(["--jobs", "3", "--seed", "5", "--crash-prob", "0", "--json"])
        .args(["--speed", "4", "--lease", "3", "--retry", "0.1", "--output"])
        .arg(output)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a worker");
    let (tx, events) = unbounded();
    let stdout = child.stdout.take().expect("the worker's stdout");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let mut pipe = child.stderr.take().expect("the worker's stderr");
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        text
    });
    Worker {
        child,
        events,
        stderr: Some(stderr),
    }
}

fn kind(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// What the worker reported, and the freeze's milestones.
#[derive(Default)]
struct Seen {
    finished: usize,
    heartbeat_failed: usize,
    fenced: usize,
    broken: Vec<String>,
}

impl Seen {
    fn note(&mut self, v: &Value) {
        match kind(v) {
            "finished" => self.finished += 1,
            "heartbeat_failed" => self.heartbeat_failed += 1,
            "fenced" => self.fenced += 1,
            "invariant_broken" => self.broken.push(v.to_string()),
            _ => {}
        }
    }
}

/// Reads events until `until` holds, for at most [`BOUND`]; fails naming `what`.
fn read_until(worker: &Worker, seen: &mut Seen, what: &str, until: impl Fn(&Seen, &Value) -> bool) {
    let deadline = Instant::now() + BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match worker.events.recv_timeout(left) {
            Ok(v) => {
                seen.note(&v);
                if until(seen, &v) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => panic!("waited {BOUND:?} for {what}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the worker ended before {what}"),
        }
    }
}

/// A worker's server is frozen while a holder writes: the holder's renewals fail
/// in time and it fences itself; once the server runs again, the others take
/// over and the run ends with a valid output.
fn a_run_survives_its_server_frozen_under_the_holder(
    url: &str,
    freeze: &dyn Fn(),
    thaw: &dyn Fn(),
) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = dir.path().join("out.txt");
    let mut worker = spawn_worker(url, &support::unique_namespace("sigstop"), &output);
    let mut seen = Seen::default();
    // Early in a record: five chunks (2.5 s) are left, far more than the lease.
    read_until(&worker, &mut seen, "a first chunk", |_, v| {
        kind(v) == "chunk_written" && v["chunk"] == 1
    });
    freeze();
    let frozen = Instant::now();
    read_until(&worker, &mut seen, "the holder to fence itself", |s, _| {
        s.heartbeat_failed >= 1 && s.fenced >= 1
    });
    eprintln!(
        "{url}: frozen; {} failed renewals, the holder fenced after {:.2?}",
        seen.heartbeat_failed,
        frozen.elapsed()
    );
    thaw();
    let thawed = Instant::now();
    // The rest of the run: three jobs of 3 s each at most, and a lease to take
    // the fenced holder's lock over.
    let deadline = thawed + BOUND;
    let status = loop {
        match worker.events.recv_timeout(Duration::from_millis(20)) {
            Ok(v) => seen.note(&v),
            Err(RecvTimeoutError::Timeout) => {}
            // Its stdout closed: the process is on its way out.
            Err(RecvTimeoutError::Disconnected) => thread::sleep(Duration::from_millis(20)),
        }
        match worker.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => assert!(
                Instant::now() < deadline,
                "the worker did not end after the thaw"
            ),
            Err(e) => panic!("wait for the worker: {e}"),
        }
    };
    // What it printed last, once it is gone.
    while let Ok(v) = worker.events.recv_timeout(Duration::from_secs(1)) {
        seen.note(&v);
    }
    let stderr = worker
        .stderr
        .take()
        .and_then(|t| t.join().ok())
        .unwrap_or_default();
    eprintln!(
        "{url}: exit {:?} {:.2?} after the thaw, {} finished, {} fenced",
        status.code(),
        thawed.elapsed(),
        seen.finished,
        seen.fenced
    );
    assert!(seen.broken.is_empty(), "{:?}", seen.broken);
    // A job fenced with no fault injected is the run's trouble (exit 3), said so.
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("lost the lock with no fault injected"),
        "{stderr}"
    );
    assert!(seen.finished >= 1, "the others finished after the thaw");
    let checked = verify::check_file(&output, Some(seen.finished)).expect("read the output");
    assert!(checked.passed(), "{}", checked.line(&output));
}

#[test]
fn a_worker_whose_redis_is_frozen_under_the_holder_fences_it_and_completes() {
    let server = support::redis_server::RedisServer::start();
    a_run_survives_its_server_frozen_under_the_holder(&server.url, &|| server.freeze(), &|| {
        server.thaw()
    });
}

#[test]
fn a_worker_whose_postgres_is_frozen_under_the_holder_fences_it_and_completes() {
    let server = support::pg_server::PgServer::start();
    a_run_survives_its_server_frozen_under_the_holder(&server.url, &|| server.freeze(), &|| {
        server.thaw()
    });
}
