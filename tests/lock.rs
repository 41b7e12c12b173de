//! Lock protocol tests (docs/PROTOCOL.md §3), through the public API only.
//!
//! Anything that depends on time runs on the virtual clock, where scenario time moves
//! only when every participant thread sleeps: a lease expires exactly when the
//! protocol says it does, never because the machine was slow, and store latencies
//! cost no wall time. Threads that act in a virtual scenario are started with
//! `Clock::spawn` (participants), and the main thread holds an `enlist()` ticket while
//! it spawns them so that time cannot move before all of them exist. The one test on
//! the real clock uses a lease far longer than the test itself and never relies on
//! expiry. Threads are ordered with barriers, joins and virtual-time sleeps, never
//! with wall-clock sleeps.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use joblock::clock::Clock;
use joblock::lock::{
    AcquireObserver, AcquireOutcome, Lease, Lock, LockConfig, LockDoc, Quiet, Renewal, Seen, Via,
    raw_document,
};
use joblock::output::{Claim, FencedOutput, OutputError};
use joblock::store::{FaultyStore, MemoryConfig, MemoryStore, OpKind, Store};
use serde_json::json;

mod support;

use support::locks::{acquire, acquired, key, ms, secs};

/// The timing most virtual-clock tests use: a 3 s lease polled every 100 ms.
fn config() -> LockConfig {
    LockConfig {
        lease: secs(3),
        retry: ms(100),
        give_up: secs(2000),
    }
}

/// A lock on the shared test key, with its own caller handle onto `store`.
fn lock_on(store: &dyn Store, clock: &Clock, seed: u64, config: LockConfig) -> Lock {
    Lock::new(store.for_caller(seed), clock.clone(), key(), config)
}

/// A fresh memory store on `clock` in the fault wrapper, for the tests that make
/// the store fail.
fn faulty_store(clock: &Clock, seed: u64) -> Arc<FaultyStore> {
    let memory = MemoryStore::new(clock.clone(), MemoryConfig::default(), seed);
    Arc::new(FaultyStore::new(Arc::new(memory), seed).with_clock(clock.clone()))
}

/// The lock document, which must exist: the protocol never deletes it.
fn doc(lock: &Lock) -> LockDoc {
    lock.read()
        .expect("reading the lock document failed")
        .expect("the lock document was deleted")
}

/// Every document in the store.
fn all_docs(store: &MemoryStore) -> Vec<serde_json::Value> {
    store.find_many(&json!({})).unwrap()
}

/// A hook run after each attempt a [`Recorder`] records.
type AttemptHook = Box<dyn FnMut(&Seen)>;

/// Records everything a waiter reports, with the scenario time of each report.
#[derive(Default)]
struct Recorder {
    clock: Option<Clock>,
    attempts: Vec<(u32, Seen, Duration)>,
    expired: Vec<(String, u64, Duration, Duration)>,
    /// Called after each recorded attempt (e.g. to inject faults at a chosen moment).
    on_attempt: Option<AttemptHook>,
}

impl Recorder {
    fn on(clock: &Clock) -> Recorder {
        Recorder {
            clock: Some(clock.clone()),
            ..Recorder::default()
        }
    }

    fn now(&self) -> Duration {
        self.clock.as_ref().map_or(Duration::ZERO, Clock::now)
    }

    fn store_errors(&self) -> usize {
        self.attempts
            .iter()
            .filter(|(_, seen, _)| matches!(seen, Seen::StoreError(_)))
            .count()
    }
}

impl AcquireObserver for Recorder {
    fn attempt(&mut self, attempt: u32, seen: &Seen) {
        let now = self.now();
        self.attempts.push((attempt, seen.clone(), now));
        if let Some(hook) = self.on_attempt.as_mut() {
            hook(seen);
        }
    }

    fn expired(&mut self, owner: &str, fence: u64, unchanged_for: Duration) {
        let now = self.now();
        self.expired
            .push((owner.to_string(), fence, unchanged_for, now));
    }
}

/// Checks that `fences` are exactly 1..=n in some order: every acquisition got a fresh
/// fence one above the previous one, none was skipped or handed out twice.
fn assert_fences_are_one_to_n(mut fences: Vec<u64>) {
    fences.sort_unstable();
    let expected: Vec<u64> = (1..=fences.len() as u64).collect();
    assert_eq!(fences, expected);
}

// ----------------------------------------------------------------------------------
// Mutual exclusion
// ----------------------------------------------------------------------------------

/// What each contender thread reports.
struct Contender {
    fences: Vec<u64>,
    created: usize,
}

