//! Tests of the lease floor rule and its timing.
use super::*;
use crate::events::schedule::{MAX_SECS, MAX_SPEED, MIN_SECS, MIN_SPEED};

fn timing(speed: f64) -> LeaseTiming {
    LeaseTiming {
        lease: 3.0,
        latency: 1.0,
        speed,
        clock: ClockKind::Real,
        floor: 0.2,
    }
}

#[test]
fn the_default_run_at_speed_1000_is_below_the_floor() {
    let b = timing(1000.0).below_floor().expect("below");
    assert_eq!(b.lease_real, 0.003);
    // (2 s - 1 s) / 1000.
    assert!((b.slack_real - 0.001).abs() < 1e-12, "{b:?}");
    assert_eq!(
        b.explain(),
        "the 3s lease is 3ms of real time, leaving a holder 1ms to renew, under the 200ms this machine can keep; heartbeats may miss it and jobs end fenced; use --clock virtual or --speed 5 or lower"
    );
}

#[test]
fn the_default_speed_keeps_the_floor_and_the_threshold_is_exact() {
    assert_eq!(timing(1.0).below_floor(), None);
    // 1 s of slack / 5 = 200 ms: on the floor is not below it.
    assert_eq!(timing(5.0).below_floor(), None);
    assert!(timing(5.01).below_floor().is_some());
}

#[test]
fn a_virtual_clock_never_is_below_the_floor() {
    for speed in [MIN_SPEED, 1.0, 1000.0, MAX_SPEED] {
        let t = LeaseTiming {
            clock: ClockKind::Virtual,
            ..timing(speed)
        };
        assert_eq!(t.below_floor(), None, "{speed}");
    }
}

#[test]
fn a_store_latency_that_eats_the_slack_is_below_at_any_speed() {
    let t = LeaseTiming {
        latency: 2.5,
        ..timing(MIN_SPEED)
    };
    let b = t.below_floor().expect("below");
    assert!(b.slack_real < 0.0);
    assert_eq!(b.fastest_ok, None);
    assert!(b.explain().contains("no time to renew"), "{}", b.explain());
    assert!(b.explain().ends_with("a longer --lease"), "{}", b.explain());
}

#[test]
fn a_recording_without_a_floor_is_not_judged() {
    let t = LeaseTiming {
        floor: 0.0,
        ..timing(MAX_SPEED)
    };
    assert_eq!(t.below_floor(), None);
}

#[test]
fn extreme_and_nonsense_values_never_panic() {
    let speeds = [MIN_SPEED, 0.01, 1.0, 64.0, 1024.0, MAX_SPEED];
    let secs = [0.0, MIN_SECS, 1.0, 3.0, MAX_SECS];
    for &speed in &speeds {
        for &lease in &secs[1..] {
            for &latency in &secs {
                let t = LeaseTiming {
                    lease,
                    latency,
                    ..timing(speed)
                };
                if let Some(b) = t.below_floor() {
                    // Every text renders, whatever the numbers.
                    assert!(!b.explain().is_empty());
                    assert!(!b.short().is_empty());
                    assert!(b.cause(u32::MAX).starts_with("4294967295 job(s) fenced"));
                }
            }
        }
    }
    // The fastest speed with the shortest lease is below; the slowest with the
    // longest is not.
    let fast = LeaseTiming {
        lease: MIN_SECS,
        latency: 0.0,
        ..timing(MAX_SPEED)
    };
    assert!(fast.below_floor().is_some());
    let slow = LeaseTiming {
        lease: MAX_SECS,
        latency: 0.0,
        ..timing(MIN_SPEED)
    };
    assert_eq!(slow.below_floor(), None);
    for bad in [f64::NAN, f64::INFINITY, -1.0, 0.0] {
        assert_eq!(timing(bad).below_floor(), None, "speed {bad}");
        let t = LeaseTiming {
            lease: bad,
            ..timing(1000.0)
        };
        if !bad.is_finite() || bad < 0.0 {
            assert_eq!(t.below_floor(), None, "lease {bad}");
        }
    }
}

#[test]
fn real_time_reads_in_its_unit() {
    assert_eq!(real(0.003), "3ms");
    assert_eq!(real(0.2), "200ms");
    assert_eq!(real(3e-6), "3µs");
    assert_eq!(real(1.5), "1.5s");
    assert_eq!(real(1e-12), "under 1µs");
    assert_eq!(number(1000.0), "1000");
    assert_eq!(number(0.0001), "1.0e-4");
}

#[test]
fn a_scenario_on_a_real_store_counts_no_simulated_latency() {
    let sc = Scenario {
        speed: 1000.0,
        store: StoreUrl::Sqlite("/tmp/x.db".into()),
        ..Scenario::default()
    };
    let t = LeaseTiming::of_scenario(&sc);
    assert_eq!((t.latency, t.floor), (0.0, 0.2));
    assert_eq!(LeaseTiming::of_scenario(&Scenario::default()).latency, 1.0);
}

#[test]
fn crossings_warn_at_the_start_and_on_each_crossing_only() {
    let mut c = Crossings::default();
    let first = c
        .line(&crate::events::for_tests::started(1000.0, "real"))
        .expect("a warning");
    assert!(
        first.starts_with("warning: at --speed 1000 the 3s lease is 3ms of real time"),
        "{first}"
    );
    // Still below: nothing new to say.
    assert_eq!(c.line(&Event::SpeedChanged { speed: 500.0 }), None);
    let back = c.line(&Event::SpeedChanged { speed: 2.0 }).expect("a note");
    assert_eq!(
        back,
        "note: speed set to 2: the lease is back above the 200ms floor, leaving a holder 500ms to renew"
    );
    assert_eq!(c.line(&Event::SpeedChanged { speed: 4.0 }), None);
    let again = c
        .line(&Event::SpeedChanged { speed: 8.0 })
        .expect("a warning");
    assert!(
        again.starts_with("warning: speed set to 8: the 3s lease is 375ms of real time"),
        "{again}"
    );
    assert_eq!(c.line(&Event::Paused), None);
    assert_eq!(c.below().map(|b| b.speed), Some(8.0));
}

#[test]
fn crossings_say_nothing_at_the_default_speed_or_on_a_virtual_clock() {
    let mut c = Crossings::default();
    assert_eq!(
        c.line(&crate::events::for_tests::started(1.0, "real")),
        None
    );
    let mut v = Crossings::default();
    assert_eq!(
        v.line(&crate::events::for_tests::started(1000.0, "virtual")),
        None
    );
    assert_eq!(v.line(&Event::SpeedChanged { speed: 1e6 }), None);
    // A speed change before any start has nothing to judge by.
    assert_eq!(
        Crossings::default().line(&Event::SpeedChanged { speed: 1e6 }),
        None
    );
}
