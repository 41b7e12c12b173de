//! `joblock run` as a user meets it: real wrapper processes on every store (see
//! `STORES` in tests/support/run.rs), running a tiny python command that logs
//! timestamped lines. Turn-taking and fences, the conflict exits, exit-code and
//! signal pass-through, what the command is given (environment, stdin, stdout),
//! the events file and JSON logs, and bad flags. Signals to the wrapper are in
//! tests/run_signals.rs, a store that hangs in tests/run_store_faults.rs.
//!
//! Nothing sleeps to synchronise: every wait polls a condition with a generous
//! deadline.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde_json::Value;
use support::run::{Done, Run, Workdir, Wrapper, each_store, joblock, json_lines, types};

/// A key every test may use: each store is fresh.
const KEY: &str = "worker:acme";

#[test]
fn eight_runs_of_one_key_take_turns_with_fences_1_to_8() {
    each_store(|store| {
        let work = Workdir::new();
        let wrappers: Vec<Wrapper> = (0..8)
            .map(|_| {
                Run::new(store, &work, KEY)
                    .args(&["--lease", "10"])
                    .command(work.child("log", "span", &["0.05"]))
                    .spawn()
            })
            .collect();
        let done: Vec<Done> = wrappers.into_iter().map(Wrapper::wait).collect();
        for d in &done {
            d.expect_code(0);
        }
        let mut acquired: Vec<u64> = done.iter().map(Done::fence).collect();
        acquired.sort_unstable();
        assert_eq!(acquired, (1..=8).collect::<Vec<_>>());

        // In the shared log, each command's start is followed by its own end
        // before any other command starts, and the clocks agree.
        let lines = work.log("log");
        assert_eq!(lines.len(), 16, "{lines:#?}");
        let mut fences = Vec::new();
        for pair in lines.chunks(2) {
            let (start, end) = (&pair[0], &pair[1]);
            assert_eq!(
                (start.kind.as_str(), end.kind.as_str(), start.fence),
                ("start", "end", end.fence),
                "{lines:#?}"
            );
            assert!(start.ns <= end.ns, "{lines:#?}");
            fences.push(start.fence);
        }
        for w in lines.windows(2) {
            assert!(w[0].ns <= w[1].ns, "intervals overlap: {lines:#?}");
        }
        fences.sort_unstable();
        assert_eq!(fences, (1..=8).collect::<Vec<_>>(), "JOBLOCK_FENCE values");
    });
}

/// One line on stderr.
fn one_line(done: &Done) -> &str {
    let lines: Vec<&str> = done.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line: {done:#?}");
    lines[0]
}

#[test]
fn a_held_lock_skips_fails_or_times_out_with_the_conflict_code() {
    each_store(|store| {
        let work = Workdir::new();
        let holder = Run::new(store, &work, KEY)
            .args(&["--lease", "60"])
            .command(work.child("held", "tick", &[]))
            .spawn();
        work.await_lines("held", 1, 1);
        let others = |args: &[&str]| {
            Run::new(store, &work, KEY)
                .args(args)
                .command(work.child("never", "span", &["0"]))
                .spawn()
        };
        let skip = others(&["--on-conflict", "skip"]);
        let skip_json = others(&["--on-conflict", "skip", "--log-format", "json"]);
        let fail = others(&["--on-conflict", "fail"]);
        let fail_9 = others(&["--on-conflict", "fail", "--conflict-exit-code", "9"]);
        let timeout = others(&["--wait-timeout", "0.3"]);
        let timeout_0 = others(&["--wait-timeout", "0.3", "--conflict-exit-code", "0"]);
        let waiting = others(&["--verbose", "--lease", "60"]);

        let skip = skip.wait();
        skip.expect_code(0);
        let line = one_line(&skip);
        let holder_pid = format!("pid {}", holder.pid());
        assert!(
            line.contains("held by") && line.contains(&holder_pid) && line.contains("skip"),
            "{line}"
        );
        let skip_json = skip_json.wait();
        skip_json.expect_code(0);
        let logs: Vec<Value> = skip_json
            .stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .filter(|v: &Value| v["type"] == "log")
            .collect();
        assert_eq!(logs.len(), 1, "{skip_json:#?}");
        assert_eq!(logs[0]["level"], "warn");
        assert!(logs[0]["msg"].as_str().unwrap().contains(&holder_pid));

        for (done, code) in [(fail, 75), (fail_9, 9)] {
            let done = done.wait();
            done.expect_code(code);
            let line = one_line(&done);
            assert!(
                line.contains("held by") && line.contains(&holder_pid),
                "{line}"
            );
        }
        for (done, code) in [(timeout, 75), (timeout_0, 0)] {
            let done = done.wait();
            done.expect_code(code);
            assert!(one_line(&done).contains("--wait-timeout"), "{done:#?}");
            assert!(done.types().contains(&"gave_up"), "{done:#?}");
        }

        // A waiter told to stop stops waiting, with the shell's code for it.
        waiting.await_stderr("waiting");
        // At once, though the store would not wake it for a long while (the
        // holder renews every 10 s, and a waiter re-reads every third of a lease).
        let signalled_at = Instant::now();
        waiting.signal(Signal::TERM);
        let waited = waiting.wait();
        let took = signalled_at.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "heeded SIGTERM after {took:?}"
        );
        waited.expect_code(143);
        assert!(waited.stderr.contains("never ran"), "{waited:#?}");
        assert!(
            !work.file("never").exists(),
            "a command ran without the lock"
        );

        // The holder passes SIGTERM on to its command, which dies of it.
        holder.signal(Signal::TERM);
        let held = holder.wait();
        held.expect_code(143);
        let signalled = held.event("command_signalled");
        assert_eq!(
            (&signalled["signal"], &signalled["why"]),
            (&Value::from("SIGTERM"), &Value::from("forwarded"))
        );
        assert_eq!(held.event("command_exited")["code"], 143);
    });
}