/// Shared state of the critical section the lock protects.
#[derive(Default)]
struct CriticalSection {
    inside: AtomicBool,
    overlaps: AtomicU32,
    /// Incremented with a separate load and store, so overlapping holders lose updates.
    count: AtomicU64,
}

impl CriticalSection {
    /// Runs one holder's turn; `work` runs between reading and writing the counter.
    fn enter(&self, work: impl FnOnce()) {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let n = self.count.load(Ordering::SeqCst);
        work();
        self.count.store(n + 1, Ordering::SeqCst);
        self.inside.store(false, Ordering::SeqCst);
    }
}

/// One contender: acquires `rounds` times, runs the critical section, releases.
fn contend(
    lock: &Lock,
    owner: &str,
    rounds: u32,
    section: &CriticalSection,
    work: impl Fn(),
) -> Contender {
    let mut report = Contender {
        fences: Vec::new(),
        created: 0,
    };
    for _ in 0..rounds {
        let (lease, acq) = acquire(lock, owner);
        if acq.via == Via::Created {
            report.created += 1;
        }
        assert!(
            !matches!(acq.via, Via::Takeover { .. }),
            "{owner} took over a live holder: {acq:?}"
        );
        section.enter(&work);
        report.fences.push(lease.fence());
        assert!(lease.release(0).unwrap(), "{owner} lost its lock");
    }
    report
}

fn check_contenders(reports: Vec<Contender>, section: &CriticalSection, total: u64) {
    assert_eq!(
        section.overlaps.load(Ordering::SeqCst),
        0,
        "two holders were inside the critical section at once"
    );
    assert_eq!(section.count.load(Ordering::SeqCst), total);
    for r in &reports {
        assert!(
            r.fences.windows(2).all(|w| w[0] < w[1]),
            "a contender's fences went down: {:?}",
            r.fences
        );
    }
    assert_eq!(
        reports.iter().map(|r| r.created).sum::<usize>(),
        1,
        "exactly one acquisition creates the document"
    );
    assert_fences_are_one_to_n(reports.into_iter().flat_map(|r| r.fences).collect());
}

#[test]
fn mutual_exclusion_holds_for_many_threads_with_zero_latency() {
    const THREADS: usize = 16;
    const ROUNDS: u32 = 50;
    let clock = Clock::real(1.0);
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 1);
    // A lease far longer than the test: no holder can expire, however slow the machine.
    let config = LockConfig {
        lease: secs(60),
        retry: ms(1),
        give_up: secs(600),
    };
    let section = Arc::new(CriticalSection::default());
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<JoinHandle<Contender>> = (0..THREADS)
        .map(|t| {
            let lock = lock_on(&store, &clock, t as u64, config);
            let (section, start) = (section.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                contend(
                    &lock,
                    &format!("job-{t}"),
                    ROUNDS,
                    &section,
                    thread::yield_now,
                )
            })
        })
        .collect();
    let reports = handles.into_iter().map(|h| h.join().unwrap()).collect();
    check_contenders(reports, &section, THREADS as u64 * u64::from(ROUNDS));

    let d = doc(&lock_on(&store, &clock, 99, config));
    assert_eq!(d.owner, None);
    assert_eq!(d.fence, THREADS as u64 * u64::from(ROUNDS));
    assert_eq!(store.count(&json!({})).unwrap(), 1);
}

#[test]
fn mutual_exclusion_holds_on_a_virtual_clock_with_store_latency() {
    const THREADS: usize = 8;
    const ROUNDS: u32 = 5;
    let clock = Clock::virtual_time();
    let latency = MemoryConfig {
        insert_latency: ms(50),
        op_latency: ms(50),
    };
    let store = MemoryStore::new(clock.clone(), latency, 2);
    let section = Arc::new(CriticalSection::default());
    let hold = clock.enlist();
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<JoinHandle<Contender>> = (0..THREADS)
        .map(|t| {
            let lock = lock_on(&store, &clock, t as u64, config());
            let (section, start, c) = (section.clone(), start.clone(), clock.clone());
            clock
                .spawn(format!("job-{t}"), move || {
                    start.wait();
                    // Holding the lock across a sleep gives an intruder every chance.
                    contend(&lock, &format!("job-{t}"), ROUNDS, &section, || {
                        c.sleep(ms(10))
                    })
                })
                .unwrap()
        })
        .collect();
    drop(hold);
    let reports = handles.into_iter().map(|h| h.join().unwrap()).collect();
    check_contenders(reports, &section, THREADS as u64 * u64::from(ROUNDS));
    assert_eq!(store.count(&json!({})).unwrap(), 1);
}

