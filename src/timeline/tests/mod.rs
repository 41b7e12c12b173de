//! Unit tests of the fold (events to holds, waits and marks); `picture` tests the
//! reading of a recording and the picture's bounds and escaping.

use super::*;
use crate::events::{Event, How, JobId, SeenLock, Stamped};

mod picture;

fn at(t: f64, event: Event) -> Stamped {
    Stamped { seq: 0, t, event }
}

fn queued(t: f64, job: JobId) -> Stamped {
    at(
        t,
        Event::Queued {
            job,
            client: "c".into(),
            hash: format!("h{job}"),
            will_crash: false,
        },
    )
}

fn acquired(t: f64, job: JobId, fence: u64, how: How, from_job: Option<JobId>) -> Stamped {
    at(
        t,
        Event::Acquired {
            job,
            client: "c".into(),
            fence,
            attempts: 1,
            waited: t,
            how,
            from_job,
            from_fence: from_job.map(|_| fence - 1),
            committed: 0,
            wseq: 0,
        },
    )
}

fn released(t: f64, job: JobId, fence: u64) -> Stamped {
    at(
        t,
        Event::Released {
            job,
            client: "c".into(),
            fence,
            committed: 27,
        },
    )
}

fn fold(events: &[Stamped]) -> Timeline {
    let mut f = Folder::new();
    for e in events {
        f.push(e);
    }
    f.finish()
}

fn span(h: &Hold) -> (JobId, f64, f64) {
    (h.job, h.start, h.end)
}

fn kinds(lane: &Lane) -> Vec<MarkKind> {
    lane.marks.iter().map(|m| m.kind).collect()
}

#[test]
fn holds_run_from_acquisition_to_release_and_waits_end_when_the_lock_is_had() {
    let tl = fold(&[
        queued(0.0, 1),
        queued(0.0, 2),
        acquired(0.1, 1, 1, How::Created, None),
        released(5.0, 1, 1),
        at(
            5.0,
            Event::Finished {
                job: 1,
                client: "c".into(),
            },
        ),
        acquired(5.1, 2, 2, How::Handoff, None),
        released(6.0, 2, 2),
    ]);
    let lane = &tl.lanes[0];
    assert_eq!(lane.key, "c");
    let holds: Vec<_> = lane.holds.iter().map(span).collect();
    assert_eq!(holds, vec![(1, 0.1, 5.0), (2, 5.1, 6.0)]);
    assert!(lane.holds.iter().all(|h| h.tail.is_none()));
    assert_eq!(
        lane.holds[0].ended,
        "released (27 bytes committed), then finished"
    );
    let waits: Vec<_> = lane.waits.iter().map(|w| (w.job, w.start, w.end)).collect();
    assert_eq!(waits, vec![(1, 0.0, 0.1), (2, 0.0, 5.1)]);
    assert_eq!(lane.waits[1].outcome, "acquired with fence 2");
    assert!(lane.marks.is_empty());
    assert_eq!((tl.start, tl.end, tl.events), (0.0, 6.0, 7));
}

#[test]
fn a_killed_holder_stays_dead_until_a_waiter_takes_over() {
    let tl = fold(&[
        acquired(0.0, 1, 1, How::Created, None),
        at(
            2.0,
            Event::Killed {
                job: 1,
                client: "c".into(),
                held: true,
            },
        ),
        at(
            5.0,
            Event::LeaseExpired {
                job: 2,
                client: "c".into(),
                holder: Some(1),
                fence: 1,
                unchanged_for: 3.0,
            },
        ),
        acquired(5.0, 2, 2, How::Takeover, Some(1)),
    ]);
    let lane = &tl.lanes[0];
    assert_eq!(span(&lane.holds[0]), (1, 0.0, 2.0));
    assert_eq!(lane.holds[0].tail, Some(Tail::Dead(5.0)));
    assert!(
        lane.holds[0].ended.contains("taken over by job 2"),
        "{}",
        lane.holds[0].ended
    );
    assert_eq!(lane.holds[1].from, Some((Some(1), Some(1))));
    assert_eq!(
        kinds(lane),
        vec![MarkKind::Kill, MarkKind::Expired, MarkKind::Takeover]
    );
}

