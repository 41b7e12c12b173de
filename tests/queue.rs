//! Queue mode (`Lock::with_queue`, `LocalQueue`): the waiters of one process on one
//! key wait in arrival order, only the first of them (the head) reads the store, and
//! a local release while the head is parked hands the lock over with one
//! compare-and-set.
//!
//! Covered: the handoff's cost and the document it leaves; handoff to a head that has
//! not started working yet; FIFO order; mutual exclusion and consecutive fences under
//! contention (one queue; two queues plus race-mode waiters standing in for other
//! processes; the same on a store that loses replies and fails operations); that
//! waiters behind the head cost the store nothing; takeover of a stalled and of a
//! dropped local holder; give-up and abort of waiters behind the head; a handoff
//! whose reply is lost; a holder that lost its lock hands nothing over; and that a
//! virtual clock ignores the queue. Four tests pin down defects found while writing
//! these, since fixed (each documents its interleaving): an aborted head left owning
//! the lock, a lost handoff reply reported as a create, a new head woken for nothing,
//! and a parked head deaf to abort.
//!
//! Everything but the last test runs on the real clock with a zero-latency memory
//! store, each caller on its own handle. Threads are never ordered with sleeps: the
//! main thread waits for a state with [`eventually`], which polls a condition (the
//! queue's public hooks `waiting()` and `head_parked()`, a thread having finished,
//! a counter an observer bumps) every millisecond and fails after 30 s. Results come
//! back through join handles and channels. Two tests stop a waiter inside its first
//! abort check (the predicate blocks on a channel until the test says go), which
//! stands for the thread being preempted there, so the test can release the holder
//! at exactly that point. Leases are either far longer than a test (nobody can
//! expire, and a parked head's third-of-a-lease pause, 100 s, never runs out) or,
//! where a takeover is the point, 300 ms with a 10 ms retry. Timing is asserted only
//! as a lower bound ("did not take over before a whole lease"), measured on the
//! clock, except in the parked-head abort test, which allows 10 s for what takes
//! microseconds (a parked head used to notice an abort only after 100 s).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use joblock::clock::Clock;
use joblock::lock::{
    AcquireObserver, AcquireOutcome, Acquisition, Holder, Lease, LocalQueue, Lock, LockConfig,
    LockDoc, Quiet, Renewal, Seen, Via, raw_document,
};
use joblock::store::{FaultyStore, MemoryConfig, MemoryStore, OpCounts, OpKind, Store};
use serde_json::json;

mod support;

use support::locks::{acquire, acquired, key, ms, secs};

/// A real clock and a memory store without latency on it.
fn setup() -> (Clock, MemoryStore) {
    let clock = Clock::real(1.0);
    let zero = MemoryConfig {
        insert_latency: Duration::ZERO,
        op_latency: Duration::ZERO,
    };
    let store = MemoryStore::new(clock.clone(), zero, 1);
    (clock, store)
}

/// A lease far longer than any test: nobody expires, and a parked head's pause
/// (a third of a lease, 100 s) never runs out while a test looks at it.
fn long() -> LockConfig {
    LockConfig {
        lease: secs(300),
        retry: ms(10),
        give_up: secs(600),
    }
}

/// A lease short enough to watch a takeover: a parked head re-reads every 100 ms.
fn short() -> LockConfig {
    LockConfig {
        lease: ms(300),
        retry: ms(10),
        give_up: secs(60),
    }
}

/// A lock in queue mode on the test key, with its own caller handle onto `store`.
fn queued(
    store: &dyn Store,
    clock: &Clock,
    seed: u64,
    config: LockConfig,
    queue: &Arc<LocalQueue>,
) -> Lock {
    Lock::new(store.for_caller(seed), clock.clone(), key(), config).with_queue(Some(queue.clone()))
}

/// Starts acquiring as `owner` on a thread of its own.
fn spawn_acquire(lock: Lock, owner: &'static str) -> JoinHandle<(Arc<Lease>, Acquisition)> {
    thread::spawn(move || acquire(&lock, owner))
}

/// Waits until `cond` holds, checking every millisecond; fails with `what` after 30 s.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(ms(1));
    }
}

/// Joins a thread, failing (instead of hanging) if it does not end within 30 s.
fn join<T>(handle: JoinHandle<T>, what: &str) -> T {
    eventually(what, || handle.is_finished());
    handle.join().expect("the thread panicked")
}

/// The lock document, which must exist: the protocol never deletes it.
fn doc(store: &dyn Store) -> LockDoc {
    let raw = raw_document(store, &key())
        .expect("reading the lock document failed")
        .expect("the lock document was deleted");
    LockDoc::from_value(&raw).expect("malformed lock document")
}

/// Operations of `kind` issued between two snapshots.
fn ops(before: &OpCounts, after: &OpCounts, kind: OpKind) -> u64 {
    after.get(kind) - before.get(kind)
}

