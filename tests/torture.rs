//! The torture campaign (issue #5): randomized scenarios with random fault
//! schedules, every run checked; and proof that it catches a broken lock.

use std::process::Command;

use joblock::lock::Broken;
use joblock::torture::{Campaign, campaign};

const KINDS: [&str; 8] = [
    "job crash",
    "job kill",
    "job stall",
    "store fail",
    "store jitter",
    "store latency",
    "store lost reply",
    "store outage",
];

#[test]
fn a_bounded_campaign_injects_every_fault_kind_and_finds_no_violation() {
    let dir = tempfile::tempdir().unwrap();
    let c = Campaign {
        runs: 150,
        seed: 20_261_128,
        broken: None,
    };
    let report = campaign(&c, dir.path(), |_, _| {}).unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.runs, 150);
    for kind in KINDS {
        let n = report.faults.get(kind).copied().unwrap_or(0);
        assert!(
            n >= 20,
            "{kind} injected only {n} times: {:?}",
            report.faults
        );
    }
}

fn catches(broken: Broken) -> (u64, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let c = Campaign {
        runs: 200,
        seed: 1,
        broken: Some(broken),
    };
    let report = campaign(&c, dir.path(), |_, _| {}).unwrap();
    let failure = report.failure.expect("the broken lock was caught");
    assert!(!failure.problems.is_empty());
    (failure.seed, failure.problems)
}

#[test]
fn the_campaign_catches_a_lock_that_acquires_with_a_blind_write() {
    let (seed, problems) = catches(Broken::BlindAcquire);
    // The same seed replays the same schedule and fails the same way.
    let dir = tempfile::tempdir().unwrap();
    let again = campaign(
        &Campaign {
            runs: 1,
            seed,
            broken: Some(Broken::BlindAcquire),
        },
        dir.path(),
        |_, _| {},
    )
    .unwrap();
    assert!(
        again.failure.is_some(),
        "seed {seed} did not fail again: {problems:?}"
    );
}

#[test]
fn the_campaign_catches_a_lock_whose_release_does_not_check_the_owner() {
    catches(Broken::UncheckedRelease);
}

#[test]
fn the_torture_command_reports_the_failing_seed_and_exits_1() {
    let out = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args([
            "torture",
            "--runs",
            "200",
            "--seed",
            "1",
            "--break-lock",
            "blind-acquire",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failing seed"), "{text}");
    assert!(
        text.contains("--runs 1 --break-lock blind-acquire"),
        "{text}"
    );
}

#[test]
fn the_torture_command_passes_on_the_real_lock() {
    let out = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(["torture", "--runs", "20", "--seed", "7", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"], 20);
    assert!(v["failure"].is_null());
}