// ----------------------------------------------------------------------------------
// Owner-checked release and renewal
// ----------------------------------------------------------------------------------

/// `old` acquires (fence 1) and releases with 5 bytes committed, then `new` acquires
/// (fence 2). Returns the lock, `old`'s stale lease and `new`'s lease.
fn handover(
    store: &MemoryStore,
    clock: &Clock,
    old: &str,
    new: &str,
) -> (Lock, Arc<Lease>, Arc<Lease>) {
    let lock = lock_on(store, clock, 1, config());
    let (stale, first) = acquire(&lock, old);
    assert_eq!((first.via, stale.fence()), (Via::Created, 1));
    assert!(stale.release(5).unwrap());
    let (current, second) = acquire(&lock, new);
    assert_eq!((second.via, current.fence()), (Via::Free, 2));
    assert_eq!(second.committed, 5);
    (lock, stale, current)
}

/// The document still shows `owner` holding fence 2 with 5 bytes committed, exactly
/// as `before`, and the current holder can still renew and release it.
fn assert_holding_untouched(
    store: &MemoryStore,
    lock: &Lock,
    before: &serde_json::Value,
    owner: &str,
    current: &Lease,
) {
    let after = raw_document(store, lock.key()).unwrap().unwrap();
    assert_eq!(&after, before, "a stale lease changed the lock document");
    let d = doc(lock);
    assert_eq!(d.owner.as_deref(), Some(owner));
    assert_eq!((d.fence, d.committed), (2, 5));
    assert!(matches!(current.renew().unwrap(), Renewal::Renewed(_)));
    assert!(current.is_valid());
    assert!(current.release(27).unwrap());
    assert_eq!(doc(lock).owner, None);
}

#[test]
fn release_by_a_non_owner_does_nothing() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 3);
    let (lock, stale, current) = handover(&store, &clock, "A", "B");
    let before = raw_document(&store, lock.key()).unwrap().unwrap();

    assert!(!stale.release(99).unwrap());
    assert!(stale.is_lost());
    assert!(!stale.is_valid());
    assert_holding_untouched(&store, &lock, &before, "B", &current);
}

#[test]
fn renew_by_a_non_owner_does_nothing() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 4);
    let (lock, stale, current) = handover(&store, &clock, "A", "B");
    let before = raw_document(&store, lock.key()).unwrap().unwrap();

    // The stale lease has not noticed anything yet: the store's filter must refuse it.
    assert!(!stale.is_lost());
    assert_eq!(stale.renew().unwrap(), Renewal::Lost);
    assert!(stale.is_lost());
    assert!(!stale.is_valid());
    assert_holding_untouched(&store, &lock, &before, "B", &current);
}

#[test]
fn release_with_a_stale_fence_of_the_same_owner_does_nothing() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 5);
    let (lock, stale, current) = handover(&store, &clock, "W", "W");
    let before = raw_document(&store, lock.key()).unwrap().unwrap();

    assert_eq!(stale.owner(), current.owner());
    assert!(!stale.release(99).unwrap());
    assert_holding_untouched(&store, &lock, &before, "W", &current);
}

#[test]
fn renew_with_a_stale_fence_of_the_same_owner_does_nothing() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 6);
    let (lock, stale, current) = handover(&store, &clock, "W", "W");
    let before = raw_document(&store, lock.key()).unwrap().unwrap();

    assert_eq!(stale.renew().unwrap(), Renewal::Lost);
    assert_holding_untouched(&store, &lock, &before, "W", &current);
}

// ----------------------------------------------------------------------------------
// Fencing tokens and lease expiry
// ----------------------------------------------------------------------------------

