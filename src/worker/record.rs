//! Writing the record: one chunk at a time through the output's fence, a pause
//! after each, and the orders (crash, kill, stop, stall) taken between chunks.

use std::time::Duration;

use super::{End, Held, Worker};
use crate::clock::Wake;
use crate::events::{Event, Order};
use crate::output::OutputError;

impl Worker<'_> {
    pub(super) fn write_record(&self, held: &mut Held) -> End {
        let fence = held.lease.fence();
        let claim = self.claim(&held.lease);
        let of = self.cx.text.chunks(self.cx.chunk).count() as u32;
        for (i, bytes) in self.cx.text.chunks(self.cx.chunk).enumerate() {
            let stall = match self.take_order(held) {
                Ok(stall) => stall,
                Err(end) => return end,
            };
            if !held.lease.is_valid() {
                return self.fenced_path(held, self.lost_reason(held));
            }
            if let Some(d) = stall
                && let Err(end) = self.stall(held, d)
            {
                return end;
            }
            // A stalled job resumes right here, at the write it was about to make,
            // without re-checking its lease: only the output's fence can stop it.
            match self.cx.output.append(&claim, bytes) {
                Ok(acc) => self.emit(Event::ChunkWritten {
                    job: self.job.id,
                    client: self.client(),
                    fence,
                    chunk: i as u32 + 1,
                    of,
                    offset: acc.offset,
                    text: String::from_utf8_lossy(bytes).into_owned(),
                    wseq: acc.seq,
                }),
                Err(OutputError::Fenced { highest, .. }) => {
                    self.emit(Event::WriteRejected {
                        job: self.job.id,
                        client: self.client(),
                        fence,
                        highest,
                    });
                    held.stop_heartbeat();
                    return self.fenced(format!(
                        "write rejected: fence {fence} is below the output's {highest}"
                    ));
                }
                Err(e) => return self.refused(held, e),
            }
            let interrupt = || self.cx.mailbox.has_order();
            let _ = self.cx.clock.sleep_or(self.cx.chunk_pause, &interrupt);
        }
        // An order that arrived during the last pause still counts.
        match self.take_order(held) {
            Ok(Some(d)) => {
                if let Err(end) = self.stall(held, d) {
                    return end;
                }
            }
            Ok(None) => {}
            Err(end) => return end,
        }
        self.finish(held)
    }

    /// Takes a pending order: crash/kill/stop end the job (`Err`), a stall is returned.
    fn take_order(&self, held: &mut Held) -> Result<Option<Duration>, End> {
        match self.cx.mailbox.take() {
            None => Ok(None),
            Some(Order::Stall(d)) => Ok(Some(d)),
            Some(Order::Crash) => Err(self.crash_path(held, "crash command".into())),
            Some(Order::Stop) => Err(self.crash_path(held, "run stopped".into())),
            Some(Order::Kill) => Err(self.kill_path(held)),
        }
    }

    /// Freezes the job, heartbeat included; a kill or crash can still end it.
    fn stall(&self, held: &mut Held, d: Duration) -> Result<(), End> {
        self.emit(Event::Stalled {
            job: self.job.id,
            client: self.client(),
            secs: d.as_secs_f64(),
        });
        let until = self.cx.clock.now() + d;
        if let Some(hb) = &held.heartbeat {
            hb.stall_until(until);
        }
        loop {
            let interrupt = || self.cx.mailbox.has_order();
            if self.cx.clock.sleep_until_or(until, &interrupt) == Wake::Elapsed {
                return Ok(());
            }
            // A second stall order while frozen is absorbed; anything else ends the job.
            self.take_order(held)?;
        }
    }
}
