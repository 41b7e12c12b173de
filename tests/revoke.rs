//! What `joblock run` adds to the lock document and beside it: the holder's own
//! lease (a waiter with a shorter one never times it out early), who holds it,
//! revocation by fence (`joblock locks release --force`) and the key's bounded
//! history. All on the virtual clock, where a lease expires exactly when the
//! protocol says.

use std::sync::Arc;

use joblock::clock::Clock;
use joblock::lock::history::{self, Entry, HISTORY_SLOTS};
use joblock::lock::revoke::{RevokeError, free_revoked, revoke, was_revoked};
use joblock::lock::{Holder, Lock, LockConfig, Renewal, Via};
use joblock::store::{MemoryConfig, MemoryStore, Store};

mod support;

use support::locks::{acquire, key, ms, secs};

fn store(clock: &Clock) -> Arc<dyn Store> {
    Arc::new(MemoryStore::new(clock.clone(), MemoryConfig::default(), 1))
}

fn config(lease: u64) -> LockConfig {
    LockConfig {
        lease: secs(lease),
        retry: ms(100),
        give_up: secs(2000),
    }
}

fn lock(store: &Arc<dyn Store>, clock: &Clock, lease: u64) -> Lock {
    Lock::new(store.for_caller(2), clock.clone(), key(), config(lease))
}

fn holder(owner: &str) -> Holder {
    Holder {
        owner: owner.into(),
        host: "box".into(),
        pid: 7,
        command: vec!["python".into(), "worker.py".into()],
        job: None,
        started_at_ms: 1,
    }
}

#[test]
fn a_waiter_with_a_shorter_lease_waits_out_the_holders_own() {
    let clock = Clock::virtual_time();
    let store = store(&clock);
    let long = lock(&store, &clock, 30);
    let short = lock(&store, &clock, 3);
    let ticket = clock.enlist();
    let c = clock.clone();
    let waiter = clock
        .spawn("waiter".into(), move || {
            let (lease, _) = acquire(&long, "holder");
            drop(lease); // silent from now on: it crashed
            let start = c.now();
            let (_, acq) = acquire(&short, "waiter");
            (c.now() - start, acq.via)
        })
        .unwrap();
    drop(ticket);
    let (waited, via) = waiter.join().unwrap();
    assert!(
        waited >= secs(30),
        "took over after {waited:?}, inside the holder's 30 s lease"
    );
    assert!(matches!(via, Via::Takeover { .. }), "{via:?}");
}

#[test]
fn the_holder_description_is_stored_with_the_acquisition_and_read_back() {
    let clock = Clock::virtual_time();
    let store = store(&clock);
    let lock = lock(&store, &clock, 3).with_holder(Some(holder("ignored")));
    let (lease, _) = acquire(&lock, "run-1");
    let doc = lock.read().unwrap().unwrap();
    assert_eq!(doc.holder, Some(holder("run-1")));
    assert_eq!(doc.lease_ms, Some(3000));
    lease.release(0).unwrap();
    // A free lock has no holder to show.
    assert_eq!(lock.read().unwrap().unwrap().holder, None);
}

#[test]
fn revoke_with_a_stale_fence_is_refused_and_changes_nothing() {
    let clock = Clock::virtual_time();
    let store = store(&clock);
    let lock = lock(&store, &clock, 3);
    let (first, _) = acquire(&lock, "a");
    first.release(0).unwrap();
    let (second, _) = acquire(&lock, "b");
    let before = lock.read().unwrap();
    let err = revoke(store.as_ref(), &key(), first.fence()).unwrap_err();
    assert!(
        matches!(
            err,
            RevokeError::StaleFence {
                asked: 1,
                current: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("fence 2, not 1"), "{err}");
    assert_eq!(lock.read().unwrap(), before);
    assert!(matches!(second.renew().unwrap(), Renewal::Renewed(_)));
}

#[test]
fn revoke_fences_the_holder_out_and_keeps_waiters_off_until_it_frees_the_tombstone() {
    let clock = Clock::virtual_time();
    let store = store(&clock);
    let lock = lock(&store, &clock, 3);
    let (lease, _) = acquire(&lock, "a");
    assert_eq!(revoke(store.as_ref(), &key(), lease.fence()).unwrap(), "a");
    assert!(matches!(
        revoke(store.as_ref(), &key(), lease.fence()),
        Err(RevokeError::AlreadyRevoked(_))
    ));
    assert_eq!(lease.renew().unwrap(), Renewal::Lost);
    let doc = lock.read().unwrap().unwrap();
    assert!(was_revoked(&doc, "a", lease.fence()));
    // Still held (by the tombstone): a waiter sees it held, not free.
    assert!(doc.owner.is_some());
    assert!(free_revoked(store.as_ref(), &key(), "a", lease.fence()).unwrap());
    assert!(!free_revoked(store.as_ref(), &key(), "a", lease.fence()).unwrap());
    let (next, acq) = acquire(&lock, "b");
    assert_eq!((next.fence(), acq.via), (2, Via::Free));
}

#[test]
fn a_tombstone_whose_holder_never_frees_it_is_taken_over_after_a_lease() {
    let clock = Clock::virtual_time();
    let store = store(&clock);
    let lock = Arc::new(lock(&store, &clock, 3));
    let (lease, _) = acquire(&lock, "a");
    revoke(store.as_ref(), &key(), lease.fence()).unwrap();
    let ticket = clock.enlist();
    let (l, c) = (lock.clone(), clock.clone());
    let waiter = clock
        .spawn("waiter".into(), move || {
            let start = c.now();
            let (_, acq) = acquire(&l, "b");
            (c.now() - start, acq.via)
        })
        .unwrap();
    drop(ticket);
    let (waited, via) = waiter.join().unwrap();
    assert!(waited >= secs(3), "{waited:?}");
    assert!(matches!(via, Via::Takeover { fence: 1, .. }), "{via:?}");
}

fn entry(fence: u64) -> Entry {
    Entry {
        key: key(),
        fence,
        owner: format!("run-{fence}"),
        holder: None,
        via: "free".into(),
        from_fence: None,
        acquired_at_ms: fence,
        ended: None,
        ended_at_ms: None,
        exit: None,
    }
}

#[test]
fn the_history_keeps_the_newest_acquisitions_with_a_bound() {
    let clock = Clock::virtual_time();
    let store = store(&clock);
    let n = HISTORY_SLOTS + 5;
    for fence in 1..=n {
        history::record_acquired(store.as_ref(), &entry(fence)).unwrap();
        history::record_ended(
            store.as_ref(),
            &key(),
            fence,
            "released",
            fence,
            Some("exit 0"),
        )
        .unwrap();
    }
    // A late end of an overwritten acquisition changes nothing.
    history::record_ended(store.as_ref(), &key(), 1, "lost", 99, None).unwrap();
    let entries = history::read(store.as_ref(), &key()).unwrap();
    let fences: Vec<u64> = entries.iter().map(|e| e.fence).collect();
    assert_eq!(fences, (6..=n).collect::<Vec<_>>());
    assert!(
        entries
            .iter()
            .all(|e| e.ended.as_deref() == Some("released"))
    );
    assert_eq!(entries[0].exit.as_deref(), Some("exit 0"));
}