#[test]
fn fences_strictly_increase_across_release_and_takeover() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 7);
    let cfg = config();
    let lock = lock_on(&store, &clock, 1, cfg);
    let mut fences = Vec::new();

    let (a, acq) = acquire(&lock, "A");
    assert_eq!((acq.via, a.fence()), (Via::Created, 1));
    fences.push(a.fence());
    assert_eq!(doc(&lock).fence, 1);
    assert!(a.release(0).unwrap());
    assert_eq!((doc(&lock).owner, doc(&lock).fence), (None, 1));

    let (b, acq) = acquire(&lock, "B");
    assert_eq!((acq.via, b.fence()), (Via::Free, 2));
    fences.push(b.fence());
    assert_eq!(doc(&lock).owner.as_deref(), Some("B"));
    // B is killed: it never renews nor releases.
    drop(b);

    let before = clock.now();
    let (c, acq) = acquire(&lock, "C");
    let took = clock.now() - before;
    assert_eq!(
        acq.via,
        Via::Takeover {
            owner: "B".into(),
            fence: 2
        }
    );
    assert_eq!(c.fence(), 3);
    assert!(acq.waited >= cfg.lease, "took over after {:?}", acq.waited);
    assert!(took >= cfg.lease, "virtual time advanced only {took:?}");
    assert!(acq.waited < cfg.lease + 2 * cfg.retry, "{:?}", acq.waited);
    fences.push(c.fence());
    assert_eq!(doc(&lock).owner.as_deref(), Some("C"));
    assert!(c.release(27).unwrap());
    assert_eq!((doc(&lock).fence, doc(&lock).committed), (3, 27));

    let (d, acq) = acquire(&lock, "D");
    assert_eq!((acq.via, d.fence(), acq.committed), (Via::Free, 4, 27));
    fences.push(d.fence());
    assert_eq!(doc(&lock).fence, 4);

    assert!(fences.windows(2).all(|w| w[0] < w[1]), "{fences:?}");
    assert_eq!(fences, vec![1, 2, 3, 4]);
    assert_eq!(store.count(&json!({})).unwrap(), 1);
    assert_eq!(store.op_counts().get(OpKind::DeleteOne), 0);
    assert_eq!(store.op_counts().get(OpKind::DeleteMany), 0);
}

#[test]
fn a_killed_holder_is_taken_over_after_the_lease_and_not_before() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 8);
    // A retry that does not divide the lease, so the takeover lands between polls.
    let cfg = LockConfig {
        lease: secs(3),
        retry: ms(700),
        give_up: secs(2000),
    };

    // The holder acquires at t0 and its thread dies with the lease unreleased.
    let (holder_lock, c) = (lock_on(&store, &clock, 1, cfg), clock.clone());
    let holder = clock
        .spawn("doomed".into(), move || {
            c.sleep(secs(1));
            let (lease, acq) = acquire(&holder_lock, "doomed");
            assert_eq!(acq.via, Via::Created);
            (c.now(), lease.fence())
        })
        .unwrap();
    let (t0, dead_fence) = holder.join().unwrap();
    assert_eq!(t0, secs(1));

    let waiter = lock_on(&store, &clock, 2, cfg);
    let mut seen = Recorder::on(&clock);
    let (lease, acq) = acquired(waiter.acquire("waiter", &mut seen, &|| false));
    let taken_at = clock.now();

    assert_eq!(
        acq.via,
        Via::Takeover {
            owner: "doomed".into(),
            fence: dead_fence
        }
    );
    assert_eq!(lease.fence(), dead_fence + 1);
    assert!(taken_at >= t0 + cfg.lease, "taken over at {taken_at:?}");
    assert!(
        taken_at < t0 + cfg.lease + 2 * cfg.retry + ms(1),
        "taken over only at {taken_at:?}"
    );
    // Before the takeover the waiter only ever saw the dead holder.
    for (_, s, at) in &seen.attempts {
        assert!(
            *at < t0 + cfg.lease,
            "an attempt at {at:?} did not take over"
        );
        assert_eq!(
            s,
            &Seen::Held {
                owner: "doomed".into(),
                fence: dead_fence,
                heartbeat: 0
            }
        );
    }
    assert_eq!(seen.expired.len(), 1, "{:?}", seen.expired);
    let (owner, fence, unchanged_for, at) = seen.expired[0].clone();
    assert_eq!((owner.as_str(), fence), ("doomed", dead_fence));
    assert!(unchanged_for >= cfg.lease);
    assert_eq!(at, taken_at);
}