/// Counts the attempts a waiter reports (for a lock that has not released yet, on a
/// store without faults, each that does not win is exactly one `find_one`).
struct Counting(Arc<AtomicU32>);

impl AcquireObserver for Counting {
    fn attempt(&mut self, _attempt: u32, _seen: &Seen) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sends everything a waiter saw to the test.
struct Reporting(Sender<Seen>);

impl AcquireObserver for Reporting {
    fn attempt(&mut self, _attempt: u32, seen: &Seen) {
        let _ = self.0.send(seen.clone());
    }
}

/// Shared state of the critical section the lock protects.
#[derive(Default)]
struct CriticalSection {
    inside: AtomicBool,
    overlaps: AtomicU32,
    entries: AtomicU32,
}

impl CriticalSection {
    /// Runs one holder's turn; `work` runs while it is inside.
    fn enter(&self, work: impl FnOnce()) {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.entries.fetch_add(1, Ordering::SeqCst);
        work();
        self.inside.store(false, Ordering::SeqCst);
    }
}

/// Acquires `rounds` times as `owner`, runs the critical section, releases; returns
/// the fences it got.
///
/// With `retry_release`, a release that fails (a faulty store) is retried until it
/// reports; without, a failed release fails the test.
fn contend(
    lock: &Lock,
    owner: &str,
    rounds: u32,
    section: &CriticalSection,
    retry_release: bool,
) -> Vec<u64> {
    let mut fences = Vec::new();
    for _ in 0..rounds {
        let (lease, acq) = acquire(lock, owner);
        assert!(
            !matches!(acq.via, Via::Takeover { .. }),
            "{owner} took over a live holder: {acq:?}"
        );
        section.enter(thread::yield_now);
        fences.push(lease.fence());
        let released = loop {
            match lease.release(0) {
                Ok(released) => break released,
                Err(_) if retry_release => continue,
                Err(e) => panic!("{owner}'s release failed: {e}"),
            }
        };
        assert!(released, "{owner} lost its lock");
    }
    fences
}

/// Runs `contend` for every lock on a thread of its own (`job-<index>`), all starting
/// together, and checks that no two holders overlapped and that the acquisitions got
/// exactly the fences 1..=n between them.
fn contend_all(locks: Vec<Lock>, rounds: u32, retry_release: bool) {
    let section = Arc::new(CriticalSection::default());
    let start = Arc::new(Barrier::new(locks.len()));
    let handles: Vec<JoinHandle<Vec<u64>>> = locks
        .into_iter()
        .enumerate()
        .map(|(t, lock)| {
            let (section, start) = (section.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                contend(&lock, &format!("job-{t}"), rounds, &section, retry_release)
            })
        })
        .collect();
    let total = handles.len() as u64 * u64::from(rounds);
    let mut fences: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| join(h, "a contender finished"))
        .collect();

    assert_eq!(
        section.overlaps.load(Ordering::SeqCst),
        0,
        "holders overlapped"
    );
    assert_eq!(u64::from(section.entries.load(Ordering::SeqCst)), total);
    fences.sort_unstable();
    assert_eq!(fences, (1..=total).collect::<Vec<u64>>());
}

// ----------------------------------------------------------------------------------
// Handoff and order
// ----------------------------------------------------------------------------------

/// A release while the head is parked is the head's acquisition: exactly one
/// `update_one` and no read between the release and the head holding the lock, which
/// leaves the head as owner with the next fence and a moved heartbeat.
#[test]
fn a_handoff_to_a_parked_head_is_one_compare_and_set() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let a = queued(&store, &clock, 1, long(), &queue);
    let (a_lease, a_acq) = acquire(&a, "a");
    assert_eq!(a_acq.via, Via::Created);
    // Move the heartbeat off its initial value, so the handoff's bump is visible.
    assert_eq!(a_lease.renew().unwrap(), Renewal::Renewed(1));
    assert_eq!(a_lease.renew().unwrap(), Renewal::Renewed(2));

    // b says who it is: the handoff writes that with b as owner, in the same write.
    let who = Holder {
        owner: String::new(),
        host: "box".into(),
        pid: 7,
        command: vec![],
        job: Some(2),
        started_at_ms: 0,
    };
    let b = queued(&store, &clock, 2, long(), &queue).with_holder(Some(who.clone()));
    let waiter = spawn_acquire(b, "b");
    eventually("b is parked as the head", || queue.head_parked());
    let before = store.op_counts();
    assert!(a_lease.release(27).unwrap(), "a's release was refused");
    let (b_lease, b_acq) = join(waiter, "b acquired");
    let after = store.op_counts();

    assert_eq!(b_acq.via, Via::Free);
    assert_eq!(b_acq.committed, 27, "b starts from what a committed");
    assert_eq!(b_acq.attempts, 1);
    assert_eq!(b_lease.fence(), a_lease.fence() + 1);
    assert_eq!(b_lease.heartbeat(), a_lease.heartbeat() + 1);
    assert_eq!(ops(&before, &after, OpKind::UpdateOne), 1, "{after}");
    assert_eq!(ops(&before, &after, OpKind::FindOne), 0, "{after}");
    assert_eq!(after.total() - before.total(), 1, "{before} -> {after}");

    let d = doc(&store);
    assert_eq!(d.owner.as_deref(), Some("b"));
    assert_eq!(d.fence, a_lease.fence() + 1);
    assert_eq!(d.heartbeat, a_lease.heartbeat() + 1);
    assert_eq!(d.committed, 27);
    let b_is = Holder {
        owner: "b".into(),
        ..who
    };
    assert_eq!(d.holder, Some(b_is), "the handoff names its new holder");
    assert_eq!(queue.waiting(), 0);

    // The handed lease is a real one: it renews and releases.
    assert_eq!(b_lease.renew().unwrap(), Renewal::Renewed(d.heartbeat + 1));
    assert!(b_lease.release(27).unwrap());
    assert_eq!(doc(&store).owner, None);
}

