//! Workers in many processes share one lock on a real store (issue #4).
//!
//! Three `joblock worker` processes run 8 jobs each for one client, sharing one output
//! file. When one of them reports a chunk written mid-record, the test kills that
//! process with SIGKILL: it dies holding the lock with a torn record. The survivors
//! must take over after the lease, cut the torn bytes, and finish; the output must
//! then hold exactly one whole record per job that finished in any process.
//! A second test restarts the database server in the middle of a run.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;

use crossbeam_channel::{Receiver, unbounded};
use joblock::verify;
use serde_json::Value;
use support::workers::FAST;

struct Worker {
    child: Child,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one worker process runs.
struct Plan<'a> {
    jobs: u32,
    seed: u64,
    /// `--wait`: `race` or `queue`.
    wait: &'a str,
}

/// Starts a worker whose JSON events arrive on `tx` tagged with `index`.
fn spawn_worker(
    index: usize,
    url: &str,
    namespace: &str,
    output: &Path,
    plan: Plan<'_>,
    tx: crossbeam_channel::Sender<(usize, Value)>,
) -> Worker {
    let Plan { jobs, seed, wait } = plan;
    let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .arg("worker")
        .args(["--store", url, "--namespace", namespace, "--client", "acme"])
        .args(["--jobs", &jobs.to_string(), "--seed", &seed.to_string()])
        .args(["--crash-prob", "0.1", "--wait", wait, "--json", "--output"])
        .arg(output)
        .args(FAST)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a worker");
    let stdout = child.stdout.take().expect("worker stdout");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send((index, v));
            }
        }
    });
    Worker { child }
}

fn kind(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// What each worker reported, once every stream has ended.
#[derive(Default)]
struct Seen {
    finished: [u32; 3],
    takeovers: u32,
    repaired_bytes: u64,
    violations: Vec<String>,
}

fn collect(
    rx: &Receiver<(usize, Value)>,
    seen: &mut Seen,
    mut on_event: impl FnMut(usize, &Value),
) {
    for (i, v) in rx.iter() {
        match kind(&v) {
            "finished" => seen.finished[i] += 1,
            "acquired" if v["how"] == "takeover" => seen.takeovers += 1,
            "repair" => seen.repaired_bytes += v["bytes"].as_u64().unwrap_or(0),
            "invariant_broken" => seen.violations.push(format!("worker {i}: {}", v["what"])),
            _ => {}
        }
        on_event(i, &v);
    }
}

/// Three workers x 8 jobs, their jobs waiting in `wait` mode; the one writing
/// mid-record is SIGKILLed.
fn three_workers_survive_a_sigkill_of_the_holder(url: &str, namespace: &str, wait: &str) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.txt");
    let (tx, rx) = unbounded();
    let mut workers: Vec<Worker> = (0..3)
        .map(|i| {
            let plan = Plan {
                jobs: 8,
                seed: 100 + i as u64,
                wait,
            };
            spawn_worker(i, url, namespace, &output, plan, tx.clone())
        })
        .collect();
    drop(tx);
    let mut killed: Option<usize> = None;
    let mut seen = Seen::default();
    collect(&rx, &mut seen, |i, v| {
        if killed.is_none() && kind(v) == "chunk_written" && v["chunk"] == 3 {
            // SIGKILL: no repair, no release; its heartbeat dies with it.
            let _ = workers[i].child.kill();
            killed = Some(i);
        }
    });
    let killed = killed.expect("some worker wrote a third chunk");
    for (i, w) in workers.iter_mut().enumerate() {
        let status = w.child.wait().expect("wait for a worker");
        if i != killed {
            assert!(
                status.success(),
                "surviving worker {i} exited with {status}"
            );
        }
    }
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert!(
        seen.takeovers >= 1,
        "a survivor took the dead holder's lock over"
    );
    assert!(
        seen.repaired_bytes >= 10,
        "the torn record was cut ({} bytes)",
        seen.repaired_bytes
    );
    let finished: u32 = seen.finished.iter().sum();
    let v = verify::check_file(&output, Some(finished as usize)).unwrap();
    assert!(v.passed(), "{}", v.line(&output));
    assert!(finished >= 10, "most jobs finished: {finished}");
}

#[test]
fn three_worker_processes_share_one_lock_on_redis_and_survive_a_sigkill() {
    let server = support::redis_server::RedisServer::start();
    let ns = support::redis_server::unique_namespace("mp");
    three_workers_survive_a_sigkill_of_the_holder(&server.url, &ns, "race");
}

