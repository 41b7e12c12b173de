use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::*;
use crate::events::{Event, Stamped};

fn stamped(seq: u64, t: f64) -> Stamped {
    Stamped {
        seq,
        t,
        event: Event::Paused,
    }
}

fn line(s: &Stamped) -> String {
    let mut out = Vec::new();
    s.write_json_line(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn params() -> Map<String, Value> {
    let Value::Object(m) = json!({"jobs": 3, "seed": 42, "store": "memory", "at": ["1:kill"]})
    else {
        unreachable!()
    };
    m
}

fn header_line(h: &RecordingHeader) -> String {
    let mut out = Vec::new();
    write_header(&mut out, h).unwrap();
    String::from_utf8(out).unwrap()
}

/// A file in a fresh directory holding `text`.
fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ev.jsonl");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn error(path: &Path) -> String {
    match load(path) {
        Ok(r) => panic!("loaded {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_header_and_its_events_round_trip() {
    let h = RecordingHeader::new(Source::Headless, params());
    let written = header_line(&h);
    assert!(
        written.starts_with(r#"{"type":"recording","format":1,"joblock":""#),
        "{written}"
    );
    let text = written + &line(&stamped(1, 0.0)) + &line(&stamped(2, 1.5));
    let (_dir, path) = file(&text);
    let r = load(&path).unwrap();
    assert_eq!(r.header.as_ref(), Some(&h));
    assert_eq!(r.format(), FORMAT);
    assert_eq!(r.events, vec![stamped(1, 0.0), stamped(2, 1.5)]);
    assert!(!r.truncated_tail);
    assert_eq!(r.end_time(), 1.5);
    assert_eq!(r.summary(), None);
}

#[test]
fn a_recording_without_a_header_is_format_0() {
    let (_dir, path) = file(&(line(&stamped(1, 0.0)) + &line(&stamped(2, 0.0))));
    let r = load(&path).unwrap();
    assert_eq!((&r.header, r.format(), r.events.len()), (&None, 0, 2));
}

#[test]
fn a_header_from_a_newer_joblock_is_refused() {
    let text = r#"{"type":"recording","format":3,"whatever":"changed"}"#.to_string()
        + "\n"
        + &line(&stamped(1, 0.0));
    let (_dir, path) = file(&text);
    assert_eq!(
        error(&path),
        format!(
            "{} was recorded by a newer joblock (format 3; this one reads up to 1)",
            path.display()
        )
    );
}

#[test]
fn a_bad_line_is_named_by_its_number_in_one_line() {
    let good = line(&stamped(1, 0.0));
    let (_dir, path) = file(&format!("{good}{{\"seq\":2,\"t\":0,\"type\":\"foo\"}}\n"));
    assert_eq!(
        error(&path),
        format!("{} line 2: unknown event type \"foo\"", path.display())
    );
    let (_dir, path) = file(&format!(
        "{good}{{\"seq\":2,\"t\":0,\"type\":\"queued\"}}\n"
    ));
    let msg = error(&path);
    assert!(msg.contains("line 2: missing field"), "{msg}");
    assert!(!msg.contains("line 1"), "{msg}");
    let (_dir, path) = file(&format!("{good}not json\n{good}"));
    let msg = error(&path);
    assert!(msg.contains("line 2: expected"), "{msg}");
    assert_eq!(msg.lines().count(), 1);
    let (_dir, path) = file(&format!("{good}{{\"seq\":2,\"t\":0,\"type\":\"a\\nb\"}}\n"));
    assert!(error(&path).ends_with(r#"unknown event type "a\nb""#));
}

#[test]
fn a_header_anywhere_but_the_first_line_is_refused() {
    let h = header_line(&RecordingHeader::new(Source::Run, Map::new()));
    let (_dir, path) = file(&(line(&stamped(1, 0.0)) + &h));
    assert!(error(&path).contains("line 2: a recording header belongs on the first line"));
}

#[test]
fn a_header_missing_its_fields_is_named() {
    let (_dir, path) = file(&format!(
        "{{\"type\":\"recording\",\"format\":1}}\n{}",
        line(&stamped(1, 0.0))
    ));
    let msg = error(&path);
    assert!(
        msg.contains("line 1: not a recording header: missing field"),
        "{msg}"
    );
}

#[test]
fn empty_files_and_headers_alone_are_refused() {
    let (_dir, path) = file("");
    assert!(error(&path).ends_with("holds no events (it is empty)"));
    let (_dir, path) = file("\n\n");
    assert!(error(&path).ends_with("holds no events (it is empty)"));
    let h = header_line(&RecordingHeader::new(Source::Dashboard, params()));
    let (_dir, path) = file(&h);
    assert!(error(&path).ends_with("holds no events (only a header)"));
    // A header and the start of a first event: still nothing to replay.
    let (_dir, path) = file(&format!("{h}{{\"seq\":1,\"t\""));
    assert!(error(&path).ends_with("holds no events (only a header)"));
}

#[test]
fn a_last_line_cut_short_is_left_out_and_flagged() {
    let whole = line(&stamped(1, 0.0)) + &line(&stamped(2, 1.0));
    let (_dir, path) = file(&format!("{whole}{{\"seq\":3,\"t\":2.0,\"ty"));
    let r = load(&path).unwrap();
    assert_eq!((r.events.len(), r.truncated_tail), (2, true));
    // A whole last line without its newline is whole.
    let (_dir, path) = file(whole.trim_end());
    let r = load(&path).unwrap();
    assert_eq!((r.events.len(), r.truncated_tail), (2, false));
}

#[test]
fn events_out_of_order_or_repeated_are_refused_with_the_line() {
    let (_dir, path) =
        file(&(line(&stamped(1, 0.0)) + &line(&stamped(3, 0.0)) + &line(&stamped(2, 0.0))));
    assert_eq!(
        error(&path),
        format!(
            "{} line 3: seq 2 after seq 3: a recording holds one run's events in stream order",
            path.display()
        )
    );
    let (_dir, path) = file(&(line(&stamped(1, 0.0)) + "\n" + &line(&stamped(1, 0.0))));
    assert!(error(&path).contains("line 3: seq 1 after seq 1"));
}

#[test]
fn fifos_devices_and_directories_are_refused_before_opening() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(
        error(&fifo),
        format!(
            "{} is a FIFO, not a recording (a regular file)",
            fifo.display()
        )
    );
    assert!(error(Path::new("/dev/null")).contains("is a character device"));
    assert!(error(dir.path()).contains("is a directory"));
    let missing = dir.path().join("missing.jsonl");
    assert!(error(&missing).starts_with(&format!("cannot read {}: ", missing.display())));
}

#[test]
fn huge_times_load() {
    let (_dir, path) = file(&(line(&stamped(1, 0.0)) + &line(&stamped(2, 1e300))));
    assert_eq!(load(&path).unwrap().end_time(), 1e300);
}

#[test]
fn the_description_puts_the_main_parameters_first() {
    let h = RecordingHeader::new(Source::Dashboard, params());
    assert_eq!(
        h.describe(),
        format!(
            "recording: joblock {} dashboard · jobs 3 · seed 42 · store memory · at 1:kill",
            env!("CARGO_PKG_VERSION")
        )
    );
}
