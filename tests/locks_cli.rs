//! `joblock locks` (list, show, release) and `joblock watch` on locks that
//! `joblock run` wrappers hold: the real binary against a throwaway Redis server,
//! with the documents set up through the library (a `Lock` with a holder,
//! announcements, history entries, `revoke`).
//!
//! Nothing here waits for anything but the binary's exit: a lease that nobody
//! renews stays exactly as it was written (`watch` alone needs live holders, whose
//! heartbeat moves: [`Renewing`] keeps some).

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use joblock::clock::Clock;
use joblock::lock::history::{self, Entry};
use joblock::lock::revoke::revoke;
use joblock::lock::{Holder, Lease, Lock, LockConfig, Presence, Quiet, raw_document};
use joblock::store::{RedisStore, Store};
use serde_json::{Value, json};
use support::locks::acquired;
use support::redis_server::{shared, unique_namespace};

/// A fresh namespace on the shared server, and a store handle on it.
struct Ns {
    url: String,
    ns: String,
    store: Arc<dyn Store>,
}

fn ns() -> Ns {
    let server = shared();
    let ns = unique_namespace("locks");
    let store = match RedisStore::connect(&server.url, &ns) {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("cannot open a redis store on {}: {e}", server.url),
    };
    Ns {
        url: server.url.clone(),
        ns,
        store,
    }
}

/// One run of the binary: its arguments (for messages) and what it did.
struct Ran {
    args: Vec<String>,
    out: Output,
}

/// Runs `joblock ARGS` with `JOBLOCK_STORE` set to `env_store` (or unset).
fn joblock_env(args: &[&str], env_store: Option<&str>) -> Ran {
    joblock_in_state(args, env_store, None)
}

/// [`joblock_env`] with the per-user state directory (the default SQLite store's
/// home) at `state`, or with no state directory at all (`XDG_STATE_HOME` and
/// `HOME` unset), so no test ever touches the real user's store.
fn joblock_in_state(args: &[&str], env_store: Option<&str>, state: Option<&Path>) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_joblock"));
    cmd.args(args).stdin(Stdio::null());
    match env_store {
        Some(s) => cmd.env("JOBLOCK_STORE", s),
        None => cmd.env_remove("JOBLOCK_STORE"),
    };
    match state {
        Some(dir) => cmd.env("XDG_STATE_HOME", dir),
        None => cmd.env_remove("XDG_STATE_HOME").env_remove("HOME"),
    };
    Ran {
        args: args.iter().map(|s| s.to_string()).collect(),
        out: cmd.output().expect("run the joblock binary"),
    }
}

impl Ran {
    /// The arguments, both streams and the exit code, for assertion messages.
    fn show(&self) -> String {
        format!(
            "joblock {}\nexit: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            self.out.status.code(),
            self.stdout(),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    /// Asserts the exit code and that stderr is at most one line, with no panic.
    fn expect(&self, code: i32) -> &Ran {
        assert_eq!(self.out.status.code(), Some(code), "{}", self.show());
        let err = String::from_utf8_lossy(&self.out.stderr);
        assert!(!err.contains("panicked"), "{}", self.show());
        assert!(err.lines().count() <= 1, "{}", self.show());
        self
    }

    /// The one stderr line.
    fn error(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).trim().to_string()
    }

    /// Stdout as JSON.
    fn json(&self) -> Value {
        match serde_json::from_slice(&self.out.stdout) {
            Ok(v) => v,
            Err(e) => panic!("not JSON: {e}\n{}", self.show()),
        }
    }
}

impl Ns {
    /// `joblock SUB... ARGS --store URL --namespace NS`.
    fn run(&self, args: &[&str]) -> Ran {
        let store = [
            "--store",
            self.url.as_str(),
            "--namespace",
            self.ns.as_str(),
        ];
        joblock_env(&[args, &store[..]].concat(), None)
    }

    /// Acquires `lock:<key>` as `owner` with a 30 s lease, describing `holder` if
    /// given (the key is free: nothing waits). Nobody renews the lease.
    fn hold(&self, key: &str, owner: &str, holder: Option<Holder>) -> Arc<Lease> {
        let config = LockConfig {
            lease: Duration::from_secs(30),
            ..LockConfig::default()
        };
        let lock = Lock::new(
            self.store.clone(),
            Clock::real(1.0),
            format!("lock:{key}"),
            config,
        )
        .with_holder(holder);
        acquired(lock.acquire(owner, &mut Quiet, &|| false)).0
    }