/// Queue mode: within each process the jobs queue and hand over; across processes
/// the heads race. A killed holder is still taken over, by whichever head times it.
#[test]
fn three_queue_mode_workers_share_one_lock_on_redis_and_survive_a_sigkill() {
    let server = support::redis_server::RedisServer::start();
    let ns = support::redis_server::unique_namespace("mpq");
    three_workers_survive_a_sigkill_of_the_holder(&server.url, &ns, "queue");
}

#[test]
fn three_queue_mode_workers_share_one_lock_on_postgres_and_survive_a_sigkill() {
    let server = support::pg_server::shared();
    let ns = support::pg_server::unique_namespace("mpq");
    three_workers_survive_a_sigkill_of_the_holder(&server.url, &ns, "queue");
}

#[test]
fn three_worker_processes_share_one_lock_on_postgres_and_survive_a_sigkill() {
    let server = support::pg_server::shared();
    let ns = support::pg_server::unique_namespace("mp");
    three_workers_survive_a_sigkill_of_the_holder(&server.url, &ns, "race");
}

#[test]
fn a_postgres_restart_mid_run_leaves_a_valid_output_and_no_overlap() {
    let mut server = support::pg_server::PgServer::start();
    let ns = support::pg_server::unique_namespace("restart");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.txt");
    let (tx, rx) = unbounded();
    let plan = Plan {
        jobs: 6,
        seed: 7,
        wait: "race",
    };
    let mut worker = spawn_worker(0, &server.url, &ns, &output, plan, tx);
    let mut restarted = false;
    let mut store_errors = 0;
    let mut seen = Seen::default();
    collect(&rx, &mut seen, |_, v| {
        if !restarted && kind(v) == "chunk_written" && v["chunk"] == 2 {
            server.restart();
            restarted = true;
        }
        let error = v.get("seen").and_then(|s| s.get("kind")) == Some(&Value::from("store_error"));
        if kind(v) == "heartbeat_failed" || error {
            store_errors += 1;
        }
    });
    let status = worker.child.wait().unwrap();
    assert!(restarted);
    assert!(store_errors >= 1, "the worker felt the restart");
    assert!(status.success(), "the worker exited with {status}");
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    let finished: u32 = seen.finished.iter().sum();
    let v = verify::check_file(&output, Some(finished as usize)).unwrap();
    assert!(v.passed(), "{}", v.line(&output));
    assert!(
        finished >= 3,
        "the run went on after the restart: {finished} finished"
    );
}

#[test]
fn watch_once_shows_the_holder_and_the_waiters_of_a_shared_lock() {
    let server = support::redis_server::RedisServer::start();
    let ns = support::redis_server::unique_namespace("watch");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.txt");
    let (tx, rx) = unbounded();
    // Slow jobs (speed 10) so the lock is held, and others wait, while we look.
    let mut worker = {
        let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
            .arg("worker")
            .args([
                "--store",
                &server.url,
                "--namespace",
                &ns,
                "--client",
                "acme",
            ])
            .args([
                "--jobs",
                "3",
                "--crash-prob",
                "0",
                "--speed",
                "10",
                "--json",
                "--output",
            ])
            .arg(&output)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a worker");
        let stdout = child.stdout.take().expect("worker stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Worker { child }
    };
    // Wait until a job holds the lock and another one is waiting for it.
    let mut waiting = false;
    let mut held = false;
    for v in rx.iter() {
        held |= kind(&v) == "chunk_written";
        waiting |= kind(&v) == "lock_attempt";
        if held && waiting {
            break;
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args([
            "watch",
            "--store",
            &server.url,
            "--namespace",
            &ns,
            "--once",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let views: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lock = &views[0];
    assert_eq!(lock["key"], "lock:worker:acme");
    assert_eq!(lock["state"], "held", "{views}");
    assert!(lock["owner"].is_string());
    assert!(lock["fence"].as_u64().unwrap_or(0) >= 1);
    assert!(
        !lock["waiters"]
            .as_array()
            .map(Vec::is_empty)
            .unwrap_or(true),
        "waiters are shown: {views}"
    );
    let _ = worker.child.kill();
}

#[test]
fn watch_names_an_unreachable_store_in_one_line_and_exits_3() {
    let out = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(["watch", "--store", "redis://127.0.0.1:1", "--once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("redis://127.0.0.1:1"), "{err}");
}

#[test]
fn an_unreachable_store_is_one_line_naming_it_with_exit_3_and_no_output_written() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "redis://127.0.0.1:1",
        "postgres://postgres@127.0.0.1:1/postgres",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_joblock"))
            .current_dir(dir.path())
            .args(["--headless", "--store", url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(url), "{err}");
        assert!(
            !dir.path().join("output.txt").exists(),
            "{url}: nothing half-written"
        );
    }
}

#[test]
fn a_store_url_of_an_unknown_kind_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(["--headless", "--store", "mongodb://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mongodb://x"));
}