#[test]
fn a_stalled_holder_taken_over_goes_on_stale_until_it_is_fenced() {
    let tl = fold(&[
        acquired(0.0, 1, 1, How::Created, None),
        at(
            1.0,
            Event::Stalled {
                job: 1,
                client: "c".into(),
                secs: 6.0,
            },
        ),
        acquired(4.0, 2, 2, How::Takeover, Some(1)),
        at(
            7.0,
            Event::WriteRejected {
                job: 1,
                client: "c".into(),
                fence: 1,
                highest: 2,
            },
        ),
        at(
            7.0,
            Event::Fenced {
                job: 1,
                client: "c".into(),
                reason: "write rejected".into(),
            },
        ),
        released(9.0, 2, 2),
    ]);
    let lane = &tl.lanes[0];
    assert_eq!(span(&lane.holds[0]), (1, 0.0, 4.0));
    assert_eq!(lane.holds[0].tail, Some(Tail::Stale(7.0)));
    assert!(
        lane.holds[0].ended.ends_with("then fenced: write rejected"),
        "{}",
        lane.holds[0].ended
    );
    assert_eq!(span(&lane.holds[1]), (2, 4.0, 9.0));
    let expected = [
        MarkKind::Stall,
        MarkKind::Takeover,
        MarkKind::Rejected,
        MarkKind::Fenced,
    ];
    assert_eq!(kinds(lane), expected);
}

#[test]
fn a_handoff_reported_before_its_release_leaves_no_stale_tail() {
    // Two threads report: the taker's acquisition may come first.
    let tl = fold(&[
        acquired(0.0, 1, 1, How::Created, None),
        acquired(3.0, 2, 2, How::Handoff, None),
        released(2.9, 1, 1),
    ]);
    let lane = &tl.lanes[0];
    assert_eq!(span(&lane.holds[0]), (1, 0.0, 2.9));
    assert_eq!(lane.holds[0].tail, None);
}

#[test]
fn what_is_still_open_ends_where_the_recording_ends() {
    let tl = fold(&[
        acquired(0.0, 1, 1, How::Created, None),
        queued(0.5, 2),
        at(
            1.0,
            Event::LockAttempt {
                job: 2,
                client: "c".into(),
                attempt: 4,
                seen: SeenLock::LostRace,
            },
        ),
        at(
            9.0,
            Event::Heartbeat {
                job: 1,
                client: "c".into(),
                fence: 1,
                beat: 3,
            },
        ),
    ]);
    let lane = &tl.lanes[0];
    assert_eq!(span(&lane.holds[0]), (1, 0.0, 9.0));
    assert_eq!(lane.holds[0].beats, 1);
    assert_eq!(
        (
            lane.waits[0].start,
            lane.waits[0].end,
            lane.waits[0].attempts
        ),
        (0.5, 9.0, 4)
    );
    assert!(lane.waits[0].outcome.contains("still waiting"));
}

#[test]
fn a_wait_with_no_queued_event_is_taken_from_the_acquisition() {
    let tl = fold(&[acquired(3.0, 1, 1, How::Created, None)]);
    let w = &tl.lanes[0].waits[0];
    assert_eq!((w.start, w.end), (0.0, 3.0));
}

#[test]
fn give_ups_crashes_and_the_runs_own_marks_are_marked() {
    let tl = fold(&[
        queued(0.0, 3),
        at(
            2.0,
            Event::GaveUp {
                job: 3,
                client: "c".into(),
                attempts: 20,
                waited: 2.0,
            },
        ),
        at(
            2.5,
            Event::Crashed {
                job: 4,
                client: "d".into(),
                reason: "crash draw".into(),
            },
        ),
        at(
            3.0,
            Event::InvariantBroken {
                what: "two holders".into(),
            },
        ),
        at(
            3.0,
            Event::FaultInjected {
                what: "outage 5s".into(),
            },
        ),
    ]);
    assert_eq!(kinds(&tl.lanes[0]), vec![MarkKind::GaveUp]);
    assert_eq!(tl.lanes[0].waits[0].end, 2.0);
    assert_eq!(kinds(&tl.lanes[1]), vec![MarkKind::Crash]);
    let run: Vec<_> = tl.marks.iter().map(|m| m.kind).collect();
    assert_eq!(run, vec![MarkKind::Invariant, MarkKind::Fault]);
    assert_eq!(tl.mark_count(), 4);
}