/// Waiters get the lock in the order they arrived, each from its predecessor's
/// handoff, with consecutive fences.
#[test]
fn waiters_are_served_in_arrival_order() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let a = queued(&store, &clock, 1, long(), &queue);
    let (a_lease, _) = acquire(&a, "a");

    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for (i, name) in ["b", "c", "d"].into_iter().enumerate() {
        let lock = queued(&store, &clock, 2 + i as u64, long(), &queue);
        let (q, order) = (queue.clone(), order.clone());
        handles.push(thread::spawn(move || {
            let (lease, acq) = acquire(&lock, name);
            order.lock().unwrap().push((name, lease.fence(), acq.via));
            // Hold on until the next in line is parked, so the release hands over.
            eventually("the next head is parked or nobody is left", || {
                q.waiting() == 0 || q.head_parked()
            });
            assert!(lease.release(0).unwrap(), "{name} lost its lock");
        }));
        eventually(&format!("{} waiters are queued", i + 1), || {
            queue.waiting() == i + 1
        });
    }
    eventually("b is parked as the head", || queue.head_parked());
    assert!(a_lease.release(0).unwrap());
    for h in handles {
        join(h, "a waiter finished");
    }

    let f = a_lease.fence();
    assert_eq!(
        *order.lock().unwrap(),
        vec![
            ("b", f + 1, Via::Free),
            ("c", f + 2, Via::Free),
            ("d", f + 3, Via::Free),
        ]
    );
    assert_eq!(queue.waiting(), 0);
    let d = doc(&store);
    assert_eq!((d.owner, d.fence), (None, f + 3));
}

// ----------------------------------------------------------------------------------
// Mutual exclusion under contention
// ----------------------------------------------------------------------------------

/// Six threads, thirty acquisitions each, all in one queue: nobody is ever inside
/// the critical section with another, and the 180 acquisitions get the fences
/// 1..=180 (the first one inserts the document with fence 1).
#[test]
fn many_queued_threads_never_overlap_and_get_consecutive_fences() {
    const THREADS: u64 = 6;
    const ROUNDS: u32 = 30;
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let locks = (0..THREADS)
        .map(|t| queued(&store, &clock, t, long(), &queue))
        .collect();
    contend_all(locks, ROUNDS, false);
    let d = doc(&store);
    assert_eq!((d.owner, d.fence), (None, THREADS * u64::from(ROUNDS)));
    assert_eq!(queue.waiting(), 0);
}

/// Two "processes" (two queues of three threads each) and two race-mode waiters on
/// one key: the queues only order their own waiters, and across them the lock still
/// excludes and hands out every fence once.
#[test]
fn queues_of_two_processes_and_race_mode_waiters_still_exclude_each_other() {
    const ROUNDS: u32 = 20;
    let (clock, store) = setup();
    let queues = [LocalQueue::new(), LocalQueue::new()];
    let locks: Vec<Lock> = (0..8u64)
        .map(|t| match t {
            0..=5 => queued(&store, &clock, t, long(), &queues[(t % 2) as usize]),
            _ => Lock::new(store.for_caller(t), clock.clone(), key(), long()),
        })
        .collect();
    contend_all(locks, ROUNDS, false);
    assert_eq!(doc(&store).owner, None);
    assert!(queues.iter().all(|q| q.waiting() == 0));
}

