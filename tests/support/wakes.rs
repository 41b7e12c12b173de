//! What the tests of the stores that notify (Redis, SQLite) share: a waiter woken by
//! another handle's update, and a waiting lock woken by the holder's release.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use joblock::clock::Clock;
use joblock::lock::{AcquireObserver, AcquireOutcome, Lock, LockConfig, Seen, Via, lock_key};
use joblock::store::Store;
use serde_json::json;

/// How long a wait that should be woken may last before the test calls it a
/// timeout: far longer than a wake takes on a loaded machine.
const WAKE_BOUND: Duration = Duration::from_secs(30);

/// Primes `waiter` for `id` (a first wait, which subscribes or takes a first look,
/// so nothing changed from then on can be missed), then blocks it in a long wait in
/// another thread while `updater` sets `n` on the document: the wait must report
/// the change, i.e. wake before its timeout.
pub fn assert_update_wakes(waiter: &dyn Store, updater: &dyn Store, id: &str, n: u64) {
    waiter.wait_for_change(id, Duration::from_millis(1));
    thread::scope(|s| {
        let (started, ready) = mpsc::channel();
        let wait = s.spawn(move || {
            started.send(()).unwrap();
            waiter.wait_for_change(id, WAKE_BOUND)
        });
        ready.recv().unwrap();
        assert!(
            updater
                .update_one(&json!({"_id": id}), &json!({"n": n}))
                .unwrap()
                .is_some()
        );
        assert!(
            wait.join().unwrap(),
            "the wait for {id:?} timed out instead of waking on the update"
        );
    });
}

/// Tells the test when the waiter has made its second attempt: the first wait
/// (between attempts 1 and 2) subscribed or took its first look, so a release from
/// then on wakes it.
struct SignalSecondAttempt(mpsc::Sender<Seen>);

impl AcquireObserver for SignalSecondAttempt {
    fn attempt(&mut self, attempt: u32, seen: &Seen) {
        if attempt == 2 {
            let _ = self.0.send(seen.clone());
        }
    }
}

/// Two handles of `store` take one lock in turn: B waits while A holds it, and
/// acquires as soon as A releases, woken by the store rather than by its retry.
///
/// Real time at speed 1, with a retry of 60 s: a polling waiter would wait at least
/// that long after the release; a woken one needs far less than half of it.
pub fn a_waiting_lock_acquires_as_soon_as_the_holder_releases(store: &dyn Store) {
    let clock = Clock::real(1.0);
    let config = LockConfig {
        lease: Duration::from_secs(180),
        retry: Duration::from_secs(60),
        give_up: Duration::from_secs(600),
    };
    let key = lock_key("worker", "client-1");
    let a = Lock::new(store.for_caller(1), clock.clone(), key.clone(), config);
    let b = Lock::new(store.for_caller(2), clock.clone(), key, config);
    let (lease, _) = super::locks::acquire(&a, "a");
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        match b
            .acquire("b", &mut SignalSecondAttempt(tx), &|| false)
            .unwrap()
        {
            AcquireOutcome::Acquired(lease, acq) => (lease, acq),
            AcquireOutcome::GaveUp { waited, .. } => panic!("B gave up after {waited:?}"),
            AcquireOutcome::Aborted { .. } => panic!("B aborted"),
        }
    });
    let seen = rx.recv().expect("B made a second attempt");
    assert!(
        matches!(&seen, Seen::Held { owner, .. } if owner == "a"),
        "{seen:?}"
    );
    assert!(lease.release(0).unwrap());
    let (lease_b, acq) = waiter.join().unwrap();
    assert_eq!(acq.via, Via::Free);
    assert!(
        acq.waited < config.retry / 2,
        "B waited {:?}: it was not woken by the release",
        acq.waited
    );
    assert!(lease_b.release(0).unwrap(), "B's release");
}