#[test]
fn a_live_holder_with_heartbeats_is_never_taken_over() {
    let clock = Clock::virtual_time();
    let latency = MemoryConfig {
        insert_latency: ms(20),
        op_latency: ms(20),
    };
    let store = MemoryStore::new(clock.clone(), latency, 9);
    let cfg = config();
    let give_up = 5 * cfg.lease;
    let hold = clock.enlist();

    let (holder_lock, c) = (lock_on(&store, &clock, 1, cfg), clock.clone());
    let holder = clock
        .spawn("holder".into(), move || {
            let (lease, acq) = acquire(&holder_lock, "holder");
            assert_eq!(acq.via, Via::Created);
            // Renew every lease / 3 for ten leases.
            for _ in 0..30 {
                c.sleep(lease.lease() / 3);
                assert!(matches!(lease.renew().unwrap(), Renewal::Renewed(_)));
                assert!(lease.is_valid());
            }
            assert!(lease.release(0).unwrap());
            c.now()
        })
        .unwrap();

    let waiter_cfg = LockConfig { give_up, ..cfg };
    let (waiter_lock, c) = (lock_on(&store, &clock, 2, waiter_cfg), clock.clone());
    let waiter = clock
        .spawn("waiter".into(), move || {
            // Start once the holder's insert (at most `insert_latency`) has landed.
            c.sleep(latency.insert_latency + ms(1));
            let mut seen = Recorder::on(&c);
            let outcome = waiter_lock.acquire("waiter", &mut seen, &|| false).unwrap();
            (outcome, seen.expired, seen.attempts.len())
        })
        .unwrap();
    drop(hold);

    let (outcome, expired, attempts_seen) = waiter.join().unwrap();
    match outcome {
        AcquireOutcome::GaveUp { attempts, waited } => {
            assert!(waited >= give_up, "gave up after only {waited:?}");
            assert!(waited < give_up + cfg.retry + ms(100), "{waited:?}");
            assert_eq!(attempts as usize, attempts_seen);
        }
        AcquireOutcome::Acquired(_, acq) => panic!("took a live holder's lock: {acq:?}"),
        AcquireOutcome::Aborted { .. } => panic!("aborted"),
    }
    assert!(
        expired.is_empty(),
        "a live holder was declared expired: {expired:?}"
    );

    let released_at = holder.join().unwrap();
    assert!(released_at >= 10 * cfg.lease);
    let (lease, acq) = acquire(&lock_on(&store, &clock, 3, cfg), "next");
    assert_eq!((acq.via, acq.attempts, lease.fence()), (Via::Free, 1, 2));
}

// ----------------------------------------------------------------------------------
// Self-fencing and fenced output
// ----------------------------------------------------------------------------------

/// Who a lease is to the output.
fn claim(lease: &Lease) -> Claim {
    Claim {
        lock: lease.incarnation().to_string(),
        key: lease.key().to_string(),
        fence: lease.fence(),
        owner: lease.owner().to_string(),
    }
}

#[test]
fn a_stalled_holder_loses_the_lock_and_its_write_is_rejected() {
    const RECORD: &[u8] = b"Maestro is the best......\n\n";
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 10);
    let dir = tempfile::tempdir().unwrap();
    let output = Arc::new(FencedOutput::create(&dir.path().join("output.txt")).unwrap());
    let cfg = config();
    let hold = clock.enlist();

    let (lock, c, out) = (
        lock_on(&store, &clock, 1, cfg),
        clock.clone(),
        output.clone(),
    );
    let holder = clock
        .spawn("stalled".into(), move || {
            let (lease, acq) = acquire(&lock, "stalled");
            assert_eq!(acq.via, Via::Created);
            out.fence_in(&claim(&lease), acq.committed).unwrap();
            out.append(&claim(&lease), &RECORD[..5]).unwrap();
            // The stall: no renewals for two leases.
            c.sleep(2 * cfg.lease);
            let renewal = lease.renew().unwrap();
            let valid = lease.is_valid();
            let late = out.append(&claim(&lease), &RECORD[5..10]);
            let released = lease.release(5).unwrap();
            (lease.fence(), renewal, valid, late, released)
        })
        .unwrap();

    let (lock, c, out) = (
        lock_on(&store, &clock, 2, cfg),
        clock.clone(),
        output.clone(),
    );
    let waiter = clock
        .spawn("waiter".into(), move || {
            c.sleep(ms(1));
            let (lease, acq) = acquire(&lock, "waiter");
            let fin = out.fence_in(&claim(&lease), acq.committed).unwrap();
            // Write the whole record in pieces across the stalled holder's wake-up.
            for chunk in RECORD.chunks(5) {
                out.append(&claim(&lease), chunk).unwrap();
                c.sleep(secs(1));
                assert!(matches!(lease.renew().unwrap(), Renewal::Renewed(_)));
            }
            assert!(lease.release(RECORD.len() as u64).unwrap());
            (acq, lease.fence(), fin)
        })
        .unwrap();
    drop(hold);

    let (old_fence, renewal, valid, late, released) = holder.join().unwrap();
    let (acq, new_fence, fin) = waiter.join().unwrap();

    assert_eq!(
        acq.via,
        Via::Takeover {
            owner: "stalled".into(),
            fence: old_fence
        }
    );
    assert!(new_fence > old_fence);
    assert_eq!(acq.committed, 0);
    assert_eq!(
        fin.truncated(),
        5,
        "the torn \"Maest\" must be cut: {fin:?}"
    );
    assert_eq!(renewal, Renewal::Lost);
    assert!(!valid, "a holder whose renewal was lost must not be valid");
    match late {
        Err(OutputError::Fenced { fence, highest }) => {
            assert_eq!((fence, highest), (old_fence, new_fence));
        }
        other => panic!("the stalled holder's late write was not fenced: {other:?}"),
    }
    assert!(!released, "the stalled holder released a lock it had lost");
    assert_eq!(std::fs::read(output.path()).unwrap(), RECORD);
    let d = doc(&lock_on(&store, &clock, 3, cfg));
    assert_eq!((d.owner, d.fence, d.committed), (None, new_fence, 27));
}

