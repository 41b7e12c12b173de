//! The lease-floor warning, from the real binary: a run whose lease is shorter in
//! real time than this machine can keep says so on its first line (and again when
//! a speed change crosses the floor); a run at the default speed or on the virtual
//! clock says nothing. Only lines and exit codes are checked, never how the run
//! went: whether a 3 ms lease holds depends on the machine's load.

mod support;

use std::process::Output;

use support::bin::{joblock, show, text};
use tempfile::TempDir;

fn workdir() -> TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

fn first_line(out: &Output) -> String {
    text(&out.stdout).lines().next().unwrap_or("").to_string()
}

/// A finished run: 0 when every job kept its lease, 3 when some were fenced, and
/// then the summary's trouble line blames the floor (a usage error, an invariant
/// or a crash is never what a fast run earns).
fn assert_finished_and_blamed_if_fenced(out: &Output) {
    match out.status.code() {
        Some(0) => {}
        Some(3) => assert!(
            text(&out.stderr).contains("fenced: the lease was below the machine's floor"),
            "{}",
            show(out)
        ),
        _ => panic!("not a finished run\n{}", show(out)),
    }
}

#[test]
fn at_speed_1000_the_first_line_warns_of_the_floor() {
    let dir = workdir();
    let out = joblock(
        dir.path(),
        &[
            "--headless",
            "--speed",
            "1000",
            "--jobs",
            "2",
            "--crash-prob",
            "0",
        ],
    );
    assert_eq!(
        first_line(&out),
        "warning: at --speed 1000 the 3s lease is 3ms of real time, leaving a holder 1ms to renew, under the 200ms this machine can keep; heartbeats may miss it and jobs end fenced; use --clock virtual or --speed 5 or lower",
        "{}",
        show(&out)
    );
    assert_finished_and_blamed_if_fenced(&out);
}

#[test]
fn a_speed_change_across_the_floor_warns_when_it_happens() {
    let dir = workdir();
    let out = joblock(
        dir.path(),
        &[
            "--headless",
            "--jobs",
            "1",
            "--crash-prob",
            "0",
            "--chunk-pause",
            "0",
            "--at",
            "0:speed=1000",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(first_line(&out).contains("run started"), "{}", show(&out));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("warning: speed set to 1000: the 3s lease is 3ms")),
        "{}",
        show(&out)
    );
    assert_finished_and_blamed_if_fenced(&out);
}

/// A run of `args` that starts with its first line, never mentions a floor and passes.
fn says_nothing_of_a_floor(dir: &std::path::Path, args: &[&str]) {
    let out = joblock(dir, args);
    assert!(first_line(&out).contains("run started"), "{}", show(&out));
    assert!(!text(&out.stdout).contains("floor"), "{}", show(&out));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn the_default_speed_and_the_virtual_clock_say_nothing_of_a_floor() {
    let dir = workdir();
    // The default speed; no chunk pause, so one job takes about a second.
    let real = [
        "--headless",
        "--jobs",
        "1",
        "--crash-prob",
        "0",
        "--chunk-pause",
        "0",
    ];
    says_nothing_of_a_floor(dir.path(), &real);

    let dir = workdir();
    let virt = [
        "--headless",
        "--clock",
        "virtual",
        "--speed",
        "1000",
        "--jobs",
        "2",
        "--crash-prob",
        "0",
    ];
    says_nothing_of_a_floor(dir.path(), &virt);
}

#[test]
fn json_lines_stay_json_and_the_warning_goes_to_stderr() {
    let dir = workdir();
    let out = joblock(
        dir.path(),
        &[
            "--json",
            "--speed",
            "1000",
            "--jobs",
            "2",
            "--crash-prob",
            "0",
        ],
    );
    let first = first_line(&out);
    let event: serde_json::Value = serde_json::from_str(&first).expect("a JSON line");
    assert_eq!(event["type"], "run_started", "{first}");
    // The event states what the warning is judged by.
    assert_eq!(
        (event["latency"].as_f64(), event["floor"].as_f64()),
        (Some(1.0), Some(0.2))
    );
    assert!(
        text(&out.stderr).starts_with("warning: at --speed 1000 the 3s lease"),
        "{}",
        show(&out)
    );
    assert_finished_and_blamed_if_fenced(&out);
}