/// The same under store trouble: two queues and a race-mode waiter on a store that
/// loses 5% of replies (after applying), fails 5% of operations and jitters. Handoffs
/// whose replies are lost, failed handoffs and lost acquisitions are all recognised:
/// nobody overlaps, no release is refused (a failed one is retried until it reports),
/// and every acquisition still gets its own fence, 1..=n.
#[test]
fn queued_waiters_stay_exclusive_through_store_faults() {
    const THREADS: usize = 6;
    const ROUNDS: u32 = 50;
    let (clock, memory) = setup();
    let memory: Arc<dyn Store> = Arc::new(memory);
    let store = Arc::new(FaultyStore::new(memory, 11).with_clock(clock.clone()));
    store.faults().set_jitter(0.3);
    store.faults().set_lose_probability(0.05);
    store.faults().set_fail_probability(0.05);
    let queues = [LocalQueue::new(), LocalQueue::new()];
    let locks = (0..THREADS)
        .map(|t| {
            let seed = t as u64;
            match t {
                0..=4 => queued(store.as_ref(), &clock, seed, long(), &queues[t % 2]),
                _ => Lock::new(store.for_caller(seed), clock.clone(), key(), long()),
            }
        })
        .collect();
    contend_all(locks, ROUNDS, true);
    assert!(store.faults().injected() > 0, "no fault was injected");
    assert!(queues.iter().all(|q| q.waiting() == 0));
}

// ----------------------------------------------------------------------------------
// Waiters behind the head are quiet
// ----------------------------------------------------------------------------------

/// Five waiters behind a holder, each releasing once the next in line is parked: the
/// whole chain costs the store the five handoffs and the last plain release, and not
/// a single read. A hundred chains, so that the race below shows on most runs.
///
/// The race it guards against: when `Lease::hand_over` offered (generation g -> g+1)
/// before it stopped counting as a holder (g+1 -> g+2), with `w0` handing over to `w1`
/// while `w2` was next: w1 took the offer, returned and dropped its place; w2 became
/// the head, saw w1 holding (`local_holder_generation` = g+1) and parked on g+1; w0's
/// unhold bumped to g+2, so w2's park returned at once and w2 made an attempt (an
/// `insert_one` and a `find_one`) although its holder w1 was local and still held.
/// The holder now unholds before it offers, so a waiter can only become head after
/// both bumps.
#[test]
fn a_chain_of_handoffs_reads_nothing() {
    const WAITERS: usize = 5;
    const CHAINS: usize = 100;
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let mut seed = 0;
    for chain in 0..CHAINS {
        let owner = format!("a{chain}");
        seed += 1;
        let (a_lease, _) = acquire(&queued(&store, &clock, seed, long(), &queue), &owner);
        let handles: Vec<JoinHandle<u64>> = (0..WAITERS)
            .map(|i| {
                seed += 1;
                let lock = queued(&store, &clock, seed, long(), &queue);
                let q = queue.clone();
                let h = thread::spawn(move || {
                    let (lease, acq) = acquire(&lock, &format!("c{chain}w{i}"));
                    assert_eq!(acq.via, Via::Free);
                    eventually("the next head is parked or nobody is left", || {
                        q.waiting() == 0 || q.head_parked()
                    });
                    assert!(lease.release(0).unwrap());
                    lease.fence()
                });
                eventually(&format!("{} waiters are queued", i + 1), || {
                    queue.waiting() == i + 1
                });
                h
            })
            .collect();
        eventually("the first waiter is parked as the head", || {
            queue.head_parked()
        });
        let before = store.op_counts();
        assert!(a_lease.release(0).unwrap());
        let fences: Vec<u64> = handles
            .into_iter()
            .map(|h| join(h, "a waiter finished"))
            .collect();
        let after = store.op_counts();

        let f = a_lease.fence();
        assert_eq!(fences, (f + 1..=f + WAITERS as u64).collect::<Vec<u64>>());
        assert_eq!(
            ops(&before, &after, OpKind::FindOne),
            0,
            "chain {chain}: {before} -> {after}"
        );
        assert_eq!(
            ops(&before, &after, OpKind::UpdateOne),
            WAITERS as u64 + 1,
            "chain {chain}: {before} -> {after}"
        );
        assert_eq!(after.total() - before.total(), WAITERS as u64 + 1);
    }
}