// ----------------------------------------------------------------------------------
// Give-up, atomic create, store errors
// ----------------------------------------------------------------------------------

#[test]
fn give_up_leaves_nothing_behind_in_the_store() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 11);
    let cfg = config();
    const RENEWALS: u64 = 12;
    let hold = clock.enlist();

    let (lock, c) = (lock_on(&store, &clock, 1, cfg), clock.clone());
    let holder = clock
        .spawn("holder".into(), move || {
            let (lease, _) = acquire(&lock, "holder");
            for _ in 0..RENEWALS {
                c.sleep(cfg.lease / 3);
                assert!(matches!(lease.renew().unwrap(), Renewal::Renewed(_)));
            }
            // Still holding when the test inspects the store.
            lease
        })
        .unwrap();

    let give_up = 2 * cfg.lease;
    let (lock, c) = (
        lock_on(&store, &clock, 2, LockConfig { give_up, ..cfg }),
        clock.clone(),
    );
    let waiter = clock
        .spawn("waiter".into(), move || {
            c.sleep(ms(1));
            let outcome = lock.acquire("waiter", &mut Quiet, &|| false).unwrap();
            matches!(outcome, AcquireOutcome::GaveUp { .. })
        })
        .unwrap();
    drop(hold);

    assert!(waiter.join().unwrap(), "the waiter did not give up");
    let lease = holder.join().unwrap();
    assert!(clock.now() >= give_up, "the holder outlived the waiter");

    let docs = all_docs(&store);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(store.count(&json!({})).unwrap(), 1);
    assert_eq!(
        docs[0],
        json!({
            "_id": key(),
            "owner": "holder",
            "fence": 1,
            "heartbeat": lease.heartbeat(),
            "committed": 0,
            "incarnation": lease.incarnation(),
            "lease_ms": cfg.lease.as_millis() as u64,
            // A virtual clock's speed is 1: its lease in real time is the same.
            "lease_real_ms": cfg.lease.as_millis() as u64,
        })
    );
    assert_eq!(lease.heartbeat(), RENEWALS);
    // Every successful change was the holder's: its insert and its renewals.
    let ops = store.op_counts();
    assert_eq!(ops.get(OpKind::UpdateOne), RENEWALS, "{ops}");
    assert_eq!(ops.get(OpKind::UpdateMany), 0, "{ops}");
    assert_eq!(ops.get(OpKind::InsertMany), 0, "{ops}");
    assert_eq!(
        ops.get(OpKind::DeleteOne) + ops.get(OpKind::DeleteMany),
        0,
        "{ops}"
    );
}

#[test]
fn the_first_acquisition_is_an_insert_and_later_ones_never_recreate_the_document() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 12);
    let lock = lock_on(&store, &clock, 1, config());

    // The very first acquisition is one bare insert_one: no find before it.
    let (lease, acq) = acquire(&lock, "job-1");
    assert_eq!((acq.via, lease.fence(), acq.attempts), (Via::Created, 1, 1));
    let ops = store.op_counts();
    assert_eq!(
        ops.total(),
        1,
        "the first acquisition did more than insert: {ops}"
    );
    assert_eq!(ops.get(OpKind::InsertOne), 1);
    assert!(lease.release(10).unwrap());

    for round in 2..=5u64 {
        let before_doc = doc(&lock);
        let before = store.op_counts();
        let (lease, acq) = acquire(&lock, &format!("job-{round}"));
        let after = store.op_counts();
        // This lock has seen its document, so it never tries the create again; and
        // its own last release handed it the document as released, so a single
        // compare-and-set on those exact values takes it, no read needed. The fence
        // continues and the committed length survives (a document replaced or
        // deleted would reset both).
        assert_eq!(acq.via, Via::Free);
        assert_eq!(lease.fence(), before_doc.fence + 1);
        assert_eq!(acq.committed, before_doc.committed);
        let delta = |k: OpKind| after.get(k) - before.get(k);
        assert_eq!(delta(OpKind::InsertOne), 0, "{after}");
        assert_eq!(delta(OpKind::FindOne), 0, "{after}");
        assert_eq!(delta(OpKind::UpdateOne), 1, "one compare-and-set: {after}");
        let now = doc(&lock);
        assert_eq!(now.owner.as_deref(), Some(format!("job-{round}").as_str()));
        assert_eq!((now.fence, now.committed), (round, before_doc.committed));
        assert_eq!(now.heartbeat, before_doc.heartbeat + 1);
        assert!(lease.release(10 * round).unwrap());
        assert_eq!(store.count(&json!({})).unwrap(), 1);
    }

    let ops = store.op_counts();
    assert_eq!(
        ops.get(OpKind::InsertOne),
        1,
        "only the first acquisition inserts: {ops}"
    );
    // A second lock on the same key (another job) tries the create once, and its
    // DuplicateKey changes nothing.
    let other = lock_on(&store, &clock, 2, config());
    let (lease, acq) = acquire(&other, "job-6");
    assert_eq!((acq.via, lease.fence()), (Via::Free, 6));
    assert_eq!(store.op_counts().get(OpKind::InsertOne), 2);
    assert!(lease.release(50).unwrap());
    assert_eq!(ops.get(OpKind::InsertMany), 0, "{ops}");
    assert_eq!(
        ops.get(OpKind::DeleteOne) + ops.get(OpKind::DeleteMany),
        0,
        "{ops}"
    );
    let d = doc(&lock);
    assert_eq!((d.owner, d.fence, d.committed), (None, 6, 50));
}

