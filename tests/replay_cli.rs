//! `joblock replay` on the real binary: a recorded run prints as it printed live
//! (`--headless`) and as its JSON lines (`--json`), and a file that cannot be
//! replayed is refused in one line with exit 2, never a hang or a panic.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::bin::{joblock, mkfifo, show, text};
use tempfile::TempDir;

/// The recorded run: a kill, a takeover and a repair, on the virtual clock.
const RECORD: &[&str] = &[
    "--headless",
    "--clock",
    "virtual",
    "--seed",
    "3",
    "--jobs",
    "3",
    "--at",
    "5:kill",
    "--events",
    "ev.jsonl",
];

/// A directory holding `ev.jsonl`, a recording, and what its run printed.
fn recorded() -> (TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = joblock(dir.path(), RECORD);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    (dir, text(&out.stdout))
}

fn recording(dir: &Path) -> String {
    fs::read_to_string(dir.join("ev.jsonl")).expect("read ev.jsonl")
}

/// Asserts a refusal: exit 2 and one stderr line, which is returned.
fn refused(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", show(out));
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{}", show(out));
    assert_eq!(err.lines().count(), 1, "{}", show(out));
    assert!(out.stdout.is_empty(), "{}", show(out));
    err.trim_end().to_string()
}

#[test]
fn a_headless_replay_prints_what_the_run_printed() {
    let (dir, live) = recorded();
    let out = joblock(dir.path(), &["replay", "ev.jsonl", "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let replayed = text(&out.stdout);
    let (about, rest) = replayed.split_once('\n').expect("more than one line");
    assert!(
        about.starts_with(&format!(
            "recording: joblock {} headless · jobs 3 · clients 1 · seed 3 · clock virtual",
            env!("CARGO_PKG_VERSION")
        )),
        "{about}"
    );
    assert!(about.contains("at 5:kill"), "{about}");
    // Every event line and the summary, exactly as the live run printed them.
    assert!(
        live.contains("KILLED") && live.contains("-- summary --"),
        "{live}"
    );
    assert_eq!(rest, live);
    assert!(out.stderr.is_empty(), "{}", show(&out));
    // Stdout that is not a terminal prints the same without --headless.
    let piped = joblock(dir.path(), &["replay", "ev.jsonl"]);
    assert_eq!(text(&piped.stdout), replayed, "{}", show(&piped));
}

#[test]
fn a_json_replay_gives_back_the_recorded_lines_byte_for_byte() {
    let (dir, _) = recorded();
    let out = joblock(dir.path(), &["replay", "ev.jsonl", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let file = recording(dir.path());
    let (header, events) = file.split_once('\n').expect("a header line");
    assert!(
        header.starts_with(r#"{"type":"recording","format":1,"#),
        "{header}"
    );
    assert_eq!(text(&out.stdout), events);
}

#[test]
fn a_recording_without_a_header_from_an_older_joblock_replays() {
    let (dir, live) = recorded();
    let file = recording(dir.path());
    let (_, events) = file.split_once('\n').expect("a header line");
    fs::write(dir.path().join("old.jsonl"), events).unwrap();
    let out = joblock(dir.path(), &["replay", "old.jsonl", "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let replayed = text(&out.stdout);
    let (about, rest) = replayed.split_once('\n').expect("more than one line");
    assert!(about.contains("no header"), "{about}");
    assert_eq!(rest, live);
}

#[test]
fn a_recording_cut_short_replays_what_it_holds_without_a_summary() {
    let (dir, _) = recorded();
    let file = recording(dir.path());
    // Killed while writing run_finished: half of the last line is there.
    let cut = &file[..file.len() - 40];
    fs::write(dir.path().join("cut.jsonl"), cut).unwrap();
    let out = joblock(dir.path(), &["replay", "cut.jsonl", "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let printed = text(&out.stdout);
    assert!(!printed.contains("-- summary --"), "{printed}");
    let last = printed.lines().last().unwrap_or("");
    assert!(
        last.starts_with("recording ends at t=") && last.contains("the run was cut short"),
        "{last}"
    );
    let err = text(&out.stderr);
    assert!(
        err.starts_with("warning: the last line of cut.jsonl is cut short"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_header_from_a_newer_joblock_is_refused() {
    let (dir, _) = recorded();
    let file = recording(dir.path()).replacen(r#""format":1"#, r#""format":3"#, 1);
    fs::write(dir.path().join("new.jsonl"), file).unwrap();
    let out = joblock(dir.path(), &["replay", "new.jsonl", "--headless"]);
    assert_eq!(
        refused(&out),
        "error: new.jsonl was recorded by a newer joblock (format 3; this one reads up to 1)"
    );
}

#[test]
fn a_broken_line_is_named_by_its_number() {
    let (dir, _) = recorded();
    let file = recording(dir.path());
    let mut lines: Vec<&str> = file.lines().collect();
    lines[16] = r#"{"seq":16,"t":1.0,"type":"foo"}"#;
    fs::write(dir.path().join("foo.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = joblock(dir.path(), &["replay", "foo.jsonl"]);
    assert_eq!(
        refused(&out),
        r#"error: foo.jsonl line 17: unknown event type "foo""#
    );
    lines[16] = "{not json";
    fs::write(dir.path().join("bad.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = joblock(dir.path(), &["replay", "bad.jsonl", "--json"]);
    assert!(refused(&out).starts_with("error: bad.jsonl line 17: "));
    // Two lines swapped: out of stream order.
    let mut swapped: Vec<&str> = file.lines().collect();
    swapped.swap(4, 5);
    fs::write(dir.path().join("swap.jsonl"), swapped.join("\n") + "\n").unwrap();
    let out = joblock(dir.path(), &["replay", "swap.jsonl"]);
    assert!(refused(&out).starts_with("error: swap.jsonl line 6: seq 4 after seq 5"));
}

#[test]
fn empty_files_and_a_header_alone_are_refused() {
    let (dir, _) = recorded();
    fs::write(dir.path().join("empty.jsonl"), "").unwrap();
    let out = joblock(dir.path(), &["replay", "empty.jsonl"]);
    assert_eq!(
        refused(&out),
        "error: empty.jsonl holds no events (it is empty)"
    );
    let file = recording(dir.path());
    let header = file.lines().next().unwrap_or("").to_string() + "\n";
    fs::write(dir.path().join("header.jsonl"), header).unwrap();
    let out = joblock(dir.path(), &["replay", "header.jsonl"]);
    assert_eq!(
        refused(&out),
        "error: header.jsonl holds no events (only a header)"
    );
}

#[test]
fn a_fifo_a_device_a_directory_and_a_missing_file_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("fifo"));
    // A hang is the failure to catch here: the child is killed after a while.
    let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(["replay", "fifo", "--headless"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("joblock replay blocked on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        refused(&out),
        "error: fifo is a FIFO, not a recording (a regular file)"
    );
    for (path, what) in [
        ("/dev/zero", "is a character device"),
        (".", "is a directory"),
        ("missing.jsonl", "cannot read missing.jsonl: "),
    ] {
        let out = joblock(dir.path(), &["replay", path]);
        assert!(refused(&out).contains(what), "{path}: {}", show(&out));
    }
}

#[test]
fn bad_speeds_and_times_are_usage_errors_and_huge_times_are_clamped() {
    let (dir, _) = recorded();
    for bad in [
        &["--speed", "0"][..],
        &["--speed", "-1"],
        &["--speed", "nan"],
        &["--speed", "inf"],
        &["--speed", "1e300"],
        &["--speed", "0.001"],
        &["--at", "-1"],
        &["--at", "nan"],
        &["--at", "x"],
    ] {
        let mut args = vec!["replay", "ev.jsonl"];
        args.extend_from_slice(bad);
        let out = joblock(dir.path(), &args);
        let line = refused(&out);
        assert!(line.contains(bad[0]), "{bad:?}: {line}");
    }
    let out = joblock(
        dir.path(),
        &[
            "replay",
            "ev.jsonl",
            "--headless",
            "--at",
            "1e300",
            "--speed",
            "1024",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}
