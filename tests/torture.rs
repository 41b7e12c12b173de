//! The torture campaign (issue #5): randomized scenarios with random fault
//! schedules, every run checked; and proof that it catches a broken lock.

use std::process::Command;

use joblock::engine;
use joblock::lock::Broken;
use joblock::torture::{Campaign, base_scenario_for, campaign, problems};

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

#[test]
fn the_campaign_also_draws_store_resets_and_stop_orders() {
    let dir = tempfile::tempdir().unwrap();
    let c = Campaign {
        runs: 150,
        seed: 20_261_207,
        broken: None,
    };
    let report = campaign(&c, dir.path(), |_, _| {}).unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    for kind in ["store reset", "run stop"] {
        let n = report.faults.get(kind).copied().unwrap_or(0);
        assert!(n >= 5, "{kind} drawn only {n} times: {:?}", report.faults);
    }
}

/// Runs one seed's base schedule (as campaigns drew it when the seed was found).
fn replay_base(seed: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("torture-{seed}.txt"));
    let handle = engine::start(base_scenario_for(seed, &out, None)).unwrap();
    for _ in handle.events().iter() {}
    problems(&handle.join().unwrap())
}

#[test]
fn a_takeover_that_crashes_before_fencing_in_still_leaves_no_torn_record() {
    // Found by a random campaign: a job took over from a killed writer with a crash
    // order pending and released without repairing; no later job of that client
    // came, and the end-of-run recovery only looked at locks still held.
    assert_eq!(replay_base(8_372_017_992_787_504_582), Vec::<String>::new());
}

#[test]
fn a_crash_release_whose_reply_was_lost_is_not_reported_as_two_holders() {
    // Found by a random campaign: a self-fenced job's release applied but every
    // reply was lost; the next job acquired the free lock, and the checker took the
    // first job for a holder until its end.
    assert_eq!(replay_base(1_338_961_401_240_485_208), Vec::<String>::new());
}

#[test]
fn a_store_reset_after_the_last_holder_of_a_key_died_halts_and_loses_nothing() {
    // Found by a random campaign: a holder was killed mid-record, no job of that
    // client followed, then the store forgot everything.
    let dir = tempfile::tempdir().unwrap();
    let c = Campaign {
        runs: 1,
        seed: 10_791_537_029_555_034_093,
        broken: None,
    };
    let report = campaign(&c, dir.path(), |_, _| {}).unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.faults.get("store reset"), Some(&1));
}

#[test]
fn a_campaign_from_a_fresh_random_seed_finds_no_violation() {
    // A guarantee holds on every seed: each test run tries new ones. The seed is
    // printed so that a failure can be replayed with `joblock torture --seed S`.
    let seed = rand::random::<u64>() >> 1;
    eprintln!("torture campaign from seed {seed}");
    let dir = tempfile::tempdir().unwrap();
    let c = Campaign {
        runs: 100,
        seed,
        broken: None,
    };
    let report = campaign(&c, dir.path(), |_, _| {}).unwrap();
    assert!(
        report.failure.is_none(),
        "campaign from seed {seed}: {:?}",
        report.failure
    );
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