#[test]
fn store_errors_while_waiting_are_reported_and_the_waiter_still_acquires() {
    let clock = Clock::virtual_time();
    let cfg = config();

    // On an empty store: the atomic create fails three times, then succeeds.
    let store = faulty_store(&clock, 13);
    store.faults().fail_next(3);
    let mut seen = Recorder::on(&clock);
    let (lease, acq) =
        acquired(lock_on(&*store, &clock, 1, cfg).acquire("first", &mut seen, &|| false));
    assert_eq!((acq.via, acq.attempts, lease.fence()), (Via::Created, 4, 1));
    assert_eq!(seen.store_errors(), 3, "{:?}", seen.attempts);
    assert_eq!(seen.attempts.len(), 3);
    assert_eq!(store.faults().injected(), 3);
    assert_eq!(store.count(&json!({})).unwrap(), 1);

    // On a released lock: three failed attempts, then the lock is taken as free.
    assert!(lease.release(7).unwrap());
    store.faults().fail_next(3);
    let mut seen = Recorder::on(&clock);
    let (lease, acq) =
        acquired(lock_on(&*store, &clock, 2, cfg).acquire("second", &mut seen, &|| false));
    assert_eq!((acq.via, acq.attempts, lease.fence()), (Via::Free, 4, 2));
    assert_eq!(acq.committed, 7);
    assert_eq!(seen.store_errors(), 3, "{:?}", seen.attempts);
    assert!(acq.waited >= 3 * cfg.retry);
}

#[test]
fn store_errors_while_timing_a_dead_holder_neither_hasten_nor_prevent_the_takeover() {
    let clock = Clock::virtual_time();
    let store = faulty_store(&clock, 14);
    let cfg = config();
    let (dead, _) = acquire(&lock_on(&*store, &clock, 1, cfg), "dead");

    // The first time the waiter sees the holder, the store starts failing for three
    // operations: the waiter loses three reads in the middle of timing the lease.
    let mut not_yet_failed = Some(store.clone());
    let mut seen = Recorder::on(&clock);
    seen.on_attempt = Some(Box::new(move |s: &Seen| {
        if matches!(s, Seen::Held { .. })
            && let Some(store) = not_yet_failed.take()
        {
            store.faults().fail_next(3);
        }
    }));
    let start = clock.now();
    let (lease, acq) =
        acquired(lock_on(&*store, &clock, 2, cfg).acquire("waiter", &mut seen, &|| false));

    assert_eq!(
        acq.via,
        Via::Takeover {
            owner: "dead".into(),
            fence: dead.fence()
        }
    );
    assert_eq!(lease.fence(), 2);
    assert_eq!(seen.store_errors(), 3, "{:?}", seen.attempts);
    let kinds: Vec<&str> = seen
        .attempts
        .iter()
        .take(4)
        .map(|(_, s, _)| match s {
            Seen::Held { .. } => "held",
            Seen::StoreError(_) => "error",
            Seen::LostRace => "lost race",
        })
        .collect();
    assert_eq!(kinds, ["held", "error", "error", "error"]);
    let first_seen = seen.attempts[0].2;
    assert!(
        clock.now() >= first_seen + cfg.lease,
        "taken over too early"
    );
    // The waiter reads again when the lease could have run out, meets the three
    // failures there and backs off (0.2 + 0.4 + 0.8 s) before it takes over.
    let backoffs: Duration = (1..=3).map(|n| joblock::lock::backoff(cfg.retry, n)).sum();
    assert!(
        acq.waited < cfg.lease + backoffs + cfg.retry,
        "{:?} {:?}",
        acq.waited,
        seen.attempts
    );
    assert_eq!(seen.expired.len(), 1);
    assert_eq!(clock.now() - start, acq.waited);
}