/// While a local holder renews, the head re-reads the store every third of a lease
/// (to time it), and the four waiters behind it read nothing at all.
///
/// Each attempt a waiter makes is exactly one `find_one` and is reported to its
/// observer, so the waiters' own counts say who read. Over a window in which the head
/// re-read at least three times: the four others report no attempt, and the store saw
/// no more reads than the head reported (plus two for an attempt straddling each end
/// of the window). In race mode the four would read every 10 ms retry. The window
/// ends before the holder releases, so only the head can have read in it; the
/// holder's renewals keep the head from taking over (a takeover would need the
/// renewing thread to stall for a whole 1.5 s lease, and is reported as such).
#[test]
fn only_the_head_reads_while_a_local_holder_renews() {
    const WAITERS: usize = 5;
    let config = LockConfig {
        lease: ms(1500),
        retry: ms(10),
        give_up: secs(600),
    };
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 100, config, &queue), "a");
    let stop = Arc::new(AtomicBool::new(false));
    let renewer = {
        let (lease, stop, clock) = (a_lease.clone(), stop.clone(), clock.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                assert!(
                    matches!(lease.renew(), Ok(Renewal::Renewed(_))),
                    "a lost its lease: the renewing thread stalled for a whole lease"
                );
                clock.sleep(ms(100)); // the heartbeat's cadence, not synchronisation
            }
        })
    };

    let counts: Vec<Arc<AtomicU32>> = (0..WAITERS).map(|_| Arc::default()).collect();
    let handles: Vec<JoinHandle<(u64, Via)>> = (0..WAITERS)
        .map(|i| {
            let lock = queued(&store, &clock, i as u64, config, &queue);
            let (q, count) = (queue.clone(), counts[i].clone());
            let h = thread::spawn(move || {
                let outcome = lock.acquire(&format!("w{i}"), &mut Counting(count), &|| false);
                let (lease, acq) = acquired(outcome);
                eventually("the next head is parked or nobody is left", || {
                    q.waiting() == 0 || q.head_parked()
                });
                assert!(lease.release(0).unwrap());
                (lease.fence(), acq.via)
            });
            eventually(&format!("{} waiters are queued", i + 1), || {
                queue.waiting() == i + 1
            });
            h
        })
        .collect();
    eventually("the first waiter is parked as the head", || {
        queue.head_parked()
    });

    let reads_before = store.op_counts().get(OpKind::FindOne);
    let head_before = counts[0].load(Ordering::SeqCst);
    eventually("the head re-read the store three times", || {
        counts[0].load(Ordering::SeqCst) >= head_before + 3
    });
    let others: Vec<u32> = counts[1..]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .collect();
    let head_reads = u64::from(counts[0].load(Ordering::SeqCst) - head_before);
    let reads = store.op_counts().get(OpKind::FindOne) - reads_before;
    assert_eq!(
        others,
        vec![0; WAITERS - 1],
        "a waiter behind the head read"
    );
    assert!(
        reads <= head_reads + 2,
        "{reads} reads while the head reported {head_reads}"
    );

    stop.store(true, Ordering::SeqCst);
    join(renewer, "the renewer stopped");
    assert!(a_lease.release(0).unwrap());
    let got: Vec<(u64, Via)> = handles
        .into_iter()
        .map(|h| join(h, "a waiter finished"))
        .collect();
    let f = a_lease.fence();
    let expected: Vec<(u64, Via)> = (1..=WAITERS as u64).map(|i| (f + i, Via::Free)).collect();
    assert_eq!(got, expected);
    assert_eq!(queue.waiting(), 0);
}

// ----------------------------------------------------------------------------------
// Local holders that stall or die
// ----------------------------------------------------------------------------------

/// A local holder that never renews nor releases is timed like any other: the parked
/// head re-reads, sees the heartbeat stand still for a whole lease and takes over
/// with the next fence. The stalled holder is fenced: its release and renewal fail.
#[test]
fn a_stalled_local_holder_is_taken_over() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 1, short(), &queue), "a");
    let waiter = spawn_acquire(queued(&store, &clock, 2, short(), &queue), "b");
    let (b_lease, b_acq) = join(waiter, "b took over");

    assert_eq!(
        b_acq.via,
        Via::Takeover {
            owner: "a".into(),
            fence: a_lease.fence()
        }
    );
    assert!(b_acq.waited >= short().lease, "took over after {b_acq:?}");
    assert_eq!(b_lease.fence(), a_lease.fence() + 1);
    assert_eq!(doc(&store).owner.as_deref(), Some("b"));
    assert_eq!(a_lease.release(0), Ok(false), "a released b's lock");
    assert_eq!(a_lease.renew(), Ok(Renewal::Lost));
    assert!(matches!(b_lease.renew(), Ok(Renewal::Renewed(_))));
    assert!(b_lease.release(0).unwrap());
    assert_eq!(queue.waiting(), 0);
}

/// A local holder whose lease is dropped without a release (its job was killed) is
/// taken over once its lease has passed, by the head that was parked waiting for it.
#[test]
fn a_dropped_local_holder_is_taken_over() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 1, short(), &queue), "a");
    let a_acquired_at = clock.now();
    let a_fence = a_lease.fence();
    let waiter = spawn_acquire(queued(&store, &clock, 2, short(), &queue), "b");
    eventually("b is parked as the head (or already done)", || {
        queue.head_parked() || waiter.is_finished()
    });
    drop(a_lease);
    let (b_lease, b_acq) = join(waiter, "b took over");
    let took_over_at = clock.now();

    assert_eq!(
        b_acq.via,
        Via::Takeover {
            owner: "a".into(),
            fence: a_fence
        }
    );
    // b's watch began after a acquired: it cannot have timed a whole lease sooner.
    assert!(took_over_at - a_acquired_at >= short().lease, "{b_acq:?}");
    assert_eq!(b_lease.fence(), a_fence + 1);
    let d = doc(&store);
    assert_eq!((d.owner.as_deref(), d.fence), (Some("b"), a_fence + 1));
    assert!(b_lease.release(0).unwrap());
    assert_eq!(queue.waiting(), 0);
}

