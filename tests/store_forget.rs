//! Stores that forget their lock documents in the middle of a run of worker
//! processes (Redis FLUSHALL, Redis restarted without persistence, a PostgreSQL
//! table truncated); a lock bound to another output; `joblock reseed` on a held lock.
//!
//! A fleet of `joblock worker` processes shares one client and one output. Once a
//! record is on disk (or committed) the store forgets; the workers must halt (exit 3, `halted` on
//! stderr) without cutting anything a job reported finished. `joblock reseed` then
//! writes the lock back from the output's record, one more worker finishes a job
//! (cutting any torn tail), and the output must hold exactly one whole record per
//! job that reported FINISHED in any process.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use joblock::store::{RedisStore, Store};
use joblock::verify::RECORD;
use serde_json::{Value, json};
use support::workers::FAST;

/// How long any process of these tests may take: generous, for a busy machine.
const DEADLINE: Duration = Duration::from_secs(180);

/// The client every fleet here runs.
const CLIENT: &str = "acme";

/// Its lock key.
const KEY: &str = "lock:worker:acme";

fn joblock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_joblock"))
}

/// [`FAST`] but with a lease of 3 s of real time, for the runs that must finish every
/// job (a busy machine could expire a 0.3 s lease; no job here waits one out).
const STEADY: [&str; 8] = [
    "--speed",
    "100",
    "--lease",
    "300",
    "--db-latency",
    "0.1",
    "--retry",
    "0.1",
];

/// A `joblock worker` command: `jobs` jobs of `client` on `output`, with `flags`
/// ([`FAST`] or [`STEADY`]).
fn worker(
    (url, ns): (&str, &str),
    client: &str,
    output: &Path,
    jobs: u32,
    seed: u64,
    flags: [&str; 8],
) -> Command {
    let mut cmd = joblock();
    cmd.arg("worker")
        .args(["--store", url, "--namespace", ns, "--client", client])
        .args(["--jobs", &jobs.to_string(), "--seed", &seed.to_string()])
        .arg("--output")
        .arg(output)
        .args(flags);
    cmd
}

/// A process whose stdout and stderr are read to the end in the background; killed
/// if dropped before it ended.
struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// What a process printed, and its exit code (`None`: killed by a signal).
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ended {
    /// `job N FINISHED` lines (headless text).
    fn finished(&self) -> usize {
        self.stdout
            .lines()
            .filter(|l| l.ends_with(" FINISHED"))
            .count()
    }
}

fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = r.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Running {
    fn start(cmd: Command) -> Running {
        let (mut running, stdout) = Running::start_reading_stdout(cmd);
        running.stdout = Some(read_all(stdout));
        running
    }

    /// Starts `cmd`; its stdout is the caller's to read.
    fn start_reading_stdout(mut cmd: Command) -> (Running, ChildStdout) {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start joblock");
        let stdout = child.stdout.take().expect("joblock's stdout");
        let stderr = child.stderr.take().map(read_all);
        let running = Running {
            child,
            stdout: None,
            stderr,
        };
        (running, stdout)
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (up to [`DEADLINE`]) for the process to end.
    fn finish(mut self) -> Ended {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for joblock") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "joblock (pid {}) still running after {DEADLINE:?}",
                self.child.id()
            );
            thread::sleep(Duration::from_millis(20));
        };
        let take = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        Ended {
            code: status.code(),
            stdout: take(self.stdout.take()),
            stderr: take(self.stderr.take()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a quick command (reseed, verify, a refused run) to its end.
fn run(mut cmd: Command) -> Ended {
    let out = cmd.stdin(Stdio::null()).output().expect("run joblock");
    Ended {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whole records at the start of `path` (a torn tail is not counted).
fn whole_records(path: &Path) -> usize {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes
        .chunks(RECORD.len())
        .take_while(|c| *c == RECORD.as_bytes())
        .count()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The output's sidecar.
fn fence_file(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".fence");
    PathBuf::from(name)
}

/// The bytes of `path`, `None` when missing.
fn contents(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

fn reseed(url: &str, ns: &str, output: &Path, force: bool) -> Ended {
    let mut cmd = joblock();
    cmd.arg("reseed")
        .args(["--store", url, "--namespace", ns, "--client", CLIENT])
        .arg("--output")
        .arg(output);
    if force {
        cmd.arg("--force");
    }
    run(cmd)
}

/// `joblock verify OUTPUT --expect N` passes.
fn assert_verifies(output: &Path, expect: usize) {
    let mut cmd = joblock();
    cmd.arg("verify")
        .arg(output)
        .args(["--expect", &expect.to_string()]);
    let v = run(cmd);
    assert_eq!(
        v.code,
        Some(0),
        "verify --expect {expect}: {}{}",
        v.stdout,
        v.stderr
    );
}

/// One more worker with one job and no crashes: it must finish it.
fn one_more_job(url: &str, ns: &str, output: &Path) {
    let mut cmd = worker((url, ns), CLIENT, output, 1, 999, STEADY);
    cmd.args(["--crash-prob", "0"]);
    let last = Running::start(cmd).finish();
    assert_eq!(
        (last.code, last.finished()),
        (Some(0), 1),
        "the worker after the reseed finished its job:\n{}{}",
        last.stdout,
        last.stderr
    );
}

/// When the store forgets, by the output file's length.
#[derive(Debug, Clone, Copy)]
enum When {
    /// The first record is on disk: its job has not yet confirmed its release (it
    /// pauses after its last chunk), so that record is usually cut in the end.
    Written,
    /// A second holder began to write: the store confirmed the first record.
    Committed,
}

impl When {
    fn bytes(self) -> u64 {
        match self {
            When::Written => RECORD.len() as u64,
            When::Committed => RECORD.len() as u64 + 1,
        }
    }
}

/// `workers` worker processes x `jobs` jobs on one client and output; once the
/// output is as long as `when` says, `forget` makes the store lose its documents.
/// Then the checks of this file's header.
fn a_fleet_halts_and_resumes_after_the_store_forgets(
    (url, ns): (&str, &str),
    workers: u64,
    jobs: u32,
    when: When,
    forget: impl FnOnce(),
) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.txt");
    let mut fleet: Vec<Running> = (0..workers)
        .map(|i| {
            let mut cmd = worker((url, ns), CLIENT, &output, jobs, 40 + i, FAST);
            cmd.args(["--crash-prob", "0.1"]);
            Running::start(cmd)
        })
        .collect();

    // A condition, not a sleep.
    let deadline = Instant::now() + DEADLINE;
    while file_len(&output) < when.bytes() {
        assert!(
            !fleet.iter_mut().all(Running::exited),
            "every worker ended before {when:?}"
        );
        assert!(
            Instant::now() < deadline,
            "not {when:?} within {DEADLINE:?}"
        );
        thread::sleep(Duration::from_millis(2));
    }
    let before = whole_records(&output);
    forget();

    let ended: Vec<Ended> = fleet.into_iter().map(Running::finish).collect();
    let report = || {
        ended
            .iter()
            .enumerate()
            .map(|(i, e)| format!("worker {i} exit {:?}:\n{}", e.code, e.stderr))
            .collect::<String>()
    };
    for e in &ended {
        assert!(
            matches!(e.code, Some(0 | 3)),
            "a worker exits 0 or 3\n{}",
            report()
        );
    }
    let halted = ended.iter().filter(|e| e.stderr.contains("halted")).count();
    assert!(halted >= 1, "a worker halted\n{}", report());
    for e in ended.iter().filter(|e| e.stderr.contains("halted")) {
        assert_eq!(e.code, Some(3), "a halted worker exits 3\n{}", report());
        assert!(
            e.stderr.contains("error: halted: ")
                && e.stderr.contains(&format!("the store forgot {KEY}")),
            "the halt names the forgotten lock\n{}",
            report()
        );
    }
    let finished: usize = ended.iter().map(Ended::finished).sum();
    // After a halt a torn tail may remain, but nothing a job reported is cut.
    let kept = whole_records(&output);
    assert!(
        kept >= finished,
        "{kept} whole records after the halt, but {finished} jobs reported FINISHED\n{}",
        report()
    );

    let r = reseed(url, ns, &output, false);
    assert_eq!(r.code, Some(0), "reseed: {}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("restored {KEY}"))
            || r.stdout.contains(&format!("raised {KEY}")),
        "reseed wrote the forgotten lock back: {}",
        r.stdout
    );

    one_more_job(url, ns, &output);
    assert_verifies(&output, finished + 1);
    let after = whole_records(&output);
    assert!(
        before <= after,
        "records went from {before} (at the reset) down to {after}"
    );
}

/// FLUSHALL on the server at `url`, through a connection opened beforehand.
fn flushall(url: &str) -> impl FnOnce() {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_connection().unwrap();
    move || {
        let ok: String = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        assert_eq!(ok, "OK");
    }
}

#[test]
fn redis_flushall_after_a_commit_halts_the_workers_and_reseed_resumes_them() {
    let server = support::redis_server::RedisServer::start();
    let ns = support::redis_server::unique_namespace("flush");
    let forget = flushall(&server.url);
    a_fleet_halts_and_resumes_after_the_store_forgets(
        (&server.url, &ns),
        3,
        6,
        When::Committed,
        forget,
    );
}

/// The store forgets between a record's last chunk and its job's release.
#[test]
fn redis_flushall_as_a_record_is_written_halts_the_workers_and_reseed_resumes_them() {
    let server = support::redis_server::RedisServer::start();
    let ns = support::redis_server::unique_namespace("flush_written");
    let forget = flushall(&server.url);
    a_fleet_halts_and_resumes_after_the_store_forgets(
        (&server.url, &ns),
        3,
        6,
        When::Written,
        forget,
    );
}

#[test]
fn a_redis_restart_without_persistence_mid_run_halts_the_workers_and_reseed_resumes_them() {
    let mut server = support::redis_server::RedisServer::start();
    let ns = support::redis_server::unique_namespace("restart");
    let url = server.url.clone();
    a_fleet_halts_and_resumes_after_the_store_forgets((&url, &ns), 3, 6, When::Committed, || {
        server.restart()
    });
}

#[test]
fn a_postgres_table_truncated_mid_run_halts_the_workers_and_reseed_resumes_them() {
    let server = support::pg_server::shared();
    let ns = support::pg_server::unique_namespace("truncate");
    let mut admin = postgres::Client::connect(&server.url, postgres::NoTls).unwrap();
    let truncate = format!("TRUNCATE \"{ns}\"");
    a_fleet_halts_and_resumes_after_the_store_forgets(
        (&server.url, &ns),
        3,
        4,
        When::Committed,
        || admin.batch_execute(&truncate).unwrap(),
    );
}

/// A worker fleet of one process and two jobs of `client-1` on `output`, run to its
/// end; its output and sidecar bytes.
fn a_finished_fleet(url: &str, ns: &str, output: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut cmd = worker((url, ns), "client-1", output, 2, 1, STEADY);
    cmd.args(["--crash-prob", "0"]);
    let first = Running::start(cmd).finish();
    assert_eq!(
        (first.code, first.finished()),
        (Some(0), 2),
        "{}{}",
        first.stdout,
        first.stderr
    );
    assert_verifies(output, 2);
    (
        contents(output).unwrap(),
        contents(&fence_file(output)).unwrap(),
    )
}

#[test]
fn a_plain_run_in_a_workers_namespace_is_refused_and_leaves_their_output_alone() {
    let server = support::redis_server::shared();
    let ns = support::redis_server::unique_namespace("plain");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    let (a_bytes, a_fence) = a_finished_fleet(&server.url, &ns, &a);

    // `--clock virtual` is a usage error on Redis ("works only with the memory
    // store"), so the real clock at the workers' speed.
    let mut cmd = joblock();
    cmd.args(["--headless", "--store", &server.url, "--namespace", &ns])
        .args(["--jobs", "1", "--output"])
        .arg(&b)
        .args(FAST);
    let plain = run(cmd);
    assert_eq!(plain.code, Some(3), "{}{}", plain.stdout, plain.stderr);
    let err = plain.stderr.trim();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("lock:worker:client-1") && err.contains(&a.display().to_string()),
        "the refusal names the key and the workers' output: {err}"
    );
    assert_eq!(contents(&a).unwrap(), a_bytes, "a.txt is unchanged");
    assert_eq!(contents(&fence_file(&a)).unwrap(), a_fence);
    assert!(!b.exists(), "b.txt was not created");
}

/// A second fleet on the same namespace and client, with another output: its jobs
/// are refused; returns what it printed, after checking the first output is intact.
fn a_second_fleet_on_another_output(tag: &str) -> Ended {
    let server = support::redis_server::shared();
    let ns = support::redis_server::unique_namespace(tag);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    let (a_bytes, a_fence) = a_finished_fleet(&server.url, &ns, &a);

    let mut cmd = worker((&server.url, &ns), "client-1", &b, 2, 2, STEADY);
    cmd.args(["--crash-prob", "0"]);
    let second = Running::start(cmd).finish();
    assert_eq!(contents(&a).unwrap(), a_bytes, "a.txt is unchanged");
    assert_eq!(contents(&fence_file(&a)).unwrap(), a_fence);
    assert_eq!(file_len(&b), 0, "nothing was written to b.txt");
    second
}

#[test]
fn a_second_fleet_with_another_output_is_refused_and_leaves_the_first_alone() {
    let second = a_second_fleet_on_another_output("fleets");
    let refusals = second
        .stdout
        .lines()
        .filter(|l| l.contains("lock:worker:client-1 commits to the output"))
        .count();
    // The first refusal halts the run: the other job is refused too or stopped.
    assert!(
        second.finished() == 0 && refusals >= 1,
        "no job may run on another output's lock:\n{}{}",
        second.stdout,
        second.stderr
    );
}

/// A refused fleet must not look like a success: the refusal halts its run, exit 3.
/// (It once exited 0, its jobs ending CRASHED with a plain lock error.)
#[test]
fn a_second_fleet_with_another_output_exits_non_zero() {
    let second = a_second_fleet_on_another_output("fleets_exit");
    assert_ne!(
        second.code,
        Some(0),
        "the refused fleet exits non-zero:\n{}{}",
        second.stdout,
        second.stderr
    );
}

/// Reads a worker's JSON events until the first `chunk_written` (a job holds the
/// lock), calls `holding`, then reads the rest; returns the `finished` events seen.
fn follow(stdout: ChildStdout, holding: impl FnOnce()) -> usize {
    let mut holding = Some(holding);
    let mut finished = 0;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match v["type"].as_str() {
            Some("chunk_written") => {
                if let Some(f) = holding.take() {
                    f();
                }
            }
            Some("finished") => finished += 1,
            _ => {}
        }
    }
    assert!(holding.is_none(), "no job wrote a chunk");
    finished
}

/// A store that went back in time (a failover to a lagging replica) to a moment a
/// job held the lock: the document names a holder and is behind the output.
/// Reseed refuses it, naming the holder, until --force.
#[test]
fn reseed_refuses_a_held_lock_naming_its_holder_unless_forced() {
    let server = support::redis_server::shared();
    let ns = support::redis_server::unique_namespace("held");
    let store = RedisStore::connect(&server.url, &ns).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.txt");

    let mut cmd = worker((&server.url, &ns), CLIENT, &output, 2, 5, STEADY);
    cmd.args(["--crash-prob", "0", "--json"]);
    let (running, stdout) = Running::start_reading_stdout(cmd);
    let mut stale = None;
    let finished = follow(stdout, || {
        stale = store.find_one(&json!({ "_id": KEY })).unwrap();
    });
    let ended = running.finish();
    assert_eq!((ended.code, finished), (Some(0), 2), "{}", ended.stderr);
    let stale = stale.expect("the lock document while a job held it");
    let owner = stale["owner"].as_str().expect("a holder").to_string();
    let fence = stale["fence"].as_u64().unwrap();

    // Back in time: the store holds the document as it was then.
    assert_eq!(store.delete_one(&json!({ "_id": KEY })).unwrap(), 1);
    store.insert_one(stale.clone()).unwrap();
    let (bytes, record) = (
        contents(&output).unwrap(),
        contents(&fence_file(&output)).unwrap(),
    );

    let refused = reseed(&server.url, &ns, &output, false);
    assert_eq!(
        refused.code,
        Some(3),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    let err = refused.stderr.trim();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("{KEY} is held by {owner} (fence {fence})"))
            && err.contains("--force"),
        "the refusal names the holder: {err}"
    );
    assert_eq!(
        store.find_one(&json!({ "_id": KEY })).unwrap(),
        Some(stale),
        "the refused reseed wrote nothing"
    );
    assert_eq!(contents(&output).unwrap(), bytes);
    assert_eq!(contents(&fence_file(&output)).unwrap(), record);

    let forced = reseed(&server.url, &ns, &output, true);
    assert_eq!(forced.code, Some(0), "{}{}", forced.stdout, forced.stderr);
    assert!(
        forced.stdout.contains(&format!("raised {KEY}")),
        "{}",
        forced.stdout
    );
    let doc = store.find_one(&json!({ "_id": KEY })).unwrap().unwrap();
    assert_eq!(doc["owner"], Value::Null, "the dead holder is gone: {doc}");

    one_more_job(&server.url, &ns, &output);
    assert_verifies(&output, 3);
}
