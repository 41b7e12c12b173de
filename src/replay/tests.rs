use std::time::Duration;

use super::*;
use crate::events::{Event, How, Stamped};

fn at(t: f64, event: Event) -> Stamped {
    Stamped { seq: 0, t, event }
}

fn plain(t: f64) -> Stamped {
    at(t, Event::Paused)
}

fn killed(t: f64) -> Stamped {
    at(
        t,
        Event::Killed {
            job: 1,
            client: "c".into(),
            held: true,
        },
    )
}

/// Events at the given times, numbered from 1.
fn player(times: &[f64]) -> Player {
    let events = times
        .iter()
        .enumerate()
        .map(|(i, &t)| Stamped {
            seq: i as u64 + 1,
            ..plain(t)
        })
        .collect();
    Player::new(events)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn it_starts_paused_at_0_with_nothing_applied() {
    let mut p = player(&[0.0, 1.0, 2.0]);
    assert_eq!(
        (p.time(), p.cursor(), p.playing(), p.speed()),
        (0.0, 0, false, 1.0)
    );
    assert_eq!(p.end_time(), 2.0);
    // Paused, real time changes nothing.
    assert_eq!(p.advance(secs(5.0)), Step::Forward(0..0));
    assert!(p.advance(secs(5.0)).is_none());
}

#[test]
fn playing_applies_what_is_due_and_stops_at_the_end() {
    let mut p = player(&[0.0, 1.0, 2.0, 4.0]);
    p.set_playing(true);
    assert_eq!(p.advance(secs(0.5)), Step::Forward(0..1));
    assert_eq!(p.time(), 0.5);
    assert_eq!(p.advance(secs(0.5)), Step::Forward(1..2));
    p.set_speed(2.0);
    assert_eq!(p.advance(secs(0.5)), Step::Forward(2..3));
    assert_eq!(p.time(), 2.0);
    assert_eq!(p.advance(secs(100.0)), Step::Forward(3..4));
    assert_eq!((p.time(), p.cursor(), p.playing()), (4.0, 4, false));
    assert!(p.at_end());
    // At the end, play stays off until playback goes back.
    p.set_playing(true);
    assert!(!p.playing());
    assert_eq!(p.to_start(), Step::Rebuild(0));
    p.set_playing(true);
    assert!(p.playing());
}

#[test]
fn the_speed_is_clamped_and_never_0_nan_or_infinite() {
    let mut p = player(&[0.0]);
    for (asked, got) in [
        (0.0, MIN_SPEED),
        (-3.0, MIN_SPEED),
        (1e-300, MIN_SPEED),
        (f64::INFINITY, MAX_SPEED),
        (1e300, MAX_SPEED),
        (8.0, 8.0),
    ] {
        p.set_speed(asked);
        assert_eq!(p.speed(), got, "{asked}");
    }
    p.set_speed(f64::NAN);
    assert_eq!(p.speed(), 8.0);
}

#[test]
fn seeking_forward_folds_on_and_back_rebuilds() {
    let mut p = player(&[0.0, 1.0, 2.0, 3.0]);
    assert_eq!(p.seek_to(1.5), Step::Forward(0..2));
    assert_eq!(p.seek_to(2.5), Step::Forward(2..3));
    assert_eq!(p.seek_to(0.5), Step::Rebuild(1));
    assert_eq!(p.seek_by(2.0), Step::Forward(1..3));
    assert_eq!(p.time(), 2.5);
    assert_eq!(p.seek_by(-0.2), Step::Forward(3..3));
    assert_eq!(p.seek_by(-1.0), Step::Rebuild(2));
    assert_eq!(p.seek_to(f64::NAN), Step::Forward(2..2));
    assert_eq!(p.seek_by(f64::NAN), Step::Forward(2..2));
}

#[test]
fn seeking_past_the_end_or_before_the_start_is_clamped() {
    let mut p = player(&[1.0, 2.0]);
    assert_eq!(p.seek_to(99.0), Step::Forward(0..2));
    assert_eq!(p.time(), 2.0);
    assert_eq!(p.seek_to(f64::INFINITY), Step::Forward(2..2));
    assert_eq!(p.seek_to(-5.0), Step::Rebuild(0));
    assert_eq!(p.time(), 0.0);
    assert_eq!(p.seek_by(f64::NEG_INFINITY), Step::Forward(0..0));
    assert_eq!(p.to_end(), Step::Forward(0..2));
    assert_eq!(p.to_end(), Step::Forward(2..2));
    assert_eq!(p.to_start(), Step::Rebuild(0));
    assert_eq!(p.to_start(), Step::Forward(0..0));
}

#[test]
fn stepping_moves_one_event_and_pauses() {
    let mut p = player(&[0.0, 1.0, 3.0]);
    p.set_playing(true);
    assert_eq!(p.step_forward(), Step::Forward(0..1));
    assert!(!p.playing());
    assert_eq!((p.time(), p.cursor()), (0.0, 1));
    assert_eq!(p.step_forward(), Step::Forward(1..2));
    assert_eq!(p.step_forward(), Step::Forward(2..3));
    assert_eq!((p.time(), p.cursor()), (3.0, 3));
    assert_eq!(p.step_forward(), Step::Forward(3..3));
    assert_eq!(p.step_back(), Step::Rebuild(2));
    // Time goes back to the last applied event's.
    assert_eq!((p.time(), p.cursor()), (1.0, 2));
    assert_eq!(p.step_back(), Step::Rebuild(1));
    assert_eq!(p.step_back(), Step::Rebuild(0));
    assert_eq!((p.time(), p.cursor()), (0.0, 0));
    assert_eq!(p.step_back(), Step::Forward(0..0));
}

#[test]
fn step_back_at_0_goes_to_time_0() {
    let mut p = player(&[5.0]);
    p.seek_to(3.0);
    assert_eq!(p.cursor(), 0);
    assert_eq!(p.step_back(), Step::Forward(0..0));
    assert_eq!(p.time(), 0.0);
}

#[test]
fn events_at_equal_times_step_one_at_a_time() {
    let mut p = player(&[0.0, 0.0, 0.0]);
    assert_eq!(p.end_time(), 0.0);
    assert_eq!(p.step_forward(), Step::Forward(0..1));
    assert_eq!(p.step_forward(), Step::Forward(1..2));
    assert_eq!(p.step_back(), Step::Rebuild(1));
    // Playing from time 0 applies every event due at 0, then stops at the end.
    p.set_playing(true);
    assert_eq!(p.advance(secs(0.01)), Step::Forward(1..3));
    assert!(!p.playing());
    assert_eq!(p.fraction(), 1.0);
    assert_eq!(p.seek_to(0.0), Step::Forward(3..3));
}

#[test]
fn a_single_event_and_no_events_never_panic() {
    let mut p = player(&[2.0]);
    assert_eq!(p.to_end(), Step::Forward(0..1));
    assert_eq!(p.prev_mark(), Step::Forward(1..1));
    assert_eq!(p.step_back(), Step::Rebuild(0));
    let mut empty = Player::new(Vec::new());
    assert_eq!(empty.end_time(), 0.0);
    empty.set_playing(true);
    assert!(!empty.playing());
    for step in [
        empty.advance(secs(1.0)),
        empty.seek_to(3.0),
        empty.seek_by(-3.0),
        empty.step_forward(),
        empty.step_back(),
        empty.next_mark(),
        empty.prev_mark(),
        empty.to_end(),
        empty.to_start(),
    ] {
        assert_eq!(step, Step::Forward(0..0));
    }
    assert_eq!(empty.label(), "‖ 1x  t=0.0s/0.0s  event 0/0");
}

#[test]
fn huge_times_neither_panic_nor_spin() {
    let mut p = player(&[0.0, 1e300, f64::MAX]);
    p.set_speed(MAX_SPEED);
    p.set_playing(true);
    // The longest real time at the highest speed is far from 1e300: it plays on.
    assert_eq!(p.advance(Duration::MAX), Step::Forward(0..1));
    assert!(p.playing() && p.time() > 1e22);
    assert_eq!(p.seek_to(f64::MAX), Step::Forward(1..3));
    assert_eq!((p.time(), p.playing()), (f64::MAX, false));
    assert_eq!(p.seek_by(-1e300), Step::Rebuild(2));
    assert_eq!(p.step_back(), Step::Rebuild(1));
    assert_eq!(p.time(), 0.0);
    assert_eq!(p.step_forward(), Step::Forward(1..2));
    assert_eq!(p.time(), 1e300);
    assert!(
        p.label().contains("t=1.000e300s/1.798e308s"),
        "{}",
        p.label()
    );
    // Infinite, NaN and negative times (not in JSON, but a caller can build them).
    let mut odd = player(&[f64::NAN, -4.0, f64::INFINITY, 1.0]);
    assert_eq!(odd.end_time(), f64::MAX);
    assert_eq!(odd.seek_to(0.0), Step::Forward(0..2));
    assert_eq!(odd.to_end(), Step::Forward(2..4));
}

#[test]
fn a_time_that_steps_back_along_the_stream_is_due_with_the_event_before() {
    // A real clock: the third event was stamped before the second was emitted.
    let mut p = player(&[0.0, 2.0, 1.5, 3.0]);
    assert_eq!(p.seek_to(1.7), Step::Forward(0..1));
    assert_eq!(p.seek_to(2.0), Step::Forward(1..3));
    assert_eq!(p.end_time(), 3.0);
}

#[test]
fn marks_jump_to_faults_and_takeovers() {
    let takeover = at(
        4.0,
        Event::Acquired {
            job: 2,
            client: "c".into(),
            fence: 2,
            attempts: 9,
            waited: 3.0,
            how: How::Takeover,
            from_job: Some(1),
            from_fence: Some(1),
            committed: 0,
            wseq: 1,
        },
    );
    let events = vec![
        plain(0.0),
        killed(1.0),
        plain(2.0),
        plain(3.0),
        takeover,
        plain(5.0),
    ];
    let mut p = Player::new(events);
    assert_eq!(p.marks(), &[1, 4]);
    assert_eq!(p.next_mark(), Step::Forward(0..2));
    assert_eq!((p.time(), p.cursor()), (1.0, 2));
    assert_eq!(p.next_mark(), Step::Forward(2..5));
    assert_eq!((p.time(), p.cursor()), (4.0, 5));
    assert_eq!(p.next_mark(), Step::Forward(5..5));
    assert_eq!(p.prev_mark(), Step::Rebuild(2));
    assert_eq!(p.prev_mark(), Step::Forward(2..2));
    p.to_end();
    assert_eq!(p.prev_mark(), Step::Rebuild(5));
    p.to_start();
    assert_eq!(p.prev_mark(), Step::Forward(0..0));
}

#[test]
fn store_faults_mark_once_and_handoffs_do_not_mark() {
    let fault = |t| {
        at(
            t,
            Event::FaultInjected {
                what: "store outage for 5s".into(),
            },
        )
    };
    let applied = |t, command: &str, job| {
        at(
            t,
            Event::CommandApplied {
                command: command.into(),
                job,
            },
        )
    };
    assert!(is_mark(&fault(0.0).event));
    assert!(!is_mark(&applied(0.0, "store outage for 5s", None).event));
    assert!(is_mark(&applied(0.0, "kill the holder", Some(3)).event));
    assert!(is_mark(
        &applied(0.0, "stall the holder for 6s", Some(3)).event
    ));
    assert!(!is_mark(&applied(0.0, "add a job", Some(3)).event));
    assert!(!is_mark(&applied(0.0, "stop", None).event));
    let handoff = Event::Acquired {
        job: 2,
        client: "c".into(),
        fence: 2,
        attempts: 1,
        waited: 0.0,
        how: How::Handoff,
        from_job: None,
        from_fence: None,
        committed: 27,
        wseq: 3,
    };
    assert!(!is_mark(&handoff));
}

#[test]
fn the_label_says_state_speed_time_and_events() {
    let mut p = player(&[0.0, 60.0, 120.0]);
    p.seek_to(34.5);
    p.set_speed(2.0);
    p.set_playing(true);
    assert_eq!(p.label(), "▶ 2x  t=34.5s/120.0s  event 1/3");
    p.set_playing(false);
    p.set_speed(0.25);
    assert_eq!(p.label(), "‖ 1/4x  t=34.5s/120.0s  event 1/3");
    p.set_speed(1.5);
    assert!(p.label().starts_with("‖ 1.5x "));
    assert!((p.fraction() - 34.5 / 120.0).abs() < 1e-12);
}