// ----------------------------------------------------------------------------------
// Leaving the queue
// ----------------------------------------------------------------------------------

/// Waiters behind the head can give up and be aborted without touching the store,
/// and leaving does not disturb the head: it is still handed the lock afterwards.
#[test]
fn waiters_behind_the_head_give_up_and_abort_quietly() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 1, long(), &queue), "a");
    let b = spawn_acquire(queued(&store, &clock, 2, long(), &queue), "b");
    eventually("b is parked as the head", || queue.head_parked());
    let before = store.op_counts();

    // d waits until aborted; c, behind it, gives up after 200 ms (so the test never
    // has to catch c while it is still queued).
    let abort = Arc::new(AtomicBool::new(false));
    let d_lock = queued(&store, &clock, 4, long(), &queue);
    let d = {
        let abort = abort.clone();
        thread::spawn(move || d_lock.acquire("d", &mut Quiet, &|| abort.load(Ordering::SeqCst)))
    };
    eventually("d is queued", || queue.waiting() == 2);
    let impatient = LockConfig {
        give_up: ms(200),
        ..long()
    };
    let c_lock = queued(&store, &clock, 3, impatient, &queue);
    let c = thread::spawn(move || c_lock.acquire("c", &mut Quiet, &|| false));

    match join(c, "c gave up").unwrap() {
        AcquireOutcome::GaveUp { attempts, waited } => {
            assert_eq!(attempts, 0, "c never reached the store");
            assert!(waited >= ms(200), "gave up after {waited:?}");
        }
        _ => panic!("c did not give up"),
    }
    abort.store(true, Ordering::SeqCst);
    match join(d, "d was aborted").unwrap() {
        AcquireOutcome::Aborted { attempts, .. } => assert_eq!(attempts, 0),
        _ => panic!("d was not aborted"),
    }
    assert_eq!(queue.waiting(), 1, "only b is left");
    assert!(queue.head_parked(), "b is still parked");
    assert_eq!(store.op_counts(), before, "c, d or b touched the store");

    assert!(a_lease.release(0).unwrap());
    let (b_lease, b_acq) = join(b, "b acquired");
    assert_eq!(b_acq.via, Via::Free);
    assert_eq!(b_lease.fence(), a_lease.fence() + 1);
    assert_eq!(queue.waiting(), 0);
}

/// A parked head sees its abort predicate as a race-mode waiter does after a
/// `Clock::poke`, not only when its third-of-a-lease pause runs out (100 s here).
#[test]
fn a_parked_head_is_aborted_promptly() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 1, long(), &queue), "a");
    let abort = Arc::new(AtomicBool::new(false));
    let b_lock = queued(&store, &clock, 2, long(), &queue);
    let (tx, rx) = mpsc::channel();
    {
        let abort = abort.clone();
        thread::spawn(move || {
            let out = b_lock.acquire("b", &mut Quiet, &|| abort.load(Ordering::SeqCst));
            let _ = tx.send(matches!(out, Ok(AcquireOutcome::Aborted { .. })));
        });
    }
    eventually("b is parked as the head", || queue.head_parked());
    abort.store(true, Ordering::SeqCst);
    clock.poke();
    // Ten seconds is far more than any wake-up takes, and a tenth of the pause.
    let aborted = rx
        .recv_timeout(secs(10))
        .expect("the parked head did not see its abort within 10 s");
    assert!(aborted, "b was not aborted");
    assert!(a_lease.release(0).unwrap());
}

/// A waiter's abort predicate that, on its first call, tells the test it is there
/// and then blocks until the test says go; it returns `abort_then`. It stands for the
/// waiter's thread being preempted right at its abort check, just after it joined the
/// queue (as the head, not yet working): the test releases the holder in that gap.
/// (Predicates should only read atomics because the clock may call them under its
/// lock while sleeping; the first call is at the top of `acquire`'s loop, outside
/// it, so blocking there holds up nobody else.)
fn stopped_at_abort_check(abort_then: bool) -> (impl Fn() -> bool, Receiver<()>, Sender<()>) {
    let (there_tx, there_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let first = AtomicBool::new(true);
    let abort = move || {
        if first.swap(false, Ordering::SeqCst) {
            let _ = there_tx.send(());
            let _ = go_rx.recv();
        }
        abort_then
    };
    (abort, there_rx, go_tx)
}

/// A head that joined while a local holder releases, before it started working, is
/// handed the lock as a parked head is: no read, the next fence.
#[test]
fn a_head_not_yet_working_is_handed_the_lock() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 1, long(), &queue), "a");
    let (abort, there, go) = stopped_at_abort_check(false);
    let b_lock = queued(&store, &clock, 2, long(), &queue);
    let b = thread::spawn(move || acquired(b_lock.acquire("b", &mut Quiet, &abort)));
    there.recv().expect("b never checked its abort predicate");
    assert_eq!(queue.waiting(), 1);
    assert!(!queue.head_parked(), "b has not parked yet");

    let before = store.op_counts();
    assert!(a_lease.release(0).unwrap());
    go.send(()).unwrap();
    let (b_lease, b_acq) = join(b, "b acquired");
    let after = store.op_counts();
    assert_eq!(b_acq.via, Via::Free);
    assert_eq!(b_lease.fence(), a_lease.fence() + 1);
    assert_eq!(
        ops(&before, &after, OpKind::FindOne),
        0,
        "{before} -> {after}"
    );
    assert_eq!(after.total() - before.total(), 1, "{before} -> {after}");
    assert!(b_lease.release(0).unwrap());
    assert_eq!(queue.waiting(), 0);
}