#[test]
fn the_command_exit_code_and_death_signal_pass_through() {
    each_store(|store| {
        let work = Workdir::new();
        let not_executable = work.file("not-executable");
        std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
        let sh = |script: &str| vec!["sh".into(), "-c".into(), script.into()];
        let cases = [
            ("exit", sh("exit 3"), 3),
            ("kill", sh("kill -KILL $$"), 137),
            ("term", sh("kill -TERM $$"), 143),
            ("true", sh("true"), 0),
            ("missing", vec!["joblock-test-no-such-command".into()], 127),
            ("noexec", vec![not_executable.into()], 126),
        ];
        let runs: Vec<_> = cases
            .into_iter()
            .map(|(key, argv, code)| (Run::new(store, &work, key).command(argv).spawn(), code))
            .collect();
        for (run, code) in runs {
            let done = run.wait();
            done.expect_code(code);
            if code == 126 || code == 127 {
                assert!(done.stderr.contains("cannot run"), "{done:#?}");
            }
        }
        // A command that could not start does not leave its lock held.
        for key in ["missing", "noexec"] {
            let again = Run::new(store, &work, key)
                .args(&["--on-conflict", "fail"])
                .command(sh("true"))
                .spawn()
                .wait();
            again.expect_code(0);
            assert_eq!(again.fence(), 2);
        }
    });
}

#[test]
fn the_command_gets_its_lock_in_its_environment_and_the_wrapper_stdin_and_stdout() {
    each_store(|store| {
        let work = Workdir::new();
        let env = Run::new(store, &work, KEY)
            .command(work.child("env", "env", &[]))
            .spawn()
            .wait();
        env.expect_code(0);
        let text = std::fs::read_to_string(work.file("env")).unwrap();
        let owner = env.event("queued")["hash"].as_str().unwrap().to_string();
        assert!(owner.starts_with("run:"), "{owner}");
        assert_eq!(
            text,
            format!(
                "JOBLOCK_KEY={KEY}\nJOBLOCK_FENCE={}\nJOBLOCK_OWNER={owner}\n",
                env.fence()
            )
        );

        // JOBLOCK_STORE names the store when --store is not given, and --store
        // wins over it.
        let from_env = Run::new(store, &work, KEY)
            .store_in_env()
            .command(work.child("log", "span", &["0"]))
            .spawn()
            .wait();
        from_env.expect_code(0);
        assert_eq!(from_env.fence(), 2);
        let flag_wins = Run::new(store, &work, KEY)
            .env("JOBLOCK_STORE", "redis://127.0.0.1:1")
            .command(work.child("log", "span", &["0"]))
            .spawn()
            .wait();
        flag_wins.expect_code(0);
        assert_eq!(flag_wins.fence(), 3);

        // Enough data that it cannot sit in one pipe buffer.
        let data: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let mut cat = Run::new(store, &work, KEY)
            .stdin(Stdio::piped())
            .command(vec!["cat".into()])
            .spawn();
        let mut stdin = cat.child.stdin.take().unwrap();
        stdin.write_all(data.as_bytes()).unwrap();
        drop(stdin);
        let cat = cat.wait();
        cat.expect_code(0);
        assert!(cat.stdout == data, "stdout differs from what went in");
        assert_eq!(cat.fence(), 4);
    });
}

