//! The clock's own checks: virtual jumps, deadline order, pokes and pauses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use super::{Clock, Wake};

#[test]
fn virtual_sleep_jumps_to_the_deadline() {
    let clock = Clock::virtual_time();
    let c = clock.clone();
    let h = clock
        .spawn("t".into(), move || {
            c.sleep(Duration::from_secs(1000));
            c.now()
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), Duration::from_secs(1000));
}

#[test]
fn virtual_time_waits_for_running_participants() {
    let clock = Clock::virtual_time();
    let hold = clock.enlist();
    let c = clock.clone();
    let h = clock
        .spawn("sleeper".into(), move || {
            c.sleep(Duration::from_secs(5));
        })
        .unwrap();
    // The sleeper cannot wake while `hold` counts as running.
    assert_eq!(clock.now(), Duration::ZERO);
    drop(hold);
    h.join().unwrap();
    assert_eq!(clock.now(), Duration::from_secs(5));
}

#[test]
fn sleepers_wake_in_deadline_order() {
    let clock = Clock::virtual_time();
    let hold = clock.enlist();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut handles = Vec::new();
    for secs in [3u64, 1, 2] {
        let c = clock.clone();
        let tx = tx.clone();
        handles.push(
            clock
                .spawn(format!("s{secs}"), move || {
                    c.sleep(Duration::from_secs(secs));
                    tx.send((secs, c.now())).unwrap();
                })
                .unwrap(),
        );
    }
    drop(hold);
    for h in handles {
        h.join().unwrap();
    }
    let got: Vec<(u64, Duration)> = rx.try_iter().collect();
    assert_eq!(
        got,
        vec![
            (1, Duration::from_secs(1)),
            (2, Duration::from_secs(2)),
            (3, Duration::from_secs(3))
        ]
    );
}

#[test]
fn poke_interrupts_a_sleeper_whose_predicate_holds() {
    let clock = Clock::real(1.0);
    let flag = Arc::new(AtomicBool::new(false));
    let (c, f) = (clock.clone(), flag.clone());
    let h =
        thread::spawn(move || c.sleep_or(Duration::from_secs(3600), &|| f.load(Ordering::SeqCst)));
    flag.store(true, Ordering::SeqCst);
    clock.poke();
    assert_eq!(h.join().unwrap(), Wake::Interrupted);
}

#[test]
fn paused_real_clock_stands_still() {
    let clock = Clock::real(1000.0);
    clock.pause();
    let t = clock.now();
    thread::sleep(Duration::from_millis(5));
    assert_eq!(clock.now(), t);
    clock.resume();
}

#[test]
fn paused_virtual_clock_does_not_advance_until_resumed() {
    let clock = Clock::virtual_time();
    clock.pause();
    let c = clock.clone();
    let h = clock
        .spawn("s".into(), move || c.sleep(Duration::from_secs(7)))
        .unwrap();
    assert_eq!(clock.now(), Duration::ZERO);
    clock.resume();
    h.join().unwrap();
    assert_eq!(clock.now(), Duration::from_secs(7));
}

#[test]
fn a_task_on_a_reused_thread_hands_its_end_to_its_waiter() {
    let clock = Clock::virtual_time();
    let c = clock.clone();
    let h = clock
        .spawn("waiter".into(), move || {
            // A later sleeper: time must not jump to it between the task's end
            // and the waiter counting as running again.
            let later = c.clone();
            let other = c
                .spawn("later".into(), move || later.sleep(Duration::from_secs(10)))
                .unwrap();
            let finish = super::Finish::default();
            let (ticket, f, t) = (c.enlist(), finish.clone(), c.clone());
            // A plain thread, as a parked one is: it counts only through the ticket.
            let worker = thread::spawn(move || {
                {
                    let _mark = ticket.mark_current_thread();
                    t.sleep(Duration::from_secs(5));
                }
                t.finish(&f, ticket);
            });
            c.wait_finish(&finish);
            let at = c.now();
            worker.join().unwrap();
            drop(other);
            at
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), Duration::from_secs(5));
}