/// A waiter that is aborted must leave nothing behind (PROTOCOL §3.9), even when a
/// local holder released just as it became the head: either it takes the lock it was
/// handed (and its caller releases it), or the lock must not stay in its name.
///
/// The interleaving: b joins an otherwise empty queue (phase `Queued`, the head) and
/// is preempted before its first abort check; a releases, `claim_head` claims the
/// queued head and the handoff applies (owner b, fence 2); b's abort check is true.
/// Before the fix b returned `Aborted` and dropped its place, the offer with it: the
/// document named b as owner, nobody held a lease for it, and every other waiter had
/// to wait a whole lease to take it over. Leaving the queue now collects the offer.
#[test]
fn an_aborted_head_is_not_left_owning_the_lock() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 1, long(), &queue), "a");
    let (abort, there, go) = stopped_at_abort_check(true);
    let b_lock = queued(&store, &clock, 2, long(), &queue);
    let b = thread::spawn(move || b_lock.acquire("b", &mut Quiet, &abort));
    there.recv().expect("b never checked its abort predicate");
    assert!(a_lease.release(0).unwrap());
    go.send(()).unwrap();

    match join(b, "b returned").unwrap() {
        AcquireOutcome::Acquired(lease, _) => assert!(lease.release(0).unwrap()),
        AcquireOutcome::Aborted { .. } => {}
        AcquireOutcome::GaveUp { .. } => panic!("b gave up"),
    }
    let d = doc(&store);
    assert_eq!(
        d.owner, None,
        "the lock was left in an aborted waiter's name: {d:?}"
    );
    assert_eq!(queue.waiting(), 0);
}

// ----------------------------------------------------------------------------------
// Store trouble and lost locks
// ----------------------------------------------------------------------------------

/// What a handoff whose reply was lost (it applied) left behind.
struct LostHandoff {
    store: Arc<FaultyStore>,
    queue: Arc<LocalQueue>,
    holder: Arc<Lease>,
    head: (Arc<Lease>, Acquisition),
}

/// a holds, b parks as the head, and a's release (a handoff committing `committed`)
/// applies but its reply is lost: a's release reports the error, b gets the lock.
fn lose_a_handoff(committed: u64) -> LostHandoff {
    let (clock, memory) = setup();
    let memory: Arc<dyn Store> = Arc::new(memory);
    let store = Arc::new(FaultyStore::new(memory, 7).with_clock(clock.clone()));
    let queue = LocalQueue::new();
    let (holder, _) = acquire(&queued(store.as_ref(), &clock, 1, long(), &queue), "a");
    let waiter = spawn_acquire(queued(store.as_ref(), &clock, 2, long(), &queue), "b");
    eventually("b is parked as the head", || queue.head_parked());
    store.faults().lose_next_replies(1);
    assert!(
        holder.release(committed).is_err(),
        "the handoff's reply was lost"
    );
    let head = join(waiter, "b acquired");
    LostHandoff {
        store,
        queue,
        holder,
        head,
    }
}

/// The reply to a handoff is lost (it applied): the head re-reads and recognises
/// itself as the owner with the next fence, and the holder's retried release
/// recognises its own applied release.
#[test]
fn a_lost_reply_to_a_handoff_still_gives_the_head_the_lock() {
    let LostHandoff {
        store,
        queue,
        holder: a_lease,
        head: (b_lease, b_acq),
    } = lose_a_handoff(27);
    assert_eq!(store.faults().injected(), 1);
    assert_eq!(b_lease.fence(), a_lease.fence() + 1);
    assert_eq!(b_acq.committed, 27);
    assert_eq!(
        a_lease.release(27),
        Ok(true),
        "the retry recognises the handoff"
    );
    let d = doc(store.as_ref());
    assert_eq!(
        (d.owner.as_deref(), d.fence),
        (Some("b"), a_lease.fence() + 1)
    );
    assert!(matches!(b_lease.renew(), Ok(Renewal::Renewed(_))));
    assert_eq!(queue.waiting(), 0);
}

