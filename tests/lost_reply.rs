//! A reply lost after the operation applied must not orphan the lock: the waiter
//! re-reads the document and recognises its own owner id (issue #4, store trouble).

use std::sync::Arc;
use std::time::Duration;

use joblock::clock::Clock;
use joblock::lock::{AcquireOutcome, Lock, LockConfig, Quiet, Via};
use joblock::store::{FaultyStore, MemoryConfig, MemoryStore, Store};

mod support;

use support::locks::acquire;

fn config() -> LockConfig {
    LockConfig {
        lease: Duration::from_secs(3),
        retry: Duration::from_millis(100),
        give_up: Duration::from_secs(60),
    }
}

/// A lock on the test key through `store`.
fn lock_on(store: Arc<dyn Store>, clock: &Clock) -> Lock {
    Lock::new(store, clock.clone(), "lock:worker:c".into(), config())
}

fn setup() -> (Clock, Arc<FaultyStore>) {
    let clock = Clock::virtual_time();
    let memory: Arc<dyn Store> =
        Arc::new(MemoryStore::new(clock.clone(), MemoryConfig::default(), 1));
    (clock, Arc::new(FaultyStore::new(memory, 2)))
}

#[test]
fn a_lost_reply_to_the_first_insert_still_gives_the_lock_to_its_writer() {
    let (clock, store) = setup();
    store.faults().lose_next_replies(1);
    let lock = lock_on(store.clone(), &clock);
    let c = clock.clone();
    let got = clock
        .spawn("waiter".into(), move || {
            let out = lock.acquire("me", &mut Quiet, &|| false).unwrap();
            (out, c.now())
        })
        .unwrap()
        .join()
        .unwrap();
    let (AcquireOutcome::Acquired(lease, acq), at) = got else {
        panic!("the waiter did not get its own lock back");
    };
    assert_eq!(acq.via, Via::Created);
    assert_eq!(lease.fence(), 1);
    assert_eq!(acq.attempts, 2, "recognised on the very next attempt");
    // It did not wait for its own lease to expire.
    assert!(at < Duration::from_secs(1), "took {at:?}");
    assert_eq!(store.faults().injected(), 1);
}

#[test]
fn a_lost_reply_to_a_compare_and_set_still_gives_the_lock_to_its_writer() {
    let (clock, store) = setup();
    let first = lock_on(store.clone(), &clock);
    let second = lock_on(store.for_caller(9), &clock);
    let s2 = store.clone();
    let got = clock
        .spawn("jobs".into(), move || {
            let (a, acq) = acquire(&first, "a");
            assert!(a.release(acq.committed + 27).unwrap());
            s2.faults().lose_next_replies(1);
            second.acquire("b", &mut Quiet, &|| false).unwrap()
        })
        .unwrap()
        .join()
        .unwrap();
    let AcquireOutcome::Acquired(lease, acq) = got else {
        panic!("b did not get its own lock back");
    };
    assert_eq!(lease.fence(), 2);
    assert_eq!(acq.committed, 27);
    assert_eq!(acq.via, Via::Free);
    // The lease is really b's: it renews.
    assert!(matches!(
        lease.renew(),
        Ok(joblock::lock::Renewal::Renewed(_))
    ));
}

#[test]
fn store_errors_back_off_instead_of_hammering_the_store() {
    let (clock, store) = setup();
    store.faults().fail_next(6);
    let lock = lock_on(store.clone(), &clock);
    let c = clock.clone();
    let at = clock
        .spawn("waiter".into(), move || {
            let _ = lock.acquire("me", &mut Quiet, &|| false).unwrap();
            c.now()
        })
        .unwrap()
        .join()
        .unwrap();
    // Six failures with doubling pauses: 0.2 + 0.4 + 0.8 + 1.6 + 2 + 2 s, far more
    // than six plain 0.1 s retries.
    assert!(at >= Duration::from_secs(6), "acquired after {at:?}");
    assert!(at < Duration::from_secs(8), "acquired after {at:?}");
}

#[test]
fn a_lost_reply_to_a_release_is_recognised_as_released() {
    let (clock, store) = setup();
    let lock = lock_on(store.clone(), &clock);
    let s = store.clone();
    let (first, second) = clock
        .spawn("job".into(), move || {
            let (lease, acq) = acquire(&lock, "a");
            s.faults().lose_next_replies(1);
            let first = lease.release(acq.committed + 27);
            let second = lease.release(acq.committed + 27);
            (first, second)
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(first.is_err(), "the first reply was lost");
    assert_eq!(
        second,
        Ok(true),
        "the retry recognises its own applied release"
    );
}

#[test]
fn a_release_after_a_takeover_is_still_refused_even_after_a_lost_reply() {
    let (clock, store) = setup();
    let a_lock = lock_on(store.clone(), &clock);
    let b_lock = lock_on(store.for_caller(5), &clock);
    let s = store.clone();
    let refused = clock
        .spawn("jobs".into(), move || {
            let (a, _) = acquire(&a_lock, "a");
            // a goes silent; b takes over after the lease.
            let (_b, _) = acquire(&b_lock, "b");
            s.faults().fail_next(1);
            let _ = a.release(27);
            a.release(27)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(refused, Ok(false));
}
