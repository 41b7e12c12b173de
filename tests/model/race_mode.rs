//! Race mode (every waiter polls): the lock keeps every property, stays live, and
//! the variants that must fail do (a blind-write acquisition, no expiry, and
//! `finish` as first written against release errors); release errors against the
//! current `finish` lose no committed record.

use stateright::Checker;

use crate::WORKERS;
use crate::checks::{
    assert_every_worker_can_still_end, assert_release_errors_lose_no_record, check_all_properties,
    discover,
};
use crate::explorer::{Explorer, Predicate};
use crate::lock_model::{Finish, LockModel};
use crate::properties::{
    A, B, C1, C2, committed_is_finished_records, committed_is_intact, count,
    output_is_whole_records,
};
use crate::state::{End, Pc};

#[test]
fn the_lock_protocol_holds_for_three_workers_in_every_interleaving() {
    check_all_properties(LockModel::default(), "lock model");
}

#[test]
fn from_every_state_every_worker_can_still_end_without_more_faults() {
    assert_every_worker_can_still_end(&LockModel::default(), "race mode", |_, _, _| false);
}

#[test]
fn the_liveness_check_catches_a_lock_without_expiry() {
    let model = LockModel {
        no_expiry: true,
        ..LockModel::default()
    };
    let (explorer, _) = Explorer::run(&model, |_| false);
    let stuck = explorer
        .stuck_state()
        .expect("a killed holder wedges a lock without expiry");
    assert!(
        stuck
            .workers
            .iter()
            .any(|w| matches!(w.pc, Pc::Done(End::Killed { .. })))
    );
}

#[test]
fn the_model_check_catches_a_broken_lock() {
    let model = LockModel {
        broken: true,
        ..LockModel::default()
    };
    let checker = discover(model, &[A, B]);
    assert!(
        checker.discovery(A).is_some(),
        "interleaved writers unnoticed"
    );
    assert!(checker.discovery(B).is_some(), "a repeated fence unnoticed");
    let schedule = Explorer::shortest(&model, |s| !output_is_whole_records(&s.out));
    println!(
        "broken lock (blind-write acquisition), shortest schedule to interleaved writers:\n{}",
        schedule.expect("found by the explorer too")
    );
}

#[test]
fn release_errors_never_lose_a_committed_record() {
    let model = LockModel {
        release_errors: Some(Finish::Current),
        ..LockModel::default()
    };
    // What may remain, and is printed, is reporting: `Lease::release` recognises its
    // own applied release only while its lease is valid or while `released_fence` is
    // still its own. A job whose retry comes after both (its lease ran out during the
    // lost release and the retry pause, and meanwhile another job acquired, wrote its
    // record and released it: a release that commits nothing leaves the receipt
    // alone) reports `fenced` although its record is committed: no data is lost, but
    // the job count disagrees with the output.
    assert_release_errors_lose_no_record(model, "release errors", "a release error");
}

#[test]
fn the_model_check_catches_the_original_finish_cutting_a_committed_record() {
    // `Worker::finish` as first written: after a release whose reply was lost, a
    // failing lease check sent the job down `fenced_path`, whose repair fenced in with
    // the committed length from the acquisition and cut the record the release had
    // just committed; every later job's fence-in then failed (`ShorterThanCommitted`).
    let model = LockModel {
        release_errors: Some(Finish::Original),
        ..LockModel::default()
    };
    let checker = discover(model, &[C1, C2]);
    assert!(checker.discovery(C1).is_some(), "the cut record unnoticed");
    assert!(
        checker.discovery(C2).is_some(),
        "the misreported job unnoticed"
    );
    let cases: [(&str, Predicate); 3] = [
        ("a committed record reported as fenced", |s| {
            committed_is_intact(s) && !committed_is_finished_records(s)
        }),
        ("a committed record cut", |s| !committed_is_intact(s)),
        ("every later job failing its fence-in", |s| {
            count(s, |e| e == End::OutputError) == WORKERS - 1
        }),
    ];
    for (what, bad) in cases {
        let schedule = Explorer::shortest(&model, bad).expect(what);
        println!("original finish, shortest schedule to {what}:\n{schedule}");
    }
}
