//! An exhaustive model check of the lock protocol (docs/PROTOCOL.md §3) with stateright.
//!
//! The model abstracts the real code (`src/lock`, `src/output.rs`, `src/worker`) into
//! atomic steps, one per store or output operation, and lets the checker try every
//! interleaving of three workers, each of which may crash, be killed or stall at any
//! point:
//!
//! * **Store**: the single lock document, `None` before the first insert, else
//!   `{owner, fence, heartbeat, committed}`. `insert_one` and every `update_one` are
//!   atomic; a read and the compare-and-set that follows it are *separate* steps, so
//!   anything may happen between them.
//! * **Waiter** (`Lock::attempt`): insert while it may (the atomic create), else read;
//!   a free lock leads to a CAS on the exact (owner, fence, heartbeat) it read; a held
//!   lock starts (or keeps) a watch on (fence, heartbeat), and once its *own* clock has
//!   ticked `LEASE` times with the pair unchanged it takes over with a CAS on exactly
//!   the values it read. `Tick` is the waiter's monotonic clock, an action of its own,
//!   so the checker explores every relation between the waiter's clock and the
//!   holder's heartbeats: a takeover of a live but stalled holder is one of them.
//! * **Holder** (`Worker::hold`, `write_record`, `finish`): fence in at the output with
//!   the committed length from its acquisition (truncating a torn tail; refused if a
//!   higher fence was accepted), write `RECORD` chunks one action each (each refused
//!   by the output if a higher fence was accepted), then release with a CAS on
//!   owner + fence that frees the lock and records `committed + RECORD`. Its heartbeat
//!   thread is the `Renew` action (CAS on owner + fence bumping the heartbeat), enabled
//!   at any time while it holds, until a renewal matches nothing.
//! * **Faults**: `Crash` (clean: repair by fencing in to the committed length, then
//!   release; this is also the path of a holder whose own lease check fails, which
//!   runs the same `repair_and_release` and only reports `fenced` instead; a crash
//!   between acquiring and fencing in releases untouched), and `Kill` (stops forever:
//!   no repair, no release, no heartbeats), both possible at every step from the
//!   acquisition to the release. A *stall* needs no action: it is every interleaving
//!   in which the stalled worker takes no step, including one where its lease
//!   expires, a waiter takes over and the stalled holder then tries its next write
//!   anyway (property (d5) shows that this schedule is reached, and rejected).
//! * **Output**: the sequence of `(worker, chunk)` entries and the highest fence
//!   accepted.
//! * **Queue mode** (`handoff`: `src/lock/queue.rs`, `Lease::hand_over`): wherever a
//!   release is enabled (the finishing release, the release of a crash right after
//!   acquiring, the repair path's release), the release may instead hand the lock to
//!   any waiter: `HandOver(from, to)` (`CrashHandOver` for the crash right after
//!   acquiring, a fault like `Crash`). It is one CAS filtered on the holder's owner and
//!   fence, exactly as the release, that sets the waiter as owner with the holder's
//!   fence + 1 and heartbeat + 1, and the committed length and receipt the release
//!   would set. Matched: the release is done and the waiter leaves waiting to fence
//!   in like any acquirer (a granted fence for (b); a takeover it is not, so nobody's
//!   `taken_over` is set). Matched nothing: the holder lost the lock (`Fenced`, as a
//!   plain release) and the waiter waits on, untouched. With release errors the
//!   finishing handoff may also apply and lose its reply (`HandOverLostReply`): the
//!   holder goes on as after a lost release reply (its retries are plain releases),
//!   the waiter keeps waiting and its next step, a read (never an insert), finds
//!   itself the owner; a handoff that fails before applying is `ReleaseFails`. The model hands over to *any*
//!   waiter and keeps the plain release possible too, so it covers more schedules
//!   than the code has (which hands over only to the head of its local queue, and
//!   only while that head is parked or not yet started).
//!
//! Properties: (a) the output is whole one-worker records plus at most one worker's
//! torn tail, so no two writers were ever accepted at once; (b) every acquisition's
//! fence is above every earlier one; (c1) the output still holds the committed length
//! and (c2) that committed prefix is exactly one record per finished job; (d1)-(d6)
//! are `sometimes` reachability checks (takeover after a kill and after a crash, all
//! survivors finish, a stale write is rejected, a torn tail is cut). Liveness (no
//! state from which fault-free steps cannot bring every worker to an end) is checked
//! on the explicit state graph, because stateright's `eventually` ignores cycles, in
//! race mode and in queue mode (there also with release errors); the queue-mode check
//! also counts the handoffs that matched and the reads that found a lost handoff, so
//! a model in which no handoff ever happens cannot pass.
//!
//! Bounds that keep the state space finite and small: three workers, each running one
//! job; a record of `RECORD = 2` chunks; a lease of `LEASE = 2` ticks (a waiter's tick
//! counter saturates there: more time changes nothing); at most `MAX_RENEWALS = 1`
//! renewal per holder, after which its heartbeat is silent, as a stalled heartbeat
//! thread's is. One renewal already shows both that a renewal restarts a waiter's
//! timer and that a renewal after a takeover matches nothing; heartbeat values only
//! ever grow within a fence, so more renewals only add states (two renewals give
//! 1.2 M states, 3x slower). Fences, heartbeats and the output are bounded by these,
//! since each worker acquires at most once. The checker explores 407,143 states
//! (579,124 with release errors; in queue mode 419,413, and 701,272 with release
//! errors); the whole binary runs in 70-100 s in a debug build on two cores shared
//! with other work, 15-20 s in a release build (the numbers are printed with
//! `--nocapture`).
//!
//! Steps left out because they add states but no behaviour: killing a waiter (the
//! same as a waiter that never steps again), killing a holder in the middle of its
//! repair (the same store and output as a kill before the crash, or after writing
//! nothing). Store errors are modelled on the release that commits a record only
//! (the variants below), where they decide what is committed.
//!
//! Variants show that the checks have teeth, and check store errors on the release:
//!
//! * `broken`: acquisition is a blind write (an `update_one` filtered on `_id` only, the
//!   classic find-then-write) instead of a compare-and-set. The checker finds two
//!   holders with the same fence and their chunks interleaved in the output.
//! * `no_expiry`: waiters never take over; the liveness check finds the lock wedged by
//!   a killed holder.
//! * `release_errors: Some(Finish::Current)`: the release that commits a record may
//!   fail, or apply and lose its reply (faults `FaultyStore` injects), and so may its
//!   retries; `finish` then retries without ever repairing, and the lease recognises
//!   its own applied release (lease still valid, or `released_fence` still its own;
//!   only a release that commits a record writes `released_fence`). No committed
//!   record is lost.
//! * `handoff` with `release_errors: Some(Finish::Current)`: the same, with handoffs
//!   whose replies are lost. No committed record is lost either.
//! * `broken_handoff`: the handoff is filtered on `_id` alone, not on the holder's
//!   owner and fence (as `Broken::UncheckedRelease`). A holder taken over while
//!   stalled still hands the lock on, with the fence its taker already has: the
//!   checker finds a repeated fence, two writers interleaved and a committed record
//!   cut.
//! * `release_errors: Some(Finish::Original)`: the same faults against `finish` as it
//!   was first written (retry while the lease is valid, else `fenced_path`, whose
//!   repair fences in with the *old* committed length). The checker finds the bug
//!   that version had: a lost release reply followed by an expired lease cut the
//!   record the release had just committed, and every later job failed its fence-in.
//!
//! The files: `state.rs` (the document, workers and output), `action.rs`,
//! `lock_model.rs` (the variants and the enabled actions), `steps.rs` (what each
//! action does), `properties.rs`, `explorer.rs` (shortest schedules and the
//! liveness graph), `checks.rs` (how the tests run the checker), and the tests in
//! `race_mode.rs` and `queue_mode.rs`.

mod action;
mod checks;
mod explorer;
mod lock_model;
mod properties;
mod queue_mode;
mod race_mode;
mod state;
mod steps;

/// Workers (jobs) competing for one client's lock.
pub const WORKERS: usize = 3;
/// Chunks per record.
pub const RECORD: u8 = 2;
/// Ticks of a waiter's own clock that make a whole lease.
pub const LEASE: u8 = 2;
/// Renewals per holder: the heartbeat cap.
pub const MAX_RENEWALS: u8 = 1;

/// A worker, by index.
pub type Id = u8;