/// The events of a run without conflicts or faults, but for the attempts and
/// heartbeats that may come between.
const LIFECYCLE: [&str; 6] = [
    "queued",
    "acquired",
    "command_started",
    "command_exited",
    "released",
    "finished",
];

#[test]
fn events_record_the_lifecycle_in_order_and_json_logs_are_json_lines() {
    each_store(|store| {
        let work = Workdir::new();
        // Renewed every half second, it runs through a couple of heartbeats.
        let done = Run::new(store, &work, KEY)
            .args(&["--lease", "3"])
            .command(work.child("log", "span", &["1.2"]))
            .spawn()
            .wait();
        done.expect_code(0);
        // The file is a recording: a header with the wrapper's parameters first.
        let header = done.header.as_ref().expect("a recording header");
        assert_eq!(header["format"], 1, "{header}");
        assert_eq!(header["source"], "run", "{header}");
        let params = &header["params"];
        assert_eq!(
            (&params["key"], &params["lease"]),
            (&KEY.into(), &3.0.into())
        );
        assert_eq!(params["on_conflict"], "wait", "{header}");
        assert_eq!(params["command"][0], "python3", "{header}");
        let types = done.types();
        let main: Vec<&str> = types
            .iter()
            .copied()
            .filter(|t| !matches!(*t, "lock_attempt" | "heartbeat"))
            .collect();
        assert_eq!(main, LIFECYCLE, "{types:?}");
        let at = |ty: &str| types.iter().position(|t| *t == ty).unwrap();
        let beats = types.iter().filter(|t| **t == "heartbeat").count();
        assert!(beats >= 1, "no heartbeat in {types:?}");
        assert!(
            types.iter().enumerate().all(|(i, t)| *t != "heartbeat"
                || (at("command_started") < i && i < at("command_exited"))),
            "{types:?}"
        );
        for (i, e) in done.events.iter().enumerate() {
            assert_eq!(e["seq"], i as u64 + 1, "{e}");
        }
        let t: Vec<f64> = done
            .events
            .iter()
            .map(|e| e["t"].as_f64().unwrap())
            .collect();
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "{t:?}");
        let started = done.event("command_started");
        let lines = work.log("log");
        assert_eq!(started["pid"], lines[0].pid);
        assert_eq!(started["fence"], done.fence());
        assert_eq!(started["command"][0], "python3");
        let exited = done.event("command_exited");
        assert_eq!(
            (&exited["exit"], &exited["code"]),
            (&"exit 0".into(), &0.into())
        );
        assert_eq!(done.event("released")["fence"], done.fence());

        // With JSON logs every stderr line is JSON: the same events, and nothing else
        // when all goes well.
        let json = Run::new(store, &work, KEY)
            .args(&["--log-format", "json"])
            .command(work.child("log", "span", &["0"]))
            .spawn()
            .wait();
        json.expect_code(0);
        let err = work.file("stderr.jsonl");
        std::fs::write(&err, &json.stderr).unwrap();
        let lines = json_lines(&err);
        assert_eq!(lines.len(), json.stderr.lines().count(), "{json:#?}");
        assert_eq!(lines, json.events, "stderr and the events file differ");
        let main: Vec<&str> = types_without_attempts(&lines);
        assert_eq!(main, LIFECYCLE);
    });
}

fn types_without_attempts(events: &[Value]) -> Vec<&str> {
    types(events)
        .into_iter()
        .filter(|t| !matches!(*t, "lock_attempt" | "heartbeat"))
        .collect()
}

#[test]
fn the_events_file_shows_the_command_started_while_it_runs() {
    each_store(|store| {
        let work = Workdir::new();
        let run = Run::new(store, &work, KEY)
            .command(work.child("log", "tick", &[]))
            .spawn();
        let started = run.await_event("command_started");
        let first = work.await_lines("log", 1, 1);
        assert_eq!(started["pid"], first[0].pid);
        run.signal(Signal::INT);
        run.wait();
    });
}

