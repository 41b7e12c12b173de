//! `joblock watch --once` on the real binary against holders that die: a
//! `joblock worker` (whose lease is in scenario time) and a `joblock run` wrapper,
//! each holding a lock on an SQLite store in a temporary directory, killed with
//! SIGKILL. `--once` must call them `expired` after their own lease in real time,
//! not after `--lease` or after the scenario lease, and say who they were.
//!
//! Nothing sleeps to synchronise: the tests poll the store until the holder is in.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use joblock::lock::{LockDoc, read_doc, survey};
use joblock::store::{StoreUrl, open_store_read_only};
use serde_json::Value;
use support::run::poll;

/// A child process killed (SIGKILL) and reaped when dropped, whatever the test did.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Killed {
    fn kill(&mut self) {
        self.0.kill().expect("SIGKILL the holder");
        self.0.wait().expect("reap the holder");
    }
}

fn joblock(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_joblock"));
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("JOBLOCK_STORE")
        .env("XDG_STATE_HOME", dir);
    cmd
}

/// A temporary directory and the URL of an SQLite store in it.
fn sqlite() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("locks.db").display());
    (dir, url)
}

/// Starts `joblock SUBCOMMAND --store URL ARGS...` (`args`: the subcommand and its
/// arguments, split at spaces), its output dropped.
fn start(dir: &Path, url: &str, args: &str) -> Killed {
    let mut words = args.split_whitespace();
    let sub = words.next().unwrap_or_default();
    let child = joblock(dir)
        .args([sub, "--store", url])
        .args(words)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start joblock {args}: {e}"));
    Killed(child)
}

/// The lock document of `key` once its holder has described itself.
fn await_holder(url: &str, namespace: &str, key: &str) -> LockDoc {
    let url = StoreUrl::parse(url).expect("a store URL");
    poll("the holder to describe itself in its lock document", || {
        let store = open_store_read_only(&url, namespace).ok()?;
        let doc = read_doc(store.as_ref(), key).ok()??;
        doc.holder.is_some().then_some(doc)
    })
}

/// Waits until the store holds a history line for some key.
fn await_history(url: &str, namespace: &str) {
    let url = StoreUrl::parse(url).expect("a store URL");
    poll("the holder's history line to be stored", || {
        let store = open_store_read_only(&url, namespace).ok()?;
        let found = survey(store.as_ref()).ok()?;
        (!found.history.is_empty()).then_some(())
    })
}

/// `joblock watch --once --json` and how long it took; `--lease 600` would only
/// judge a document that records no lease of its own.
fn watch_once(dir: &Path, url: &str, namespace: &str) -> (Value, Duration) {
    let started = Instant::now();
    let out: Output = joblock(dir)
        .args(["watch", "--store", url, "--namespace", namespace])
        .args(["--once", "--json", "--lease", "600"])
        .output()
        .expect("run joblock watch");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let views: Value = serde_json::from_slice(&out.stdout).expect("watch prints JSON");
    let view = views
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_else(|| panic!("no lock in {views}"));
    (view, took)
}

fn host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

#[test]
fn a_killed_worker_expires_after_its_real_lease_and_says_which_job_it_was() {
    let (dir, url) = sqlite();
    // A 20 s scenario lease at speed 10 is 2 s of real time; one chunk, then a
    // pause far longer than the test, so the job holds until it is killed.
    let worker = "worker --namespace w --client acme --jobs 1 --crash-prob 0 --speed 10 \
                  --lease 20 --db-latency 0 --chunk-pause 10000 --output out.txt";
    let mut worker = start(dir.path(), &url, worker);
    let doc = await_holder(&url, "w", "lock:worker:acme");
    assert_eq!(
        (doc.lease_ms, doc.lease_real_ms),
        (Some(20_000), Some(2000))
    );

    // Alive: its heartbeat moves within a third of its lease.
    let (live, _) = watch_once(dir.path(), &url, "w");
    assert_eq!(live["state"], "held", "{live}");

    let pid = worker.0.id();
    worker.kill();
    let (view, took) = watch_once(dir.path(), &url, "w");
    assert_eq!(view["state"], "expired", "{view}");
    assert_eq!(view["lease_real_ms"], 2000, "{view}");
    assert!(view["unchanged_for"].as_f64() >= Some(2.0), "{view}");
    let holder = &view["holder"];
    assert_eq!(
        (
            holder["job"].as_u64(),
            holder["pid"].as_u64(),
            holder["host"].as_str()
        ),
        (Some(1), Some(u64::from(pid)), Some(host().as_str())),
        "{view}"
    );
    assert_eq!(holder["owner"], view["owner"], "{view}");
    // Judged by the 2 s real lease: a watch that took the 20 s scenario lease (or
    // --lease 600) would still be looking.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_killed_run_wrapper_expires_and_its_stored_history_shows() {
    let (dir, url) = sqlite();
    let run = "run --namespace r --key etl:acme --lease 1 -- sleep 600";
    let mut wrapper = start(dir.path(), &url, run);
    await_holder(&url, "r", "lock:etl:acme");
    // The history line is written after the lock is won (best effort, its own
    // write): killing the wrapper before it lands would leave no history to show.
    await_history(&url, "r");
    let pid = wrapper.0.id();
    wrapper.kill();

    let (view, _) = watch_once(dir.path(), &url, "r");
    assert_eq!(
        (view["state"].as_str(), view["lease_real_ms"].as_u64()),
        (Some("expired"), Some(1000)),
        "{view}"
    );
    let holder = &view["holder"];
    assert_eq!(holder["pid"].as_u64(), Some(u64::from(pid)), "{view}");
    assert_eq!(
        holder["command"],
        serde_json::json!(["sleep", "600"]),
        "{view}"
    );
    assert!(holder.get("job").is_none(), "{view}");
    let history = view["history"].as_array().cloned().unwrap_or_default();
    let first = history
        .first()
        .unwrap_or_else(|| panic!("no history in {view}"));
    assert_eq!(
        (
            first["fence"].as_u64(),
            first["how"].as_str(),
            first["source"].as_str()
        ),
        (Some(1), Some("first"), Some("stored")),
        "{view}"
    );
}
