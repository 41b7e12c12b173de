//! The engine's event sink: stamps every event with scenario time and a sequence
//! number, sends it on the stream, and folds it into the end-of-run checks.
//!
//! Events are folded as they are emitted, not kept: a run of 100,000 jobs emits
//! a million events, and keeping them (and cloning them at the end) was most of
//! its memory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::invariants::Checker;
use crate::clock::Clock;
use crate::events::{Event, Stamped, Tally};

/// Stamps events and sends them on the stream, folding them into the end-of-run checks.
#[derive(Clone)]
pub struct Emitter {
    clock: Clock,
    inner: Arc<Mutex<EmitterState>>,
}

struct EmitterState {
    next_seq: u64,
    tx: Sender<Stamped>,
    checker: Checker,
    tally: Tally,
}

impl Emitter {
    /// An emitter that sends on `tx`.
    pub fn new(clock: Clock, tx: Sender<Stamped>) -> Emitter {
        Emitter {
            clock,
            inner: Arc::new(Mutex::new(EmitterState {
                next_seq: 1,
                tx,
                checker: Checker::default(),
                tally: Tally::default(),
            })),
        }
    }

    /// Emits `event` stamped with the current scenario time.
    pub fn emit(&self, event: Event) {
        let t = self.clock.now();
        self.emit_at(t, event);
    }

    /// Emits `event` stamped with a time taken earlier (e.g. before a release was sent).
    pub fn emit_at(&self, t: Duration, event: Event) {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let stamped = Stamped {
            seq: st.next_seq,
            t: t.as_secs_f64(),
            event,
        };
        st.next_seq += 1;
        st.checker.observe(&stamped);
        st.tally.observe(&stamped);
        // A front end that quit early drops its receiver; the run still completes.
        let _ = st.tx.send(stamped);
    }

    /// The broken invariants and the tally of every event emitted so far; the
    /// folds start afresh after this (the run's closing events need neither).
    pub fn conclude(&self) -> (Vec<String>, Tally) {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let checker = std::mem::take(&mut st.checker);
        let tally = std::mem::take(&mut st.tally);
        drop(st);
        (checker.finish(), tally)
    }
}
