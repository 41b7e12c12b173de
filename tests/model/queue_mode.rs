//! Queue mode (`handoff`): a release may hand the lock to a waiter instead. The
//! handoffs keep every property, stay live, and are really taken (matched
//! handoffs, and lost handoff replies a waiter recognises, are counted); a handoff
//! without the owner and fence filter is caught.

use stateright::Checker;

use crate::Id;
use crate::action::Action;
use crate::checks::{
    assert_every_worker_can_still_end, assert_release_errors_lose_no_record, check_all_properties,
    discover,
};
use crate::explorer::Explorer;
use crate::lock_model::{Finish, LockModel};
use crate::properties::{A, B, C1, output_is_whole_records};
use crate::state::{Pc, State};

/// A matched handoff: its waiter left waiting holding the lock.
fn handed(s: &State, a: Action, t: &State) -> bool {
    a.receiver()
        .is_some_and(|to| s.workers[to].pc == Pc::Waiting && t.workers[to].pc != Pc::Waiting)
}

/// A waiter reads the lock and finds itself the owner: a handoff whose reply was lost.
fn found_itself_owner(s: &State, a: Action, t: &State) -> bool {
    let i = a.worker();
    matches!(a, Action::Read(_))
        && s.doc.is_some_and(|d| d.owner == Some(i as Id))
        && matches!(t.workers[i].pc, Pc::FenceIn(_))
}

/// The lock in queue mode: every release may instead hand the lock to a waiter.
const QUEUE_MODE: LockModel = LockModel {
    broken: false,
    no_expiry: false,
    release_errors: None,
    handoff: true,
    broken_handoff: false,
};

/// Queue mode with store errors on the release (and handoff) that commits a record.
const WITH_RELEASE_ERRORS: LockModel = LockModel {
    release_errors: Some(Finish::Current),
    ..QUEUE_MODE
};
/// Its name in the printed counts.
const RELEASE_ERRORS: &str = "queue mode, release errors";

#[test]
fn queue_mode_handoffs_keep_every_property() {
    check_all_properties(QUEUE_MODE, "queue mode");
}

#[test]
fn queue_mode_handoffs_with_release_errors_never_lose_a_committed_record() {
    assert_release_errors_lose_no_record(
        WITH_RELEASE_ERRORS,
        RELEASE_ERRORS,
        "a handoff with release errors",
    );
}

#[test]
fn queue_mode_from_every_state_every_worker_can_still_end_without_more_faults() {
    let handoffs = assert_every_worker_can_still_end(&QUEUE_MODE, "queue mode", handed);
    println!("queue mode: {handoffs} steps between reachable states are matched handoffs");
    assert!(handoffs > 0, "no handoff ever matched");
}

#[test]
fn queue_mode_with_release_errors_every_worker_can_still_end_without_more_faults() {
    let recognised =
        assert_every_worker_can_still_end(&WITH_RELEASE_ERRORS, RELEASE_ERRORS, found_itself_owner);
    println!("{RELEASE_ERRORS}: {recognised} steps are reads that find a lost handoff applied");
    assert!(recognised > 0, "no waiter ever found a lost handoff");
}

#[test]
fn the_model_check_catches_a_handoff_without_the_owner_and_fence_filter() {
    // A handoff filtered on `_id` alone (like `Broken::UncheckedRelease`): a holder
    // that stalled and was taken over still hands the lock on, with the fence the
    // taker already holds. Both fence in (the output accepts an equal fence) and
    // their chunks interleave; and where the handoff committed a record, the taker's
    // fence-in (with the committed length it read before) cuts it.
    let model = LockModel {
        broken_handoff: true,
        ..QUEUE_MODE
    };
    let checker = discover(model, &[A, B, C1]);
    assert!(
        checker.discovery(A).is_some(),
        "interleaved writers unnoticed"
    );
    assert!(checker.discovery(B).is_some(), "a repeated fence unnoticed");
    assert!(checker.discovery(C1).is_some(), "a cut record unnoticed");
    let schedule = Explorer::shortest(&model, |s| !output_is_whole_records(&s.out));
    println!(
        "unfiltered handoff, shortest schedule to interleaved writers:\n{}",
        schedule.expect("found by the explorer too")
    );
}
