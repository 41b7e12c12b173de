//! The safety promises as a user meets them through the real binary: a store that
//! forgets halts the run and cuts nothing, exit codes tell the truth, and files that
//! are not regular are refused before anything is truncated.

mod support;

use std::fs;

use joblock::verify::{self, RECORD};
use support::bin::{joblock, mkfifo, show, text};

#[test]
fn a_store_that_forgets_mid_run_halts_it_with_one_reason_and_cuts_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--headless",
        "--clock",
        "virtual",
        "--jobs",
        "6",
        "--seed",
        "3",
        "--crash-prob",
        "0",
        "--at",
        "30:reset",
    ];
    let out = joblock(dir.path(), &args);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{}", show(&out));
    assert!(
        lines[0].starts_with("error: halted:") && lines[0].contains("joblock reseed"),
        "{}",
        show(&out)
    );
    let finished = text(&out.stdout).matches(" FINISHED").count();
    assert!(
        finished >= 1,
        "no record was committed before the reset\n{}",
        show(&out)
    );
    let bytes = fs::read(dir.path().join("output.txt")).unwrap();
    let v = verify::check(&bytes, Some(finished));
    assert!(v.passed(), "{v:?}\n{}", show(&out));
    let record = fs::read_to_string(dir.path().join("output.txt.fence")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(
        record["watermark"],
        (finished * RECORD.len()) as u64,
        "{record}"
    );
}

#[test]
fn an_events_file_that_is_a_device_is_refused_before_the_output_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("output.txt"), "keep me").unwrap();
    let out = joblock(
        dir.path(),
        &[
            "--headless",
            "--clock",
            "virtual",
            "--jobs",
            "1",
            "--events",
            "/dev/full",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(text(&out.stderr).contains("/dev/full"), "{}", show(&out));
    assert_eq!(
        fs::read_to_string(dir.path().join("output.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn verify_refuses_a_device_and_a_fifo_instead_of_reading_forever() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    for path in ["/dev/zero", fifo.to_str().unwrap()] {
        let out = joblock(dir.path(), &["verify", path]);
        assert_eq!(out.status.code(), Some(2), "{path}: {}", show(&out));
        let err = text(&out.stderr);
        assert!(err.contains("not a regular file"), "{path}: {}", show(&out));
        assert_eq!(err.lines().count(), 1, "{}", show(&out));
    }
}

#[test]
fn an_output_that_is_a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("out"));
    let out = joblock(
        dir.path(),
        &[
            "--headless",
            "--clock",
            "virtual",
            "--jobs",
            "1",
            "--output",
            "out",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("not a regular file"),
        "{}",
        show(&out)
    );
}

#[test]
fn reseed_without_an_output_record_says_there_is_nothing_to_reseed_from() {
    let dir = tempfile::tempdir().unwrap();
    let out = joblock(
        dir.path(),
        &["reseed", "--store", "memory", "--output", "never.txt"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("never.txt") && err.contains("nothing to reseed"),
        "{}",
        show(&out)
    );
    assert!(
        !dir.path().join("never.txt").exists(),
        "reseed created the output"
    );
}

/// An escape sequence that would retitle the window and wipe the screen.
const NASTY: &str = "\u{1b}]2;pwned\u{7}\u{1b}[2J";

fn has_raw_controls(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| *b == 0x1b || *b == 0x07)
}

#[test]
fn a_client_name_with_escape_sequences_never_reaches_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let out = joblock(
        dir.path(),
        &[
            "worker",
            "--store",
            "memory",
            "--client",
            NASTY,
            "--jobs",
            "1",
            "--speed",
            "200",
            // 1 s of real time: a loaded machine must not fence the job.
            "--lease",
            "200",
            "--crash-prob",
            "0",
            "--output",
            "esc.txt",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!has_raw_controls(&out.stdout), "{}", show(&out));
    assert!(!has_raw_controls(&out.stderr), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("\\e]2;pwned\\x07\\e[2J"),
        "{}",
        show(&out)
    );
    // A bad value in an error line is escaped too.
    let out = joblock(dir.path(), &["--jobs", NASTY]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(!has_raw_controls(&out.stderr), "{}", show(&out));
}

#[test]
fn watch_text_escapes_keys_and_owners_from_the_store() {
    let view = joblock::watch::LockView {
        key: format!("lock:worker:{NASTY}"),
        owner: Some(format!("owner{NASTY}\u{202e}")),
        holder: Some(joblock::lock::Holder {
            owner: format!("owner{NASTY}\u{202e}"),
            host: format!("host{NASTY}"),
            pid: 7,
            command: vec![format!("cmd{NASTY}\u{202e}")],
            job: None,
            started_at_ms: 0,
        }),
        lease_ms: Some(3000),
        fence: 1,
        heartbeat: 2,
        committed: 27,
        unchanged_for: 0.5,
        state: "held".into(),
        waiters: vec![],
        ..Default::default()
    };
    let mut out = Vec::new();
    joblock::watch::write_text(&[view], "ns", &mut out).unwrap();
    assert!(!has_raw_controls(&out), "{}", text(&out));
    assert!(!text(&out).contains('\u{202e}'), "{}", text(&out));
    assert!(text(&out).contains("owner\\e]2;pwned"), "{}", text(&out));
    assert!(text(&out).contains("host\\e]2;pwned"), "{}", text(&out));
}
