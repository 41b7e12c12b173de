//! `joblock timeline` on real recordings: a run of the binary with faults is
//! drawn, the SVG is parsed as XML, and its bars and marks are counted against
//! counts taken independently from the recording's events. Bad inputs are refused
//! with one line and leave no picture behind.

#[path = "support/bin.rs"]
mod bin;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bin::joblock;
use serde_json::Value;
use tempfile::TempDir;

fn workdir() -> TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(args: &[&str], out: &Output) -> String {
    format!(
        "joblock {}\nexit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Runs `joblock ARGS` in `dir` and asserts it exits 0.
fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = joblock(dir, args);
    assert_eq!(out.status.code(), Some(0), "{}", show(args, &out));
    out
}

/// The seed-7 scenario of two clients with a kill at 10 s and a stall at 30 s,
/// recorded to `e.jsonl` in `dir`.
fn record(dir: &Path) -> Vec<Value> {
    let args = [
        "--headless",
        "--clock",
        "virtual",
        "--seed",
        "7",
        "--clients",
        "2",
        "--at",
        "10:kill",
        "--at",
        "30:stall",
        "--events",
        "e.jsonl",
    ];
    ok(dir, &args);
    let events = fs::read_to_string(dir.join("e.jsonl")).expect("read the recording");
    events
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The mark class each event kind must leave, if any.
fn mark_class(e: &Value) -> Option<&'static str> {
    Some(match e["type"].as_str()? {
        "crashed" => "crash",
        "killed" => "kill",
        "lease_expired" => "expired",
        "acquired" if e["how"] == "takeover" => "takeover",
        "write_rejected" => "rejected",
        "repair" => "repair",
        "fenced" => "fenced",
        "gave_up" => "gave-up",
        "stalled" => "stall",
        "command_signalled" => "signal",
        "heartbeat_failed" => "beat-failed",
        "output_failed" => "output-failed",
        _ => return None,
    })
}

/// Per key: (what, count), what being `hold`, `wait` or a mark class.
type Counts = BTreeMap<String, BTreeMap<String, usize>>;

fn expected(events: &[Value]) -> Counts {
    let mut c = Counts::new();
    for e in events {
        let Some(key) = e["client"].as_str() else {
            continue;
        };
        let lane = c.entry(key.to_string()).or_default();
        if e["type"] == "acquired" {
            *lane.entry("hold".into()).or_default() += 1;
        }
        if e["type"] == "queued" {
            *lane.entry("wait".into()).or_default() += 1;
        }
        if let Some(class) = mark_class(e) {
            *lane.entry(class.into()).or_default() += 1;
        }
    }
    c
}

/// The same counts read off the picture: each lane group's holds (summing
/// `data-n`), waiting lines, and marks by their second class.
fn drawn(svg: &str) -> Counts {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    let mut c = Counts::new();
    for lane in doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
    {
        let key = lane.attribute("data-key").expect("a lane names its key");
        let counts = c.entry(key.to_string()).or_default();
        for n in lane.descendants() {
            let classes: Vec<&str> = n.attribute("class").unwrap_or("").split(' ').collect();
            let weight: usize = n
                .attribute("data-n")
                .map_or(1, |v| v.parse().expect("data-n"));
            let what = match classes.as_slice() {
                ["hold", ..] => "hold",
                ["wait"] => "wait",
                ["mark", kind] => kind,
                _ => continue,
            };
            *counts.entry(what.to_string()).or_default() += weight;
        }
    }
    c
}

#[test]
fn a_recorded_run_draws_one_bar_per_acquisition_and_one_mark_per_moment() {
    let dir = workdir();
    let events = record(dir.path());
    let want = expected(&events);
    // The scenario has the moments the picture is for, or this test proves little.
    let c1 = &want["client-1"];
    for class in [
        "kill", "takeover", "expired", "rejected", "repair", "stall", "fenced", "crash",
    ] {
        assert!(
            c1.get(class).is_some_and(|n| *n > 0),
            "no {class} in the recording: {want:?}"
        );
    }
    let out = ok(dir.path(), &["timeline", "e.jsonl", "-o", "out.svg"]);
    let svg = fs::read_to_string(dir.path().join("out.svg")).expect("the picture");
    assert_eq!(drawn(&svg), want);
    let holds: usize = want.values().map(|l| l["hold"]).sum();
    let marks: usize = want
        .values()
        .flat_map(|l| l.iter())
        .filter(|(k, _)| !["hold", "wait"].contains(&k.as_str()))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        text(&out.stdout),
        format!("wrote out.svg: 2 keys, {holds} holds, {marks} marks\n")
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // The killed holder's bar goes on dead until the takeover; the stalled one's goes on stale.
    assert!(svg.contains("<rect class=\"dead\"") && svg.contains("<rect class=\"stale\""));
    assert!(
        svg.contains("f1 \u{b7} j25"),
        "the first holder's fence and job are on its bar"
    );
}

#[test]
fn the_html_page_embeds_the_svg_with_hover_tooltips() {
    let dir = workdir();
    record(dir.path());
    let out = ok(dir.path(), &["timeline", "e.jsonl", "-o", "run.html"]);
    assert!(text(&out.stdout).starts_with("wrote run.html: 2 keys, "));
    let html = fs::read_to_string(dir.path().join("run.html")).expect("the page");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<style>"));
    let (start, end) = (
        html.find("<svg").expect("an svg"),
        html.find("</svg>").expect("its end"),
    );
    let svg = &html[start..end + "</svg>".len()];
    assert_eq!(drawn(svg), expected(&events_of(dir.path())));
    assert!(
        svg.contains(
            "<title>job 25 \u{b7} fence 1 \u{b7} first acquisition\nheld 0.056s to 10.000s"
        ),
        "{svg}"
    );
    assert!(svg.matches("<title>").count() > 40);
}

fn events_of(dir: &Path) -> Vec<Value> {
    let events = fs::read_to_string(dir.join("e.jsonl")).expect("read the recording");
    events
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn dash_writes_the_svg_to_stdout_and_a_header_line_is_skipped() {
    let dir = workdir();
    record(dir.path());
    // Every recorder writes its header line first.
    let body = fs::read_to_string(dir.path().join("e.jsonl")).expect("read");
    assert!(
        body.starts_with("{\"type\":\"recording\""),
        "{}",
        &body[..80]
    );
    let out = ok(dir.path(), &["timeline", "e.jsonl", "-o", "-"]);
    let svg = text(&out.stdout);
    assert_eq!(drawn(&svg), expected(&events_of(dir.path())));
    assert!(text(&out.stderr).starts_with("wrote SVG to stdout: 2 keys"));
}

#[test]
fn names_full_of_markup_are_escaped() {
    let dir = workdir();
    record(dir.path());
    let body = fs::read_to_string(dir.path().join("e.jsonl")).expect("read");
    let evil = r#""<evil & \"x\">""#;
    fs::write(
        dir.path().join("evil.jsonl"),
        body.replace("\"client-1\"", evil),
    )
    .expect("write");
    ok(dir.path(), &["timeline", "evil.jsonl", "-o", "evil.svg"]);
    let svg = fs::read_to_string(dir.path().join("evil.svg")).expect("the picture");
    let counts = drawn(&svg);
    assert!(counts.contains_key("<evil & \"x\">"), "{:?}", counts.keys());
    assert!(!svg.contains("<evil"));
}

#[test]
fn a_joblock_run_recording_draws_its_hold_with_its_command() {
    let dir = workdir();
    let store = format!("sqlite://{}", dir.path().join("locks.db").display());
    let args = [
        "run",
        "--store",
        &store,
        "--key",
        "worker:acme",
        "--events",
        "r.jsonl",
        "--",
        "true",
    ];
    ok(dir.path(), &args);
    let out = ok(dir.path(), &["timeline", "r.jsonl", "-o", "r.svg"]);
    assert_eq!(text(&out.stdout), "wrote r.svg: 1 key, 1 hold, 0 marks\n");
    let svg = fs::read_to_string(dir.path().join("r.svg")).expect("the picture");
    assert!(
        svg.contains("data-key=\"worker:acme\"") && svg.contains("command: true (pid "),
        "{svg}"
    );
}

/// Runs `joblock ARGS`, killing it if it takes more than 20 s (a FIFO opened
/// for reading would block for ever).
fn bounded(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start joblock");
    let start = Instant::now();
    while child.try_wait().expect("poll joblock").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("joblock {} hung", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("joblock's output")
}

/// Asserts `args` exit `code` with one stderr line containing `names`, and that
/// `dir` holds nothing new.
fn refused(dir: &Path, args: &[&str], code: i32, names: &str) {
    let before = listing(dir);
    let out = bounded(dir, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{}", show(args, &out));
    assert_eq!(err.lines().count(), 1, "{}", show(args, &out));
    assert!(
        err.contains(names) && !err.contains("panicked"),
        "{}",
        show(args, &out)
    );
    assert!(out.stdout.is_empty(), "{}", show(args, &out));
    assert_eq!(listing(dir), before, "{}", show(args, &out));
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn bad_input_is_refused_on_one_line_and_leaves_no_picture() {
    let dir = workdir();
    let d = dir.path();
    let good =
        r#"{"seq":1,"t":0.0,"type":"queued","job":1,"client":"c","hash":"h","will_crash":false}"#;
    fs::write(
        d.join("bad.jsonl"),
        format!("{good}\n{good}\n{{\"seq\":3,\"t\":1.0,\"type\":\"acquired\"}}\n"),
    )
    .expect("write");
    fs::write(d.join("good.jsonl"), format!("{good}\n")).expect("write");
    fs::write(d.join("empty.jsonl"), "").expect("write");
    fs::write(d.join("old.svg"), "old").expect("write");
    let fifo = Command::new("mkfifo")
        .arg(d.join("fifo"))
        .status()
        .expect("run mkfifo");
    assert!(fifo.success());
    fs::create_dir(d.join("dir.svg")).expect("mkdir");
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["good.jsonl", "-o", "out.png"],
            2,
            "unknown picture format .png",
        ),
        (&["good.jsonl", "-o", "out"], 2, "(no extension)"),
        (&["missing.jsonl", "-o", "out.svg"], 2, "missing.jsonl"),
        (
            &["bad.jsonl", "-o", "out.svg"],
            2,
            "bad.jsonl: line 3: not an event: missing field `job`",
        ),
        // A picture already there is left as it was.
        (&["bad.jsonl", "-o", "old.svg"], 2, "line 3"),
        (
            &["empty.jsonl", "-o", "out.svg"],
            2,
            "empty.jsonl: no events",
        ),
        (
            &["fifo", "-o", "out.svg"],
            2,
            "fifo: not a regular file (a FIFO)",
        ),
        (&["/dev/null", "-o", "out.svg"], 2, "a character device"),
        (
            &["good.jsonl", "-o", "out.svg", "--width", "5"],
            2,
            "--width",
        ),
        // A directory is no place for the picture: refused like a bad name.
        (
            &["good.jsonl", "-o", "dir.svg"],
            2,
            "dir.svg is a directory, not a regular file",
        ),
        // The picture cannot be written: exit 3.
        (
            &["good.jsonl", "-o", "no/such/dir/out.svg"],
            3,
            "cannot write no/such/dir/out.svg",
        ),
    ];
    for (args, code, names) in cases {
        let args: Vec<&str> = ["timeline"].iter().chain(args.iter()).copied().collect();
        refused(d, &args, *code, names);
    }
    assert_eq!(
        fs::read_to_string(d.join("old.svg")).ok().as_deref(),
        Some("old")
    );
    // And the good recording draws.
    ok(d, &["timeline", "good.jsonl", "-o", "out.svg"]);
}