/// Renews a holder's lease from inside the waiter, at the moment the waiter has
/// decided the lease expired and is about to send its takeover.
struct RenewOnFirstExpiry {
    clock: Clock,
    holder: Option<Arc<Lease>>,
    attempts: Vec<Seen>,
    expired: Vec<(String, u64, Duration)>,
}

impl AcquireObserver for RenewOnFirstExpiry {
    fn attempt(&mut self, _attempt: u32, seen: &Seen) {
        self.attempts.push(seen.clone());
    }

    fn expired(&mut self, owner: &str, fence: u64, _unchanged_for: Duration) {
        self.expired
            .push((owner.to_string(), fence, self.clock.now()));
        if let Some(holder) = self.holder.take() {
            assert_eq!(holder.renew().unwrap(), Renewal::Renewed(1));
        }
    }
}

#[test]
fn a_holder_that_renews_between_the_waiters_read_and_its_takeover_keeps_the_lock() {
    let clock = Clock::virtual_time();
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 15);
    let cfg = config();
    let (holder, _) = acquire(&lock_on(&store, &clock, 1, cfg), "holder");

    let mut observer = RenewOnFirstExpiry {
        clock: clock.clone(),
        holder: Some(holder.clone()),
        attempts: Vec::new(),
        expired: Vec::new(),
    };
    let waiter = lock_on(&store, &clock, 2, cfg);
    let (lease, acq) = acquired(waiter.acquire("waiter", &mut observer, &|| false));

    // The takeover sent right after the renewal must have failed: it was a
    // compare-and-set on the heartbeat the waiter had timed, which had just moved.
    let first_expiry = observer.expired[0].2;
    assert_eq!(first_expiry, cfg.lease);
    let race = observer
        .attempts
        .iter()
        .position(|s| *s == Seen::LostRace)
        .expect("the takeover after the renewal did not lose");
    let held_with = |heartbeat| Seen::Held {
        owner: "holder".into(),
        fence: 1,
        heartbeat,
    };
    assert!(observer.attempts[..race].iter().all(|s| *s == held_with(0)));
    assert!(
        observer.attempts[race + 1..]
            .iter()
            .all(|s| *s == held_with(1))
    );
    // The renewal bought the holder a whole new lease before it was taken over.
    assert_eq!(observer.expired.len(), 2, "{:?}", observer.expired);
    assert!(clock.now() >= first_expiry + cfg.lease, "{:?}", clock.now());
    assert_eq!(
        acq.via,
        Via::Takeover {
            owner: "holder".into(),
            fence: 1
        }
    );
    assert_eq!(lease.fence(), 2);
    assert_eq!(holder.renew().unwrap(), Renewal::Lost);
}

#[test]
fn a_holder_that_cannot_renew_for_a_whole_lease_stops_being_valid() {
    let clock = Clock::virtual_time();
    let store = faulty_store(&clock, 16);
    let cfg = config();
    let (lease, _) = acquire(&lock_on(&*store, &clock, 1, cfg), "holder");
    store.faults().outage_until(Some(secs(10)));

    // Renewals fail, so the holder cannot know whether a waiter took over; it must
    // stop trusting its lease one lease after the last renewal it sent.
    let step = cfg.lease / 3;
    clock.sleep(step);
    assert!(lease.renew().is_err());
    clock.sleep(step);
    assert!(lease.renew().is_err());
    clock.sleep(step - ms(1));
    assert!(lease.is_valid(), "valid until one lease after acquiring");
    clock.sleep(ms(1));
    assert!(
        !lease.is_valid(),
        "still valid a whole lease after its last renewal"
    );
    assert!(
        !lease.is_lost(),
        "nobody took it over: it is unreachable, not lost"
    );

    // Once the store is back, and nobody took over meanwhile, renewing restores it.
    // The two failed attempts still used up heartbeat values 1 and 2: after a lost
    // reply the next renewal must write a value waiters have not seen yet.
    clock.sleep(secs(10) - clock.now());
    assert_eq!(lease.renew().unwrap(), Renewal::Renewed(3));
    assert!(lease.is_valid());
    assert_eq!(doc(&lock_on(&*store, &clock, 2, cfg)).heartbeat, 3);
}