#[test]
fn huge_durations_are_taken_as_a_century_and_work() {
    each_store(|store| {
        let work = Workdir::new();
        let huge = "1e300";
        let done = Run::new(store, &work, KEY)
            .args(&["--lease", huge, "--wait-timeout", huge, "--retry", huge])
            .args(&["--store-timeout", huge])
            .command(work.child("log", "span", &["0"]))
            .spawn()
            .wait();
        done.expect_code(0);
        assert_eq!(types_without_attempts(&done.events), LIFECYCLE);
        assert!(done.stderr.is_empty(), "{done:#?}");
    });
}

#[test]
fn bad_flags_exit_2_with_a_clean_error_and_run_nothing() {
    let work = Workdir::new();
    let fifo = work.file("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let fifo = fifo.to_str().unwrap().to_string();
    let marker = work.child("marker", "span", &["0"]);
    let marker: Vec<&str> = marker.iter().map(|a| a.to_str().unwrap()).collect();
    // The store is never reached: every flag is checked before it is opened.
    let base = ["run", "--store", "redis://127.0.0.1:1"];
    // (flags, whether joblock's own one-line error, not clap's usage text)
    let cases: &[(&[&str], bool)] = &[
        (&["--lease", "1e-300"], true),
        (&["--lease", "0.1"], true),
        (&["--lease", "0"], false),
        (&["--lease", "-1"], false),
        (&["--lease", "nan"], false),
        (&["--lease", "inf"], false),
        (&["--lease", "3", "--grace", "2"], true),
        (&["--lease", "1e300", "--grace", "1e300"], true),
        (&["--grace", "-1"], false),
        (&["--wait-timeout", "-1"], false),
        (&["--conflict-exit-code", "300"], false),
        (&["--conflict-exit-code", "-1"], false),
        (&["--store-timeout", "0.001"], true),
        (&["--retry", "0"], false),
        (&["--on-conflict", "maybe"], false),
        (&["--events", "/dev/full"], true),
        (&["--events", &fifo], true),
        (&["--events", "/nonexistent/dir/events"], true),
        (&["--key", "two words"], true),
        (&["--key", ""], true),
    ];
    for (flags, one) in cases {
        let mut args: Vec<&str> = base.to_vec();
        if !flags.contains(&"--key") {
            args.extend(["--key", KEY]);
        }
        args.extend_from_slice(flags);
        args.push("--");
        args.extend_from_slice(&marker);
        let done = joblock(&args, work.path());
        assert_eq!(done.status.code(), Some(2), "{args:?}: {done:#?}");
        assert!(!done.stderr.contains("panick"), "{args:?}: {done:#?}");
        assert!(done.stderr.starts_with("error:"), "{args:?}: {done:#?}");
        if *one {
            assert_eq!(done.stderr.lines().count(), 1, "{args:?}: {done:#?}");
        }
    }
    // No command at all.
    let keyed = [&base[..], &["--key", KEY]].concat();
    for args in [&keyed[..], &[&keyed[..], &["--"]].concat()] {
        let done = joblock(args, work.path());
        assert_eq!(done.status.code(), Some(2), "{args:?}: {done:#?}");
    }
    assert!(
        !work.file("marker").exists(),
        "a bad flag still ran the command"
    );
}

#[test]
fn with_no_store_named_run_uses_the_users_sqlite_file_and_locks_finds_it() {
    let state = tempfile::tempdir().unwrap();
    let joblock = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_joblock"))
            .args(args)
            .env_remove("JOBLOCK_STORE")
            .env("XDG_STATE_HOME", state.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let ran = joblock(&[
        "run",
        "--key",
        "worker:acme",
        "--",
        "sh",
        "-c",
        "echo $JOBLOCK_FENCE",
    ]);
    assert_eq!(ran.status.code(), Some(0), "{ran:?}");
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "1");
    let db = state.path().join("joblock/locks.db");
    assert!(db.is_file(), "no store at {}", db.display());
    let listed = joblock(&["locks", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(keys[0]["key"], "worker:acme", "{keys}");
    assert_eq!(keys[0]["fence"], 1, "{keys}");
}
