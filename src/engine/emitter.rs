//! The engine's event sink: stamps every event with scenario time and a sequence
//! number, sends it on the stream, and keeps a copy for the end-of-run checks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::clock::Clock;
use crate::events::{Event, Stamped};

/// Stamps events and sends them on the stream, keeping a copy for the end-of-run checks.
#[derive(Clone)]
pub struct Emitter {
    clock: Clock,
    inner: Arc<Mutex<EmitterState>>,
}

struct EmitterState {
    next_seq: u64,
    tx: Sender<Stamped>,
    log: Vec<Stamped>,
}

impl Emitter {
    /// An emitter that sends on `tx`.
    pub fn new(clock: Clock, tx: Sender<Stamped>) -> Emitter {
        Emitter {
            clock,
            inner: Arc::new(Mutex::new(EmitterState {
                next_seq: 1,
                tx,
                log: Vec::new(),
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
        st.log.push(stamped.clone());
        // A front end that quit early drops its receiver; the run still completes.
        let _ = st.tx.send(stamped);
    }

    /// Every event emitted so far.
    pub fn log(&self) -> Vec<Stamped> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .log
            .clone()
    }
}
