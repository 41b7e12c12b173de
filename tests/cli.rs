//! Command-line contract tests: they run the real `joblock` binary, each in its own
//! temporary directory with stdin closed, and check exit codes (0 verified, 1
//! verification or invariant failed, 2 usage, 3 runtime), what reaches stdout and
//! stderr, and what is (or is not) left on disk.
//!
//! Runs are kept tiny (virtual clock, or the real clock at speed 1000, a few jobs)
//! and nothing here sleeps or measures time.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use joblock::verify::{RECORD, RECORD_LINE};
use serde_json::Value;
use support::bin::joblock;
use tempfile::TempDir;

/// Every scenario flag, as `--help` must list it.
const FLAGS: &[&str] = &[
    "--jobs",
    "--clients",
    "--crash-prob",
    "--speed",
    "--seed",
    "--output",
    "--lease",
    "--retry",
    "--give-up",
    "--db-latency",
    "--op-latency",
    "--chunk-pause",
    "--headless",
    "--json",
    "--events",
];

/// A fresh, empty working directory.
fn workdir() -> TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `args`, the exit code and both streams, for assertion messages.
fn show(args: &[&str], out: &Output) -> String {
    format!(
        "joblock {}\nexit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        args.join(" "),
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// The exit code, failing the test if the process died from a signal.
fn code(args: &[&str], out: &Output) -> i32 {
    match out.status.code() {
        Some(c) => c,
        None => panic!("killed by a signal\n{}", show(args, out)),
    }
}

/// Asserts stderr is exactly one non-empty line, with no panic in it, and returns it.
fn one_stderr_line(args: &[&str], out: &Output) -> String {
    let err = stderr(out);
    assert!(
        !err.contains("panicked"),
        "the binary panicked\n{}",
        show(args, out)
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stderr must be exactly one line\n{}",
        show(args, out)
    );
    assert!(
        !lines[0].trim().is_empty(),
        "the stderr line is empty\n{}",
        show(args, out)
    );
    lines[0].to_string()
}

/// Names of the entries in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read the temporary directory")
        .map(|e| {
            e.expect("read a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Parses every stdout (or file) line as JSON, naming the bad line on failure.
fn json_lines(what: &str, text: &str) -> Vec<Value> {
    text.lines()
        .enumerate()
        .map(|(i, line)| match serde_json::from_str::<Value>(line) {
            Ok(v) => v,
            Err(e) => panic!("{what}: line {} is not JSON ({e}): {line:?}", i + 1),
        })
        .collect()
}

/// Every event has a string "type" and a numeric "t"; the first is run_started and
/// the last run_finished.
fn assert_event_stream(what: &str, events: &[Value]) {
    assert!(!events.is_empty(), "{what}: no events");
    for (i, e) in events.iter().enumerate() {
        assert!(
            e["type"].is_string(),
            "{what}: event {} has no string \"type\": {e}",
            i + 1
        );
        assert!(
            e["t"].is_number(),
            "{what}: event {} has no numeric \"t\": {e}",
            i + 1
        );
    }
    assert_eq!(events[0]["type"], "run_started", "{what}: first event");
    assert_eq!(
        events[events.len() - 1]["type"],
        "run_finished",
        "{what}: last event"
    );
}

fn events_of_type<'a>(events: &'a [Value], ty: &str) -> impl Iterator<Item = &'a Value> {
    events.iter().filter(move |e| e["type"] == ty)
}

fn job_of(e: &Value) -> u64 {
    e["job"]
        .as_u64()
        .unwrap_or_else(|| panic!("event without a numeric job: {e}"))
}

// ---------------------------------------------------------------------------------
// Usage errors: exit 2, one line naming the bad value, nothing written.
// ---------------------------------------------------------------------------------

/// What is wrong with how the binary handled one bad input (empty when all is well).
fn usage_error_problems(dir: &Path, args: &[&str], bad: &str, out: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    let err = stderr(out);
    if err.contains("panicked") {
        problems.push("the binary panicked".to_string());
    }
    if out.status.code() != Some(2) {
        problems.push(format!("exit code {:?}, expected 2", out.status.code()));
    }
    let lines: Vec<&str> = err.lines().collect();
    match lines.as_slice() {
        [line] if !line.trim().is_empty() => {
            if !line.contains(bad) {
                problems.push(format!(
                    "the stderr line does not name the bad value {bad:?}: {line:?}"
                ));
            }
        }
        _ => problems.push(format!("stderr is not exactly one non-empty line: {err:?}")),
    }
    if !out.stdout.is_empty() {
        problems.push(format!(
            "a usage error printed to stdout: {:?}",
            stdout(out)
        ));
    }
    if dir.join("output.txt").exists() {
        problems.push("output.txt was created".to_string());
    }
    let left = entries(dir);
    if !left.is_empty() {
        problems.push(format!("files left behind: {left:?}"));
    }
    problems
        .into_iter()
        .map(|p| format!("`joblock {}`: {p}", args.join(" ")))
        .collect()
}

#[test]
fn each_bad_flag_value_is_a_usage_error_on_one_line_naming_the_value() {
    // (flag, bad value); a None value means the flag itself is the bad input.
    let cases: &[(&str, Option<&str>)] = &[
        ("--speed", Some("0")),
        ("--speed", Some("-1")),
        ("--speed", Some("abc")),
        ("--speed", Some("nan")),
        ("--speed", Some("inf")),
        ("--lease", Some("-1")),
        ("--retry", Some("-0.5")),
        ("--give-up", Some("-3")),
        ("--db-latency", Some("-1")),
        ("--op-latency", Some("-2")),
        ("--chunk-pause", Some("-1")),
        ("--crash-prob", Some("1.5")),
        ("--crash-prob", Some("-0.1")),
        ("--jobs", Some("0")),
        ("--jobs", Some("-3")),
        ("--jobs", Some("abc")),
        ("--clients", Some("0")),
        ("--wait", Some("fifo")),
        ("--at", Some("-1:kill")),
        ("--at", Some("-1e300:crash")),
        ("--at", Some("1e300x:kill")),
        ("--at", Some("1:explode")),
        ("--at", Some("1:fail=1e-300")),
        ("--bogus", None),
    ];
    let mut problems = Vec::new();
    for &(flag, value) in cases {
        let dir = workdir();
        // A tiny virtual run, so a bad input that slips through finishes fast.
        let mut args = vec!["--clock", "virtual"];
        if flag != "--jobs" {
            args.extend(["--jobs", "1"]);
        }
        args.push(flag);
        args.extend(value);
        let out = joblock(dir.path(), &args);
        let bad = value.unwrap_or(flag);
        problems.extend(usage_error_problems(dir.path(), &args, bad, &out));
    }
    assert!(
        problems.is_empty(),
        "bad inputs mishandled:\n{}",
        problems.join("\n")
    );
}

// A directory where a file is needed names the wrong kind of thing: a usage error
// (exit 2), refused before anything is created, like a FIFO or a device.

#[test]
fn output_that_is_the_current_directory_is_a_usage_error() {
    let dir = workdir();
    let args = ["--clock", "virtual", "--jobs", "2", "--output", "."];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 2, "{}", show(&args, &out));
    one_stderr_line(&args, &out);
    assert!(
        entries(dir.path()).is_empty(),
        "files left behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn output_that_is_a_subdirectory_is_a_usage_error_naming_it() {
    let dir = workdir();
    fs::create_dir(dir.path().join("sub")).expect("create sub");
    let args = ["--clock", "virtual", "--jobs", "2", "--output", "sub"];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 2, "{}", show(&args, &out));
    let line = one_stderr_line(&args, &out);
    assert!(
        line.contains("sub"),
        "the error does not name the path: {line:?}"
    );
    assert_eq!(entries(dir.path()), vec!["sub".to_string()]);
    assert!(
        entries(&dir.path().join("sub")).is_empty(),
        "something was written inside sub"
    );
}

// ---------------------------------------------------------------------------------
// Runtime errors: exit 3, one line naming the path, nothing created.
// ---------------------------------------------------------------------------------

#[test]
fn output_in_a_missing_directory_is_a_runtime_error_naming_the_path() {
    let dir = workdir();
    let args = [
        "--clock",
        "virtual",
        "--jobs",
        "2",
        "--output",
        "missing/dir/out.txt",
    ];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 3, "{}", show(&args, &out));
    let line = one_stderr_line(&args, &out);
    assert!(
        line.contains("missing/dir/out.txt"),
        "the error does not name the path: {line:?}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "files left behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn output_in_a_directory_nobody_may_write_is_a_runtime_error() {
    // The tests run as root, for whom permission bits on a temporary directory do
    // not stop a write. /sys refuses new files even to root (EACCES); a machine
    // whose /sys lets the probe through cannot stage the case, and says so.
    let target = "/sys/joblock-cli-test-out.txt";
    match fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target)
    {
        Ok(_) => {
            let _ = fs::remove_file(target);
            panic!("cannot stage a permission error: {target} is writable here");
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
        Err(e) => panic!("cannot stage a permission error: {target} fails with {e}"),
    }
    let dir = workdir();
    let args = ["--clock", "virtual", "--jobs", "2", "--output", target];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 3, "{}", show(&args, &out));
    let line = one_stderr_line(&args, &out);
    assert!(
        line.contains(target),
        "the error does not name the path: {line:?}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "files left behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn output_under_proc_is_a_runtime_error_naming_the_path() {
    let dir = workdir();
    let target = "/proc/joblock-test/out.txt";
    let args = ["--clock", "virtual", "--jobs", "2", "--output", target];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 3, "{}", show(&args, &out));
    let line = one_stderr_line(&args, &out);
    assert!(
        line.contains(target),
        "the error does not name the path: {line:?}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "files left behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn events_file_in_a_missing_directory_is_a_runtime_error_and_no_output_is_written() {
    let dir = workdir();
    let args = [
        "--clock",
        "virtual",
        "--jobs",
        "2",
        "--events",
        "missing/ev.jsonl",
    ];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 3, "{}", show(&args, &out));
    let line = one_stderr_line(&args, &out);
    assert!(
        line.contains("missing/ev.jsonl"),
        "the error does not name the path: {line:?}"
    );
    assert!(
        !dir.path().join("output.txt").exists(),
        "output.txt was created although the run could not start"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "files left behind: {:?}",
        entries(dir.path())
    );
}

// ---------------------------------------------------------------------------------
// Successful runs.
// ---------------------------------------------------------------------------------

/// Asserts a run passed and its summary says so.
fn assert_run_passed(args: &[&str], out: &Output) {
    assert_eq!(code(args, out), 0, "{}", show(args, out));
    let text = stdout(out);
    for needle in ["invariants all hold", "verdict", "ok:"] {
        assert!(
            text.contains(needle),
            "stdout lacks {needle:?}\n{}",
            show(args, out)
        );
    }
    assert!(
        !stderr(out).contains("panicked"),
        "the binary panicked\n{}",
        show(args, out)
    );
}

#[test]
fn a_virtual_run_without_crashes_writes_one_record_per_job_and_passes() {
    let dir = workdir();
    let args = [
        "--clock",
        "virtual",
        "--seed",
        "7",
        "--jobs",
        "5",
        "--crash-prob",
        "0",
    ];
    let out = joblock(dir.path(), &args);
    assert_run_passed(&args, &out);
    let written = fs::read_to_string(dir.path().join("output.txt")).expect("read output.txt");
    assert_eq!(
        written,
        RECORD.repeat(5),
        "output.txt\n{}",
        show(&args, &out)
    );
}

#[test]
fn a_real_clock_run_at_speed_1000_writes_one_record_per_job_and_passes() {
    let dir = workdir();
    // A long lease, so a loaded machine cannot cause a spurious expiry. At speed
    // 1000 every scenario second is a real millisecond: `--lease 30` would be 30 ms
    // of real time, which a busy machine does stall (seen here: a takeover, a fenced
    // job and 2 records instead of 3). 5000 s is 5 real seconds, and the waiters'
    // give-up is raised to match, while the run itself still takes a few
    // milliseconds.
    let args = [
        "--speed",
        "1000",
        "--jobs",
        "3",
        "--crash-prob",
        "0",
        "--lease",
        "5000",
        "--give-up",
        "1000000",
    ];
    let out = joblock(dir.path(), &args);
    assert_run_passed(&args, &out);
    let written = fs::read_to_string(dir.path().join("output.txt")).expect("read output.txt");
    assert_eq!(
        written,
        RECORD.repeat(3),
        "output.txt\n{}",
        show(&args, &out)
    );
}

#[test]
fn a_run_where_every_job_crashes_passes_with_an_empty_output() {
    let dir = workdir();
    let args = ["--crash-prob", "1", "--clock", "virtual", "--jobs", "4"];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    let meta = fs::metadata(dir.path().join("output.txt")).expect("output.txt exists");
    assert_eq!(
        meta.len(),
        0,
        "output.txt is not empty\n{}",
        show(&args, &out)
    );
}

#[test]
fn json_mode_prints_only_json_events_from_run_started_to_run_finished() {
    let dir = workdir();
    let args = [
        "--json", "--clock", "virtual", "--jobs", "3", "--seed", "1", "--events", "ev.jsonl",
    ];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    let printed = stdout(&out);
    let events = json_lines("stdout", &printed);
    assert_event_stream("stdout", &events);
    // The events file records the very same stream, line for line, after its
    // header (the live stream has none: it is not a recording).
    let recorded = fs::read_to_string(dir.path().join("ev.jsonl")).expect("read ev.jsonl");
    let (header, recorded) = split_header(&recorded);
    assert_eq!(header["source"], "headless", "{header}");
    assert_eq!(
        recorded.lines().count(),
        printed.lines().count(),
        "ev.jsonl and --json stdout differ in length"
    );
    assert_eq!(recorded, printed, "ev.jsonl differs from --json stdout");
}

/// A recording's header line, parsed, and the event lines after it.
fn split_header(recorded: &str) -> (Value, &str) {
    let (first, rest) = recorded.split_once('\n').unwrap_or((recorded, ""));
    let header: Value = serde_json::from_str(first).expect("a JSON first line");
    assert_eq!(header["type"], "recording", "no header: {first}");
    (header, rest)
}

#[test]
fn the_events_file_of_a_text_run_holds_json_events_from_run_started_to_run_finished() {
    let dir = workdir();
    let args = [
        "--clock", "virtual", "--jobs", "3", "--seed", "1", "--events", "ev.jsonl",
    ];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    let recorded = fs::read_to_string(dir.path().join("ev.jsonl")).expect("read ev.jsonl");
    let (header, recorded) = split_header(&recorded);
    let events = json_lines("ev.jsonl", recorded);
    assert_event_stream("ev.jsonl", &events);
    // The header names the run's parameters, the chosen seed and the flags' defaults.
    assert_eq!(header["format"], 1, "{header}");
    assert_eq!(header["joblock"], env!("CARGO_PKG_VERSION"), "{header}");
    let params = &header["params"];
    assert_eq!(
        (&params["jobs"], &params["seed"], &params["clock"]),
        (&3.into(), &1.into(), &"virtual".into()),
        "{header}"
    );
    assert_eq!(
        (&params["lease"], &params["store"]),
        (&3.0.into(), &"memory".into())
    );
    assert_eq!(params["at"], serde_json::json!([]), "{header}");
    // Text mode prints text, not JSON.
    assert!(
        !stdout(&out).starts_with('{'),
        "text mode printed JSON\n{}",
        show(&args, &out)
    );
}

/// Jobs that crashed, and each job's identity hash, from a --json run.
fn crashes_and_hashes(dir: &Path, args: &[&str]) -> (BTreeSet<u64>, BTreeMap<u64, String>) {
    let out = joblock(dir, args);
    assert!(matches!(code(args, &out), 0 | 1), "{}", show(args, &out));
    let events = json_lines("stdout", &stdout(&out));
    assert_event_stream("stdout", &events);
    let crashed = events_of_type(&events, "crashed").map(job_of).collect();
    let hashes = events_of_type(&events, "queued")
        .map(|e| {
            let hash = e["hash"]
                .as_str()
                .unwrap_or_else(|| panic!("queued event without a hash: {e}"));
            (job_of(e), hash.to_string())
        })
        .collect();
    (crashed, hashes)
}

#[test]
fn the_same_seed_gives_the_same_crash_draws_and_job_hashes() {
    let args = [
        "--clock", "virtual", "--seed", "42", "--jobs", "10", "--json",
    ];
    let first_dir = workdir();
    let second_dir = workdir();
    let (crashed_1, hashes_1) = crashes_and_hashes(first_dir.path(), &args);
    let (crashed_2, hashes_2) = crashes_and_hashes(second_dir.path(), &args);
    assert_eq!(crashed_1, crashed_2, "the crashed jobs differ");
    assert_eq!(hashes_1.len(), 10, "one queued event per job: {hashes_1:?}");
    assert_eq!(hashes_1, hashes_2, "the queued hashes differ");
}

#[test]
fn several_clients_each_get_their_own_output_file() {
    let dir = workdir();
    let args = [
        "--clients",
        "3",
        "--jobs",
        "6",
        "--clock",
        "virtual",
        "--crash-prob",
        "0",
    ];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    for client in 1..=3 {
        let name = format!("output.client-{client}.txt");
        let written = fs::read_to_string(dir.path().join(&name))
            .unwrap_or_else(|e| panic!("read {name}: {e}\n{}", show(&args, &out)));
        assert_eq!(written, RECORD.repeat(2), "{name}");
    }
    assert!(
        !dir.path().join("output.txt").exists(),
        "a plain output.txt was created with several clients"
    );
}

// ---------------------------------------------------------------------------------
// joblock verify
// ---------------------------------------------------------------------------------

/// Writes `content` to `name` in a fresh directory and runs `joblock verify ARGS`.
fn verify(name: &str, content: &str, args: &[&str]) -> (TempDir, Output) {
    let dir = workdir();
    fs::write(dir.path().join(name), content).expect("write the file to check");
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let out = joblock(dir.path(), &all);
    (dir, out)
}

#[test]
fn verify_passes_a_file_of_whole_records() {
    let args = ["verify", "out.txt"];
    let (_dir, out) = verify("out.txt", &RECORD.repeat(3), &args[1..]);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    assert!(stdout(&out).starts_with("ok:"), "{}", show(&args, &out));
}

#[test]
fn verify_passes_when_the_expected_count_matches() {
    let args = ["verify", "out.txt", "--expect", "3"];
    let (_dir, out) = verify("out.txt", &RECORD.repeat(3), &args[1..]);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    assert!(stdout(&out).starts_with("ok:"), "{}", show(&args, &out));
}

#[test]
fn verify_fails_when_the_expected_count_differs() {
    let args = ["verify", "out.txt", "--expect", "4"];
    let (_dir, out) = verify("out.txt", &RECORD.repeat(3), &args[1..]);
    assert_eq!(code(&args, &out), 1, "{}", show(&args, &out));
    assert!(
        stdout(&out).lines().any(|l| l.contains("expected 4")),
        "{}",
        show(&args, &out)
    );
}

#[test]
fn verify_fails_a_torn_tail() {
    let args = ["verify", "out.txt"];
    let content = format!("{}Maestro is", RECORD.repeat(2));
    let (_dir, out) = verify("out.txt", &content, &args[1..]);
    assert_eq!(code(&args, &out), 1, "{}", show(&args, &out));
    assert!(stdout(&out).contains("FAIL"), "{}", show(&args, &out));
}

#[test]
fn verify_fails_a_missing_final_blank_line_by_the_strict_rule() {
    let args = ["verify", "out.txt"];
    let content = format!("{}{RECORD_LINE}", RECORD.repeat(2));
    let (_dir, out) = verify("out.txt", &content, &args[1..]);
    assert_eq!(code(&args, &out), 1, "{}", show(&args, &out));
    assert!(stdout(&out).contains("FAIL"), "{}", show(&args, &out));
}

#[test]
fn verify_checks_output_txt_in_the_current_directory_by_default() {
    let args = ["verify"];
    let (_dir, out) = verify("output.txt", &RECORD.repeat(2), &[]);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    let text = stdout(&out);
    assert!(text.starts_with("ok:"), "{}", show(&args, &out));
    assert!(text.contains("output.txt"), "{}", show(&args, &out));
}

#[test]
fn verify_of_a_missing_file_is_a_runtime_error_naming_the_file() {
    let dir = workdir();
    let args = ["verify", "nope.txt"];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 3, "{}", show(&args, &out));
    let line = one_stderr_line(&args, &out);
    assert!(
        line.contains("nope.txt"),
        "the error does not name the file: {line:?}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "files left behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn verify_only_reads_the_file_and_creates_nothing_beside_it() {
    let args = ["verify", "out.txt"];
    // A passing and a failing file: neither verdict writes anything.
    for (content, expected) in [(RECORD.repeat(2), 0), (format!("{RECORD}Maestro"), 1)] {
        let (dir, out) = verify("out.txt", &content, &args[1..]);
        assert_eq!(code(&args, &out), expected, "{}", show(&args, &out));
        assert_eq!(
            entries(dir.path()),
            ["out.txt"],
            "no PATH.fence or other file"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            content
        );
    }
}

#[test]
fn verify_with_a_non_numeric_expect_is_a_usage_error() {
    let args = ["verify", "--expect", "abc"];
    let (_dir, out) = verify("output.txt", RECORD, &args[1..]);
    assert_eq!(code(&args, &out), 2, "{}", show(&args, &out));
    let line = one_stderr_line(&args, &out);
    assert!(
        line.contains("abc"),
        "the error does not name the value: {line:?}"
    );
}

// ---------------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------------

#[test]
fn help_exits_zero_and_lists_every_flag() {
    let dir = workdir();
    let args = ["--help"];
    let out = joblock(dir.path(), &args);
    assert_eq!(code(&args, &out), 0, "{}", show(&args, &out));
    let text = stdout(&out);
    let missing: Vec<&str> = FLAGS
        .iter()
        .copied()
        .filter(|f| !text.contains(f))
        .collect();
    assert!(missing.is_empty(), "--help lacks {missing:?}\n{text}");
    assert!(
        entries(dir.path()).is_empty(),
        "--help left files behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn a_reader_that_goes_away_stops_the_run_cleanly() {
    use std::io::{BufRead, BufReader};
    let dir = workdir();
    // At speed 10 the full run takes about half a minute of real time.
    let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .current_dir(dir.path())
        .args([
            "--json",
            "--speed",
            "10",
            "--seed",
            "3",
            "--crash-prob",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start joblock");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a first line");
    assert!(first.contains("run_started"), "{first}");
    // The reader is gone (stdout dropped): the next write fails and the run stops.
    let status = child.wait().expect("joblock exits");
    assert!(status.code().is_some(), "no crash: {status}");
    let written = fs::read_to_string(dir.path().join("output.txt")).unwrap_or_default();
    let v = joblock::verify::check(written.as_bytes(), None);
    assert!(v.passed(), "the output is left strictly valid");
    assert!(
        v.records <= 2,
        "the run stopped early, not after all 25 jobs: {} records",
        v.records
    );
}
