//! A worker that reuses a namespace after its output was deleted, truncated or
//! replaced behind the lock's back, through the real binary on SQLite stores in
//! temporary directories: the run halts with exit 3 and one line saying what is
//! wrong and how to start over, the lock is left free (never held for a lease),
//! the other jobs stop without taking it, acquisitions are counted right in the
//! `--json` summary, and `watch --once` flags the output. The main command, which
//! starts its output anew, rebinds the lock instead.

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use joblock::lock::{LockDoc, read_doc};
use joblock::store::{StoreUrl, open_store_read_only};
use serde_json::Value;
use support::bin::{joblock, show, text};

const NS: &str = "n1";
const KEY: &str = "lock:worker:client-1";
const RECORD: &str = "Maestro is the best......\n\n";

/// One namespace's store and output in a temporary directory.
struct Place {
    dir: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        Place {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("locks.db")
    }

    fn store(&self) -> String {
        format!("sqlite://{}", self.db().display())
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("o.txt")
    }

    fn fence_file(&self) -> PathBuf {
        self.dir.path().join("o.txt.fence")
    }

    /// The worker's arguments: fast records (0.5 s pauses at speed 2 make a record
    /// 1.5 s of real time), a 2 s lease, no crash draws, events as JSON lines.
    fn worker_args(&self, jobs: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "worker",
            "--store",
            &self.store(),
            "--namespace",
            NS,
            "--output",
            &self.output().display().to_string(),
            "--jobs",
            jobs,
            "--crash-prob",
            "0",
            "--speed",
            "2",
            "--chunk-pause",
            "0.5",
            "--lease",
            "2",
            "--db-latency",
            "0",
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn worker(&self, jobs: &str, extra: &[&str]) -> Output {
        let args = self.worker_args(jobs, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        joblock(self.dir.path(), &args)
    }

    /// A worker run whose records all finish: `jobs` records committed.
    fn committed(&self, jobs: usize) {
        let out = self.worker(&jobs.to_string(), &[]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        assert_eq!(
            fs::read_to_string(self.output()).unwrap(),
            RECORD.repeat(jobs)
        );
    }

    /// The lock document, read through the library on a read-only store.
    fn doc(&self) -> LockDoc {
        let store = open_store_read_only(&StoreUrl::Sqlite(self.db()), NS).unwrap();
        read_doc(store.as_ref(), KEY)
            .unwrap()
            .expect("the lock document")
    }

    fn watch(&self, json: bool) -> Output {
        let store = self.store();
        let mut args = vec!["watch", "--once", "--store", &store, "--namespace", NS];
        if json {
            args.push("--json");
        }
        joblock(self.dir.path(), &args)
    }
}

/// The events a `--json` run printed.
fn events(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn summary(events: &[Value]) -> Value {
    of_type(events, "run_finished")
        .first()
        .map(|e| e["summary"].clone())
        .expect("a run_finished event")
}

/// What every out-of-step run shows: exit 3, one `error: halted:` line naming the
/// output, the bytes and the key in its namespace and the way back, the lock left
/// free, no job that finished, each acquisition counted by how it came, the halt
/// before the lock was let go, and the jobs that never won it stopped without
/// taking it. `won` says whether a job won the lock before finding out (not when
/// the document itself refuses the output). Returns the line and the events.
fn halted_out_of_step(
    p: &Place,
    out: &Output,
    won: bool,
    bytes: &str,
    why: &str,
) -> (String, Vec<Value>) {
    assert_eq!(out.status.code(), Some(3), "{}", show(out));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr\n{}", show(out));
    let line = lines[0].to_string();
    let path = p.output().display().to_string();
    for part in [
        "error: halted: ",
        &format!("{path} is out of step with {KEY} in namespace \"{NS}\""),
        bytes,
        why,
        "Nothing was cut",
        &format!("move {path} and {path}.fence aside"),
        "use a new --namespace",
    ] {
        assert!(line.contains(part), "{part:?} not in\n{line}");
    }
    let events = events(out);
    let doc = p.doc();
    assert_eq!(doc.owner, None, "the lock is free afterwards: {doc:?}");
    let s = summary(&events);
    assert_eq!(s["finished"], 0, "{s}");
    assert_eq!(s["jobs"], s["crashed"], "every job ends crashed: {s}");
    let refused = of_type(&events, "not_fenced_in");
    assert_eq!(refused.is_empty(), !won, "{}", show(out));
    for how in ["handoff", "takeover"] {
        let n = refused.iter().filter(|e| e["how"] == how).count() as u64;
        assert_eq!(s[format!("{how}s")], n, "{how}s: {s}");
    }
    let at = |kind: &str| events.iter().position(|e| e["type"] == kind);
    if won {
        assert!(at("halted") < at("released"), "halted first\n{}", show(out));
    }
    // Each job that won the lock let it go at once: after the halt, its release.
    for r in &refused {
        let next: Vec<&str> = events
            .iter()
            .skip_while(|e| !std::ptr::eq(*e, *r))
            .skip(1)
            .filter(|e| e["job"] == r["job"] && e["type"] != "halted")
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(next[..2], ["released", "crashed"], "job {}", r["job"]);
    }
    let winners: Vec<&Value> = refused.iter().map(|e| &e["job"]).collect();
    for c in of_type(&events, "crashed") {
        if !winners.contains(&&c["job"]) {
            let reason = c["reason"].as_str().unwrap_or_default();
            assert!(
                reason.contains("is out of step with"),
                "a job that never held it says why it stopped: {reason}"
            );
        }
    }
    (line, events)
}

/// `watch --once` flags the key in text and JSON.
fn watch_flags(p: &Place, why: &str) {
    let out = p.watch(false);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    let note = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{KEY}: OUTPUT OUT OF STEP: ")))
        .unwrap_or_else(|| panic!("no out-of-step line:\n{stdout}"));
    assert!(note.contains(why), "{why:?} not in {note}");
    let out = p.watch(true);
    let views: Value = serde_json::from_slice(&out.stdout).unwrap();
    let output = &views[0]["output"];
    assert_eq!(output["state"], "out_of_step", "{views}");
    assert_eq!(output["path"], p.output().display().to_string(), "{views}");
}

#[test]
fn a_deleted_output_halts_the_worker_with_one_line_and_leaves_the_lock_free() {
    let p = Place::new();
    p.committed(2);
    let fence = p.doc().fence;
    fs::remove_file(p.output()).unwrap();
    let out = p.worker("3", &[]);
    let bytes = "no file on disk, 54 bytes committed";
    halted_out_of_step(&p, &out, true, bytes, "it was deleted");
    assert!(
        !p.output().exists(),
        "the run made no empty file in its place"
    );
    let doc = p.doc();
    assert_eq!(doc.committed, 54, "{doc:?}");
    assert!(doc.fence <= fence + 3, "{doc:?}");
    watch_flags(&p, "it was deleted");
}

#[test]
fn a_truncated_output_is_left_as_it_is() {
    let p = Place::new();
    p.committed(2);
    let kept = &RECORD.repeat(2)[..30];
    fs::write(p.output(), kept).unwrap();
    let out = p.worker("3", &[]);
    halted_out_of_step(
        &p,
        &out,
        true,
        "30 bytes on disk, 54 bytes committed",
        "it was truncated, or replaced by a shorter file",
    );
    assert_eq!(fs::read_to_string(p.output()).unwrap(), kept);
    watch_flags(&p, "30 bytes on disk, 54 bytes committed");
}

#[test]
fn a_longer_file_put_in_its_place_is_not_cut_to_the_committed_length() {
    let p = Place::new();
    p.committed(2);
    let other = "somebody else's file\n".repeat(10);
    fs::write(p.output(), &other).unwrap();
    let out = p.worker("3", &[]);
    halted_out_of_step(
        &p,
        &out,
        true,
        "210 bytes on disk, 54 bytes committed",
        "the committed bytes before byte 54 are not the ones written",
    );
    assert_eq!(fs::read_to_string(p.output()).unwrap(), other);
    watch_flags(&p, "replaced or rewritten");
}

#[test]
fn an_output_replaced_with_its_fence_file_is_out_of_step_not_another_fleet() {
    let p = Place::new();
    p.committed(2);
    fs::remove_file(p.fence_file()).unwrap();
    fs::write(p.output(), "new\n").unwrap();
    let out = p.worker("3", &[]);
    // The document refuses the new output before anybody takes the lock.
    let (line, _) = halted_out_of_step(
        &p,
        &out,
        false,
        "4 bytes on disk, 54 bytes committed",
        "belongs to another output",
    );
    assert!(!line.contains("another run or fleet"), "{line}");
    assert_eq!(fs::read_to_string(p.output()).unwrap(), "new\n");
    watch_flags(&p, "belongs to another output");
}

/// Starts a worker and SIGKILLs it once its job has written the first chunk of a
/// record: the lock stays held by a dead owner, as after a crash of the machine.
fn kill_mid_record(p: &Place) {
    let args = p.worker_args("1", &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(&args)
        .current_dir(p.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.contains("\"type\":\"chunk_written\"") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let doc = p.doc();
    assert!(
        doc.owner.is_some(),
        "the dead worker holds the lock: {doc:?}"
    );
}

#[test]
fn a_takeover_from_a_dead_holder_that_the_output_refuses_counts_as_a_takeover() {
    let p = Place::new();
    p.committed(1);
    kill_mid_record(&p);
    fs::remove_file(p.output()).unwrap();
    let out = p.worker("2", &[]);
    let bytes = "no file on disk, 27 bytes committed";
    let (_, events) = halted_out_of_step(&p, &out, true, bytes, "it was deleted");
    let s = summary(&events);
    assert_eq!(s["takeovers"], 1, "{s}");
    assert!(!of_type(&events, "lease_expired").is_empty(), "{s}");
    watch_flags(&p, "it was deleted");
}

#[test]
fn the_main_command_reusing_a_namespace_starts_its_output_over() {
    let p = Place::new();
    p.committed(2);
    fs::remove_file(p.output()).unwrap();
    let output = p.output().display().to_string();
    let store = p.store();
    let args = [
        "--headless",
        "--store",
        &store,
        "--namespace",
        NS,
        "--output",
        &output,
        "--jobs",
        "1",
        "--crash-prob",
        "0",
        "--speed",
        "2",
        "--chunk-pause",
        "0.5",
        "--db-latency",
        "0",
    ];
    let out = joblock(p.dir.path(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(fs::read_to_string(p.output()).unwrap(), RECORD);
    let doc = p.doc();
    assert_eq!(
        (doc.owner, doc.committed),
        (None, 27),
        "rebound to the new output"
    );
    let watch = p.watch(true);
    let views: Value = serde_json::from_slice(&watch.stdout).unwrap();
    assert_eq!(views[0]["output"]["state"], "in_step", "{views}");
    let text = text(&p.watch(false).stdout);
    assert!(!text.contains("OUT OF STEP"), "{text}");
}

/// The job body on its own (no engine, no binary): the order of halt and release,
/// and the next job of the process that never takes the lock.
mod job_body {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use joblock::clock::Clock;
    use joblock::events::{Event, JobId};
    use joblock::lock::{Lock, LockConfig, OutputBinding, lock_key};
    use joblock::output::{FencedOutput, recorded_path};
    use joblock::store::{MemoryConfig, MemoryStore};
    use joblock::worker::{Context, End, Job, Mailbox, Sink, run};

    /// Keeps every event and bookkeeping call, in order, in one list.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Log {
        fn push(&self, s: String) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        }
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
        }
    }

    impl Sink for Log {
        fn report(&self, _at: Duration, event: Event) {
            let line = match &event {
                Event::Halted { reason, .. } => format!("halted: {reason}"),
                Event::Crashed { reason, .. } => format!("crashed: {reason}"),
                Event::NotFencedIn { how, .. } => format!("not_fenced_in: {how:?}"),
                e => serde_json::to_value(e).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            };
            self.push(line);
        }
        fn halt(&self, _reason: &str) -> bool {
            self.push("halt".into());
            true
        }
        fn namespace(&self) -> Option<String> {
            Some("etl".into())
        }
    }

    fn job(id: JobId) -> Job {
        Job {
            id,
            client: "c".into(),
            client_index: 0,
            hash: format!("w-{id}"),
            will_crash: false,
        }
    }

    fn context(dir: &std::path::Path, log: Arc<Log>) -> Context {
        let clock = Clock::real(1.0);
        let store = Arc::new(MemoryStore::new(clock.clone(), MemoryConfig::default(), 1));
        let output = Arc::new(FencedOutput::create(&dir.join("o.txt")).unwrap());
        let binding = OutputBinding {
            id: output.id().to_string(),
            path: recorded_path(output.path()),
        };
        let config = LockConfig {
            lease: Duration::from_secs(3),
            retry: Duration::from_millis(10),
            give_up: Duration::from_secs(60),
        };
        Context {
            lock: Lock::new(store, clock.clone(), lock_key("worker", "c"), config)
                .with_output(Some(binding)),
            clock,
            output,
            sink: log,
            mailbox: Arc::new(Mailbox::default()),
            text: b"hello world\n".to_vec(),
            chunk: 12,
            chunk_pause: Duration::ZERO,
            announce: false,
        }
    }

    #[test]
    fn a_truncated_output_halts_before_the_lock_is_let_go_and_stops_the_next_job() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Log::default());
        let cx = context(dir.path(), log.clone());
        assert_eq!(run(&job(1), &cx), End::Finished);
        log.take();
        std::fs::write(cx.output.path(), b"hel").unwrap();
        assert_eq!(run(&job(2), &cx), End::Crashed);
        let seen = log.take();
        assert_eq!(seen[0], "not_fenced_in: Handoff");
        // The halt (stop orders for the waiters) comes before the release.
        assert_eq!(&seen[1..4], ["halt", seen[2].as_str(), "released"]);
        assert!(
            seen[2].starts_with("halted: ")
                && seen[2].contains("is out of step with lock:worker:c in namespace \"etl\"")
                && seen[2].contains("3 bytes on disk, 12 bytes committed"),
            "{seen:?}"
        );
        assert!(seen[4].starts_with("crashed: output refused: "), "{seen:?}");
        let doc = cx.lock.read().unwrap().unwrap();
        assert_eq!((doc.owner, doc.fence, doc.committed), (None, 2, 12));
        // The next job of this process does not take the lock at all.
        assert_eq!(run(&job(3), &cx), End::Crashed);
        let seen = log.take();
        assert_eq!(seen[0], "halt");
        assert!(seen[2].starts_with("crashed: not started: "), "{seen:?}");
        assert_eq!(cx.lock.read().unwrap().map(|d| d.fence), Some(2));
        assert_eq!(std::fs::read(cx.output.path()).unwrap(), b"hel");
    }
}