/// After a lost handoff reply, the head reports the handoff (`Via::Free`), not the
/// atomic create: its lock has never seen the document, and its insert attempt used
/// to overwrite the handoff's unacknowledged write.
#[test]
fn a_lost_reply_to_a_handoff_is_reported_as_a_handoff() {
    let lost = lose_a_handoff(0);
    assert_eq!(lost.head.1.via, Via::Free);
}

/// A holder that lost its lock to another process hands nothing over: its release
/// is refused, the head goes back to waiting on the store for the other owner, and
/// gets the lock (fence above the other owner's) only once that owner releases.
#[test]
fn a_lost_lock_is_not_handed_over() {
    let (clock, store) = setup();
    let queue = LocalQueue::new();
    let (a_lease, _) = acquire(&queued(&store, &clock, 1, long(), &queue), "a");
    let (tx, seen): (Sender<Seen>, Receiver<Seen>) = mpsc::channel();
    let b_lock = queued(&store, &clock, 2, long(), &queue);
    let waiter =
        thread::spawn(move || acquired(b_lock.acquire("b", &mut Reporting(tx), &|| false)));
    eventually("b is parked as the head", || queue.head_parked());

    // Another process takes the lock over (as if a's lease had expired there).
    let other_fence = a_lease.fence() + 5;
    let filter = json!({ "_id": key(), "owner": "a", "fence": a_lease.fence() });
    let set = json!({ "owner": "x", "fence": other_fence, "heartbeat": 100 });
    assert!(store.update_one(&filter, &set).unwrap().is_some());

    assert_eq!(a_lease.release(0), Ok(false), "a released x's lock");
    let d = doc(&store);
    assert_eq!((d.owner.as_deref(), d.fence), (Some("x"), other_fence));
    // b goes back to the store and sees x there; then it sleeps on the store's
    // notice until x lets go (x's lease is far off, so it reads no more meanwhile).
    let held_by_x = Seen::Held {
        owner: "x".into(),
        fence: other_fence,
        heartbeat: 100,
    };
    let got = seen
        .recv_timeout(secs(30))
        .unwrap_or_else(|_| panic!("b reported no attempt"));
    assert_eq!(got, held_by_x);
    assert!(!waiter.is_finished(), "b got a lock that x holds");
    assert_eq!(queue.waiting(), 1);

    // x releases; b takes the free lock with the next fence.
    let filter = json!({ "_id": key(), "owner": "x", "fence": other_fence });
    let set = json!({ "owner": null, "heartbeat": 101 });
    assert!(store.update_one(&filter, &set).unwrap().is_some());
    let (b_lease, b_acq) = join(waiter, "b acquired");
    assert_eq!(b_acq.via, Via::Free);
    assert_eq!(b_lease.fence(), other_fence + 1);
    assert_eq!(a_lease.renew(), Ok(Renewal::Lost));
    assert!(b_lease.release(0).unwrap());
    assert_eq!(queue.waiting(), 0);
}

// ----------------------------------------------------------------------------------
// Virtual clock
// ----------------------------------------------------------------------------------

/// On a virtual clock the queue is ignored (a parked waiter would be invisible to
/// the clock, which would wait for it forever): three locks sharing one queue still
/// finish their rounds, race-mode style, and nobody ever joins the queue.
#[test]
fn a_virtual_clock_ignores_the_queue() {
    const THREADS: u64 = 3;
    const ROUNDS: u32 = 5;
    let clock = Clock::virtual_time();
    let latency = MemoryConfig {
        insert_latency: ms(50),
        op_latency: ms(50),
    };
    let store = MemoryStore::new(clock.clone(), latency, 3);
    let queue = LocalQueue::new();
    let config = LockConfig {
        lease: secs(3),
        retry: ms(100),
        give_up: secs(2000),
    };
    let section = Arc::new(CriticalSection::default());
    let hold = clock.enlist();
    let handles: Vec<JoinHandle<Vec<u64>>> = (0..THREADS)
        .map(|t| {
            let lock = queued(&store, &clock, t, config, &queue);
            let (section, q, c) = (section.clone(), queue.clone(), clock.clone());
            clock
                .spawn(format!("job-{t}"), move || {
                    let mut fences = Vec::new();
                    for _ in 0..ROUNDS {
                        let (lease, _) = acquire(&lock, &format!("job-{t}"));
                        assert_eq!(q.waiting(), 0, "a waiter joined the queue");
                        section.enter(|| c.sleep(ms(10)));
                        fences.push(lease.fence());
                        assert!(lease.release(0).unwrap());
                    }
                    fences
                })
                .unwrap()
        })
        .collect();
    drop(hold);
    let mut fences: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| join(h, "a virtual-clock job finished"))
        .collect();
    fences.sort_unstable();
    let total = THREADS * u64::from(ROUNDS);
    assert_eq!(fences, (1..=total).collect::<Vec<u64>>());
    assert_eq!(section.overlaps.load(Ordering::SeqCst), 0);
    assert_eq!(queue.waiting(), 0);
    assert!(!queue.head_parked());
}