    fn doc(&self, key: &str) -> Option<Value> {
        raw_document(self.store.as_ref(), &format!("lock:{key}")).expect("read the lock document")
    }
}

/// Renews leases every 100 ms until dropped, as their holders' heartbeats would.
struct Renewing {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Renewing {
    fn start(leases: Vec<Arc<Lease>>) -> Renewing {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                for l in &leases {
                    let _ = l.renew();
                }
                // Pacing a heartbeat, not synchronisation.
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Renewing {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Renewing {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn holder(host: &str, pid: u32, command: &[&str]) -> Holder {
    Holder {
        owner: String::new(),
        host: host.into(),
        pid,
        command: command.iter().map(|s| s.to_string()).collect(),
        job: None,
        started_at_ms: 1_700_000_000_000,
    }
}

fn entry(key: &str, fence: u64, via: &str, ended: Option<&str>) -> Entry {
    Entry {
        key: format!("lock:{key}"),
        fence,
        owner: format!("run-{fence}"),
        holder: Some(Holder {
            owner: format!("run-{fence}"),
            ..holder("box", 100 + fence as u32, &["sleep", "60"])
        }),
        via: via.into(),
        from_fence: (via == "takeover").then(|| fence - 1),
        acquired_at_ms: 1_700_000_000_000 + fence * 1000,
        ended: ended.map(str::to_string),
        ended_at_ms: ended.map(|_| 1_700_000_000_500 + fence * 1000),
        exit: ended.map(|_| "exit 0".to_string()),
    }
}

#[test]
fn list_shows_the_holders_host_pid_command_and_the_waiters() {
    let n = ns();
    let _lease = n.hold(
        "worker:acme",
        "run-1",
        Some(holder("box-7", 4242, &["python", "etl.py", "a b"])),
    );
    let mut w1 = Presence::new(n.store.clone(), "lock:worker:acme", "waiter-1");
    let mut w2 = Presence::new(n.store.clone(), "lock:worker:acme", "waiter-2");
    w1.touch(Duration::ZERO, Duration::ZERO);
    w2.touch(Duration::ZERO, Duration::ZERO);
    n.hold("worker:free", "demo-1", None).release(0).unwrap();

    let ran = n.run(&["locks", "list"]);
    ran.expect(0);
    let stdout = ran.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", ran.show());
    assert!(lines[0].starts_with("key") && lines[0].ends_with("command"));
    let acme = lines[1];
    assert!(acme.starts_with("worker:acme "), "{}", ran.show());
    for want in [
        " held ",
        " run-1 ",
        " box-7 ",
        " 4242 ",
        " <=30.0s ",
        " 2 (waiter-1, waiter-2) ",
        " python etl.py 'a b'",
    ] {
        assert!(acme.contains(want), "{want:?} missing\n{}", ran.show());
    }
    assert!(lines[2].starts_with("worker:free "), "{}", ran.show());
    // Aligned: every row's state starts under the header's.
    let col = lines[0].find("state").unwrap_or(0);
    for (line, state) in [(lines[1], "held"), (lines[2], "free")] {
        assert_eq!(line.get(col..col + 4), Some(state), "{}", ran.show());
    }
}

#[test]
fn list_json_has_stable_fields_for_scripts() {
    let n = ns();
    let lease = n.hold(
        "worker:acme",
        "run-1",
        Some(holder("box-7", 4242, &["python", "etl.py"])),
    );
    let mut w = Presence::new(n.store.clone(), "lock:worker:acme", "waiter-1");
    w.touch(Duration::ZERO, Duration::ZERO);

    let rows = n.run(&["locks", "list", "--json"]).expect(0).json();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    let row = &rows[0];
    assert_eq!(row["key"], "worker:acme");
    assert_eq!(row["state"], "held");
    assert_eq!(row["owner"], "run-1");
    assert_eq!(row["fence"], lease.fence());
    assert_eq!(row["heartbeat"], lease.heartbeat());
    assert_eq!(row["holder"]["host"], "box-7");
    assert_eq!(row["holder"]["pid"], 4242);
    assert_eq!(row["holder"]["command"], json!(["python", "etl.py"]));
    assert_eq!(row["holder"]["started_at_ms"], 1_700_000_000_000u64);
    assert_eq!(row["lease_ms"], 30_000);
    // One look: at most the lease, and nothing timed.
    assert_eq!(row["lease_left"]["at_most_ms"], 30_000);
    for unknown in ["at_least_ms", "sampled_ms", "heartbeat_moved"] {
        assert!(row["lease_left"][unknown].is_null(), "{row}");
    }
    assert_eq!(row["waiters"], json!(["waiter-1"]));
}

#[test]
fn list_with_a_sample_says_a_heartbeat_that_stood_still_leaves_less_than_the_lease() {
    let n = ns();
    let _lease = n.hold("worker:acme", "demo-1", None);
    let ran = n.run(&["locks", "list", "--json", "--sample", "0.2"]);
    let left = ran.expect(0).json()[0]["lease_left"].clone();
    // Nobody renews: the pair stood still for the whole sample.
    assert_eq!(left["heartbeat_moved"], false, "{left}");
    assert!(left["sampled_ms"].as_u64() >= Some(200), "{left}");
    assert!(left["at_most_ms"].as_u64() <= Some(29_800), "{left}");
    assert!(left["at_least_ms"].is_null(), "{left}");
}

#[test]
fn an_empty_namespace_lists_no_locks() {
    let n = ns();
    assert_eq!(n.run(&["locks", "list"]).expect(0).stdout(), "no locks\n");
    assert_eq!(
        n.run(&["locks", "list", "--json"]).expect(0).json(),
        json!([])
    );
}

#[test]
fn show_prints_the_document_and_its_history_in_fence_order() {
    let n = ns();
    let box103 = || Some(holder("box", 103, &["sleep", "60"]));
    for fence in 1..=2 {
        let owner = format!("run-{fence}");
        n.hold("worker:acme", &owner, box103()).release(0).unwrap();
    }
    let lease = n.hold("worker:acme", "run-3", box103());
    assert_eq!(lease.fence(), 3);
    // Written out of order: the history is read back by fence.
    for (fence, via, ended) in [
        (3, "takeover", None),
        (1, "created", Some("released")),
        (2, "free", Some("lost")),
    ] {
        let e = entry("worker:acme", fence, via, ended);
        history::record_acquired(n.store.as_ref(), &e).unwrap();
    }

    let ran = n.run(&["locks", "show", "worker:acme"]);
    let stdout = ran.expect(0).stdout();
    let rows: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("fence"))
        .skip(1)
        .collect();
    let fences: Vec<&str> = rows
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(fences, ["1", "2", "3"], "{}", ran.show());
    assert!(rows[0].contains(" created ") && rows[0].contains(" released "));
    assert!(rows[0].contains(" 2023-11-14T22:13:21.000Z ") && rows[0].contains(" exit 0 "));
    assert!(rows[1].contains(" run-2 ") && rows[1].contains(" lost "));
    assert!(rows[2].contains(" takeover from fence 2 ") && rows[2].contains(" holding "));
    assert!(rows[2].contains(" box ") && rows[2].contains(" 103 "));

    let d = n
        .run(&["locks", "show", "worker:acme", "--json"])
        .expect(0)
        .json();
    assert_eq!(d["key"], "worker:acme");
    assert_eq!(d["state"], "held");
    assert_eq!(d["fence"], 3);
    assert_eq!(d["holder"]["pid"], 103);
    let fences: Vec<Option<u64>> = d["history"]
        .as_array()
        .map(|h| h.iter().map(|e| e["fence"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(fences, [Some(1), Some(2), Some(3)], "{d}");
    assert_eq!(d["history"][2]["from_fence"], 2);
}

#[test]
fn an_unknown_key_is_one_line_naming_it_and_exit_1() {
    let n = ns();
    for args in [
        &["locks", "show", "worker:nobody"][..],
        &[
            "locks",
            "release",
            "worker:nobody",
            "--fence",
            "1",
            "--force",
        ],
    ] {
        let ran = n.run(args);
        ran.expect(1);
        assert_eq!(ran.error(), "error: no lock worker:nobody in this store");
        assert!(ran.out.stdout.is_empty(), "{}", ran.show());
    }
}

#[test]
fn release_with_a_stale_fence_exits_1_and_changes_nothing() {
    let n = ns();
    let box1 = || Some(holder("box", 1, &["true"]));
    n.hold("worker:acme", "run-1", box1()).release(0).unwrap();
    let lease = n.hold("worker:acme", "run-2", box1());
    assert_eq!(lease.fence(), 2);
    let before = n.doc("worker:acme");
    let ran = n.run(&["locks", "release", "worker:acme", "--fence", "1", "--force"]);
    ran.expect(1);
    assert!(
        ran.error().contains("worker:acme is at fence 2, not 1"),
        "{}",
        ran.show()
    );
    assert_eq!(n.doc("worker:acme"), before);
    assert!(lease.is_valid());
}

#[test]
fn release_at_the_current_fence_leaves_the_tombstone_and_records_revoked() {
    let n = ns();
    let lease = n.hold(
        "worker:acme",
        "run-1",
        Some(holder("box", 1, &["sleep", "60"])),
    );
    let e = Entry {
        owner: "run-1".into(),
        ..entry("worker:acme", lease.fence(), "created", None)
    };
    history::record_acquired(n.store.as_ref(), &e).unwrap();
    let fence = lease.fence().to_string();
    let release = [
        "locks",
        "release",
        "worker:acme",
        "--fence",
        &fence,
        "--force",
    ];

    let ran = n.run(&release);
    assert_eq!(
        ran.expect(0).stdout(),
        "revoked worker:acme at fence 1 (owner run-1); its wrapper stops the command, then the next waiter acquires\n"
    );
    let doc = n.doc("worker:acme").unwrap_or_default();
    assert_eq!(doc["owner"], "revoked:run-1", "{doc}");
    assert_eq!(doc["fence"], 1, "{doc}");
    let h = history::read(n.store.as_ref(), "lock:worker:acme").unwrap();
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].ended.as_deref(), Some("revoked"), "{h:?}");
    assert!(h[0].ended_at_ms.is_some(), "{h:?}");

    // It shows as revoked, and a second release is refused.
    let rows = n.run(&["locks", "list", "--json"]).expect(0).json();
    assert_eq!(rows[0]["state"], "revoked");
    let again = n.run(&release);
    again.expect(1);
    assert!(
        again.error().contains("already revoked at fence 1"),
        "{}",
        again.show()
    );
}

#[test]
fn release_json_reports_what_it_revoked() {
    let n = ns();
    let _lease = n.hold("worker:acme", "demo-1", None);
    let ran = n.run(&[
        "locks",
        "release",
        "worker:acme",
        "--fence",
        "1",
        "--force",
        "--json",
    ]);
    let r = ran.expect(0).json();
    assert_eq!(r["key"], "worker:acme");
    assert_eq!(r["fence"], 1);
    assert_eq!(r["owner"], "demo-1");
    assert_eq!(r["wrapper"], false);
    assert_eq!(r["lease_ms"], 30_000);
    assert!(r["history_error"].is_null(), "{r}");
}

#[test]
fn release_without_force_is_refused_with_exit_2_and_changes_nothing() {
    let n = ns();
    let _lease = n.hold("worker:acme", "demo-1", None);
    let before = n.doc("worker:acme");
    let ran = n.run(&["locks", "release", "worker:acme", "--fence", "1"]);
    ran.expect(2);
    assert!(ran.error().contains("--force"), "{}", ran.show());
    assert_eq!(n.doc("worker:acme"), before);
}

#[test]
fn bad_values_of_every_flag_are_one_line_naming_them_and_exit_2() {
    let release = ["locks", "release", "k", "--force", "--store", "memory"];
    let list = ["locks", "list", "--store", "memory"];
    let mut cases: Vec<(Vec<&str>, &str)> = Vec::new();
    for fence in ["1e300", "-1", "7.5", "x", "", "18446744073709551616"] {
        cases.push(([&release[..], &["--fence", fence]].concat(), fence));
    }
    for sample in ["-1", "1e300", "soon", "NaN"] {
        cases.push(([&list[..], &["--sample", sample]].concat(), sample));
    }
    cases.push((
        vec!["locks", "list", "--store", "mongodb://x"],
        "mongodb://x",
    ));
    let bad_ns = [
        "locks",
        "show",
        "k",
        "--store",
        "memory",
        "--namespace",
        "no-dash",
    ];
    cases.push((bad_ns.to_vec(), "no-dash"));
    cases.push((vec!["locks", "show", "", "--store", "memory"], "KEY"));
    for (args, value) in cases {
        let ran = joblock_env(&args, None);
        ran.expect(2);
        assert!(
            ran.error().contains(&format!("'{value}'")) || ran.error().contains(value),
            "{value:?} not named\n{}",
            ran.show()
        );
    }
}

#[test]
fn the_store_comes_from_joblock_store_when_no_flag_names_one() {
    let unset = joblock_env(&["locks", "list"], None);
    unset.expect(2);
    assert!(
        unset
            .error()
            .starts_with("error: no --store given, JOBLOCK_STORE is not set, and "),
        "{}",
        unset.show()
    );
    // With a state directory the default is the SQLite file there, which a
    // listing only reads: it creates nothing.
    let state = tempfile::tempdir().unwrap();
    let empty = joblock_in_state(&["locks", "list"], None, Some(state.path()));
    assert_eq!(
        empty.expect(0).stdout().trim(),
        "no locks",
        "{}",
        empty.show()
    );
    assert!(!state.path().join("joblock/locks.db").exists());
    let bad = joblock_env(&["locks", "list"], Some("nonsense"));
    bad.expect(2);
    assert!(bad.error().contains("\"nonsense\""), "{}", bad.show());

    let n = ns();
    let _lease = n.hold("worker:acme", "demo-1", None);
    let ran = joblock_env(&["locks", "list", "--namespace", &n.ns], Some(&n.url));
    assert!(
        ran.expect(0).stdout().contains("worker:acme"),
        "{}",
        ran.show()
    );
}

#[test]
fn an_unreachable_store_exits_69_in_one_line_without_hanging() {
    // Port 1: nothing listens, so the connection is refused at once; the bound
    // only catches a command that would wait on its own (far above the store's
    // 2 s connect timeout, so a slow machine does not fail it).
    let url = "redis://127.0.0.1:1";
    for args in [
        &["locks", "list", "--store", url][..],
        &["locks", "show", "k", "--store", url],
        &[
            "locks", "release", "k", "--fence", "1", "--force", "--store", url,
        ],
    ] {
        let started = Instant::now();
        let ran = joblock_env(args, None);
        ran.expect(69);
        assert!(ran.error().contains(url), "{}", ran.show());
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn watch_shows_a_run_holders_host_and_command_and_a_revoked_tombstone() {
    let n = ns();
    let held = n.hold(
        "worker:acme",
        "run-1",
        Some(holder("box-7", 4242, &["python", "etl.py"])),
    );
    let demo = n.hold("worker:demo", "demo-1", None);
    // `watch --once` tells a live holder by its moving heartbeat (an unrenewed
    // one would be expired after its 30 s lease).
    let _beating = Renewing::start(vec![held, demo]);
    let revoked = n.hold(
        "worker:gone",
        "run-9",
        Some(holder("box-8", 8, &["sleep", "9"])),
    );
    revoke(n.store.as_ref(), "lock:worker:gone", revoked.fence()).unwrap();

    // The holders' own 30 s lease judges them, not --lease: none turns silent.
    let ran = n.run(&["watch", "--once", "--lease", "0.3"]);
    let stdout = ran.expect(0).stdout();
    let line = |key: &str| -> &str {
        stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in\n{stdout}"))
    };
    assert!(
        stdout
            .lines()
            .next()
            .is_some_and(|h| h.ends_with("  process"))
    );
    let acme = line("lock:worker:acme");
    assert!(
        acme.contains(" held ") && acme.contains(" run-1 "),
        "{stdout}"
    );
    assert!(
        acme.ends_with("  box-7 pid 4242: python etl.py"),
        "{stdout}"
    );
    let demo_line = line("lock:worker:demo");
    assert!(demo_line.contains(" held ") && demo_line.contains(" demo-1 "));
    assert!(demo_line.ends_with("  -"), "{stdout}");
    assert!(line("lock:worker:gone").contains(" revoked "), "{stdout}");

    let views = n
        .run(&["watch", "--once", "--json", "--lease", "0.3"])
        .expect(0)
        .json();
    let by_key = |k: &str| -> Value {
        views
            .as_array()
            .and_then(|a| a.iter().find(|v| v["key"] == k).cloned())
            .unwrap_or_else(|| panic!("no {k} in {views}"))
    };
    let acme = by_key("lock:worker:acme");
    assert_eq!(acme["holder"]["host"], "box-7", "{acme}");
    assert_eq!(acme["holder"]["pid"], 4242, "{acme}");
    assert_eq!(acme["holder"]["command"], json!(["python", "etl.py"]));
    assert_eq!(
        (acme["state"].clone(), acme["lease_ms"].clone()),
        (json!("held"), json!(30_000))
    );
    assert!(by_key("lock:worker:demo")["holder"].is_null());
    assert_eq!(by_key("lock:worker:gone")["state"], "revoked");
}
