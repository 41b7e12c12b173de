//! The invariant checks on hand-made event logs: each rule caught, and sound runs
//! left alone.

use super::*;

fn at(seq: u64, t: f64, event: Event) -> Stamped {
    Stamped { seq, t, event }
}

fn acquired(job: JobId, fence: u64, how: How, from: Option<u64>, wseq: u64) -> Event {
    Event::Acquired {
        job,
        client: "c".into(),
        fence,
        attempts: 1,
        waited: 0.0,
        how,
        from_job: None,
        from_fence: from,
        committed: 0,
        wseq,
    }
}

fn chunk(job: JobId, fence: u64, wseq: u64) -> Event {
    Event::ChunkWritten {
        job,
        client: "c".into(),
        fence,
        chunk: 1,
        of: 1,
        offset: 0,
        text: "x".into(),
        wseq,
    }
}

fn queued(job: JobId) -> Event {
    Event::Queued {
        job,
        client: "c".into(),
        hash: format!("h{job}"),
        will_crash: false,
    }
}

fn released(job: JobId, fence: u64) -> Event {
    Event::Released {
        job,
        client: "c".into(),
        fence,
        committed: 0,
    }
}

fn finished(job: JobId) -> Event {
    Event::Finished {
        job,
        client: "c".into(),
    }
}

fn fenced(job: JobId) -> Event {
    Event::Fenced {
        job,
        client: "c".into(),
        reason: "r".into(),
    }
}

#[test]
fn a_clean_handoff_is_sound() {
    let ev = vec![
        at(1, 0.0, queued(1)),
        at(2, 0.0, queued(2)),
        at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
        at(4, 2.0, chunk(1, 1, 2)),
        at(5, 3.0, released(1, 1)),
        at(6, 3.0, finished(1)),
        at(7, 3.5, acquired(2, 2, How::Handoff, None, 3)),
        at(8, 4.0, chunk(2, 2, 4)),
        at(9, 5.0, released(2, 2)),
        at(10, 5.0, finished(2)),
    ];
    assert_eq!(check(&ev), Vec::<String>::new());
}

#[test]
fn two_holders_at_once_are_reported_even_if_one_crashed() {
    let ev = vec![
        at(1, 0.0, queued(1)),
        at(2, 0.0, queued(2)),
        at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
        at(4, 1.5, acquired(2, 2, How::Handoff, None, 2)),
        at(
            5,
            2.0,
            Event::Crashed {
                job: 1,
                client: "c".into(),
                reason: "x".into(),
            },
        ),
        at(6, 3.0, released(2, 2)),
        at(7, 3.0, finished(2)),
    ];
    let v = check(&ev);
    assert!(v.iter().any(|l| l.contains("at the same time")), "{v:?}");
}

#[test]
fn a_stalled_holder_overlapping_its_taker_is_allowed_if_it_wrote_nothing_after() {
    let ev = vec![
        at(1, 0.0, queued(1)),
        at(2, 0.0, queued(2)),
        at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
        at(4, 1.0, chunk(1, 1, 2)),
        at(5, 5.0, acquired(2, 2, How::Takeover, Some(1), 3)),
        at(6, 6.0, chunk(2, 2, 4)),
        at(7, 8.0, fenced(1)),
        at(8, 9.0, released(2, 2)),
        at(9, 9.0, finished(2)),
    ];
    assert_eq!(check(&ev), Vec::<String>::new());
}

fn expired(fence: u64) -> Event {
    Event::LeaseExpired {
        job: 9,
        client: "c".into(),
        holder: Some(1),
        fence,
        unchanged_for: 3.0,
    }
}

#[test]
fn a_holder_whose_expired_lease_went_to_a_taker_that_never_fenced_in_is_allowed() {
    // Job 1 holds fence 1 and stalls; a waiter sees the lease expire and takes
    // fence 2 in the store but loses its own fence-in to job 2, who took fence 3.
    let ev = vec![
        at(1, 0.0, queued(1)),
        at(2, 0.0, queued(2)),
        at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
        at(4, 1.0, chunk(1, 1, 2)),
        at(5, 4.5, expired(1)),
        at(6, 5.0, acquired(2, 3, How::Takeover, Some(2), 3)),
        at(7, 6.0, chunk(2, 3, 4)),
        at(8, 8.0, fenced(1)),
        at(9, 9.0, released(2, 3)),
        at(10, 9.0, finished(2)),
    ];
    assert_eq!(check(&ev), Vec::<String>::new());
}

#[test]
fn a_release_that_was_sent_but_never_confirmed_ends_the_hold() {
    // Job 1's crash-path release applied but every reply was lost; job 2 then
    // took the free lock. Job 1 held nothing from its release's sending on.
    let unconfirmed = Event::ReleaseUnconfirmed {
        job: 1,
        client: "c".into(),
        fence: 1,
    };
    let crashed = Event::Crashed {
        job: 1,
        client: "c".into(),
        reason: "x".into(),
    };
    let ev = vec![
        at(1, 0.0, queued(1)),
        at(2, 0.0, queued(2)),
        at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
        at(4, 2.0, unconfirmed),
        at(5, 3.0, acquired(2, 2, How::Handoff, None, 2)),
        at(6, 4.0, crashed),
        at(7, 5.0, released(2, 2)),
        at(8, 5.0, finished(2)),
    ];
    assert_eq!(check(&ev), Vec::<String>::new());
    // Without the event the same story is two holders at once.
    let mut without = ev.clone();
    without.remove(3);
    assert!(check(&without).iter().any(|l| l.contains("same time")));
}

#[test]
fn a_stale_holder_that_writes_after_a_higher_fence_is_reported() {
    let ev = vec![
        at(1, 0.0, queued(1)),
        at(2, 0.0, queued(2)),
        at(3, 1.0, acquired(1, 1, How::Created, None, 1)),
        at(4, 4.5, expired(1)),
        at(5, 5.0, acquired(2, 2, How::Takeover, Some(1), 2)),
        at(6, 5.5, chunk(1, 1, 3)),
    ];
    let v = check(&ev);
    assert!(
        v.iter().any(|l| l.contains("after a higher fence")),
        "{v:?}"
    );
}

#[test]
fn interleaved_writes_and_a_falling_fence_are_reported() {
    let ev = vec![
        at(1, 0.0, chunk(1, 1, 1)),
        at(2, 0.0, chunk(2, 2, 2)),
        at(3, 0.0, chunk(1, 1, 3)),
    ];
    let v = check(&ev);
    assert!(v.iter().any(|l| l.contains("interleave")), "{v:?}");
    assert!(v.iter().any(|l| l.contains("accepted fence 1")), "{v:?}");
}

#[test]
fn a_job_without_an_end_or_with_two_is_reported() {
    let ev = vec![
        at(1, 0.0, queued(1)),
        at(2, 0.0, queued(2)),
        at(3, 1.0, finished(2)),
        at(4, 1.0, finished(2)),
    ];
    let v = check(&ev);
    assert!(
        v.iter().any(|l| l.contains("job 1 has 0 end states")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|l| l.contains("job 2 has 2 end states")),
        "{v:?}"
    );
}
