//! How a holder lets go: finishing (announce the commit to the output, release,
//! record the confirmed length), repairing and releasing after a failure, a release
//! whose answer never came, and refusals that halt the run.

use super::{End, Held, Worker};
use std::time::Duration;

use crate::events::Event;
use crate::lock::{Lease, backoff};
use crate::output::{Claim, OutputError};

impl Worker<'_> {
    pub(super) fn finish(&self, held: &mut Held) -> End {
        held.stop_heartbeat();
        let fence = held.lease.fence();
        let committed = held.committed + self.cx.text.len() as u64;
        if !held.lease.is_valid() {
            return self.fenced_path(held, self.lost_reason(held));
        }
        // Once a release has been sent, its reply may be lost after it applied; then
        // our record is committed and must never be cut. So from here on there is no
        // repair: keep asking until the store answers (the lease recognises its own
        // applied release), backing off like a waiter, up to the give-up time.
        let claim = self.claim(&held.lease);
        match self.cx.output.will_commit(&claim, committed) {
            Ok(()) => {}
            Err(OutputError::Fenced { highest, .. }) => {
                return self.fenced(format!(
                    "taken over before release: fence {fence} is below the output's {highest}"
                ));
            }
            Err(e) => return self.refused(held, e),
        }
        let config = self.cx.lock.config();
        let started = self.cx.clock.now();
        let mut errors = 0;
        loop {
            match held.lease.release(committed) {
                Ok(true) => {
                    // The output keeps the confirmed length as its watermark. If that
                    // write fails the watermark only lags: the store still says it.
                    let _ = self.cx.output.committed(&claim, committed);
                    // If an earlier attempt's reply was lost, that is when it applied.
                    self.released(started, fence, committed);
                    self.emit(Event::Finished {
                        job: self.job.id,
                        client: self.client(),
                    });
                    return End::Finished;
                }
                // Taken over: the next holder's fence-in cuts our uncommitted record.
                Ok(false) => return self.fenced("lock taken over before release".into()),
                Err(e) => {
                    if self.cx.clock.now() - started >= config.give_up {
                        return self.fenced(format!("could not confirm the release: {e}"));
                    }
                    // Retry soon: the answer is only certain while our lease lasts.
                    self.cx.clock.sleep(backoff(config.retry, errors));
                    errors += 1;
                }
            }
        }
    }

    pub(super) fn released(&self, sent_at: Duration, fence: u64, committed: u64) {
        self.cx.sink.lets_go(self.job);
        self.cx.sink.report(
            sent_at,
            Event::Released {
                job: self.job.id,
                client: self.client(),
                fence,
                committed,
            },
        );
    }

    pub(super) fn emit_repair(&self, fence: u64, f: crate::output::FenceIn, reason: &str) {
        self.emit(Event::Repair {
            job: self.job.id,
            client: self.client(),
            fence,
            from_len: f.from_len,
            to_len: f.to_len,
            bytes: f.truncated(),
            reason: reason.into(),
            wseq: f.seq,
        });
    }

    /// Undoes our partial record (the fence check makes this safe even if we lost
    /// the lock) and releases if the lock is still ours.
    pub(super) fn repair_and_release(&self, held: &mut Held, reason: &str) {
        held.stop_heartbeat();
        let fence = held.lease.fence();
        // If the output refuses (a later holder fenced in, or it is not this lock's)
        // or fails, the release below is still safe: a compare-and-set on our owner
        // and fence frees nothing that is not ours, and it leaves `committed` as it
        // was, so whoever comes next repairs.
        let claim = self.claim(&held.lease);
        if let Ok(f) = self.cx.output.fence_in(&claim, held.committed)
            && f.truncated() > 0
        {
            self.emit_repair(fence, f, reason);
        }
        self.release(held);
    }

    /// Releases without committing anything new (a crash, a refusal).
    ///
    /// Release even if our lease looks stale: the release is a compare-and-set on
    /// our owner and fence, so it frees the lock only if nobody took it over, and
    /// saves the others a lease of waiting. Store errors are retried while the lease
    /// lasts; after that a waiter takes over anyway.
    pub(super) fn release(&self, held: &mut Held) {
        held.stop_heartbeat();
        let fence = held.lease.fence();
        let config = self.cx.lock.config();
        // If an attempt's reply is lost, the release applied when it was first sent.
        let first_sent = self.cx.clock.now();
        loop {
            match held.lease.release(held.committed) {
                Ok(true) => {
                    self.released(first_sent, fence, held.committed);
                    return;
                }
                // Nothing matched, but an earlier attempt's reply was lost: that
                // attempt may have been the one that applied.
                Ok(false) if held.lease.release_errored() => break,
                Ok(false) => return,
                Err(_) if held.lease.is_valid() => self.cx.clock.sleep(config.retry),
                Err(_) => break,
            }
        }
        self.cx.sink.lets_go(self.job);
        self.cx.sink.report(
            first_sent,
            Event::ReleaseUnconfirmed {
                job: self.job.id,
                client: self.client(),
                fence,
            },
        );
    }

    /// The output refused us in a way that going on could cost records (it is out
    /// of step with the lock, the store forgot or went back, the lock belongs to
    /// another output), or cannot be written. Records at stake: halt the run first
    /// (so that waiters get their stop order before the lock is free), then release
    /// without touching the output (it would refuse the repair the same way, and the
    /// release leaves `committed` as it was for whoever comes next). A failed write
    /// may be this job's alone (a full disk, say): repair, release, go on.
    pub(super) fn refused(&self, held: &mut Held, e: OutputError) -> End {
        let (line, short) = self.refusal_lines(held, &e);
        if matches!(e, OutputError::Io { .. }) {
            self.emit(Event::OutputFailed {
                job: self.job.id,
                client: self.client(),
                error: line.clone(),
            });
            self.repair_and_release(held, "crash");
            return self.crashed(format!("output refused: {line}"));
        }
        self.halt(&line);
        self.release(held);
        self.crashed(format!("output refused: {short}"))
    }

    /// Halts the run (every job gets a stop order); the first halt is reported.
    pub(super) fn halt(&self, reason: &str) {
        if self.cx.sink.halt(reason) {
            self.emit(Event::Halted {
                job: self.job.id,
                client: self.client(),
                reason: reason.to_string(),
            });
        }
    }

    /// After the output rejected our fresh fence as lower than its highest: is the
    /// store behind the output (it still says the lock is ours at that lower fence),
    /// rather than us being a stale holder that lost a race?
    pub(super) fn store_went_back(&self, lease: &Lease, highest: u64) -> bool {
        matches!(
            self.cx.lock.read(),
            Ok(Some(doc)) if doc.fence == lease.fence()
                && doc.fence < highest
                && doc.owner.as_deref() == Some(lease.owner())
        )
    }

    /// Who we are to the output: our lock document, fence and owner id.
    pub(super) fn claim(&self, lease: &Lease) -> Claim {
        Claim {
            lock: lease.incarnation().to_string(),
            key: lease.key().to_string(),
            fence: lease.fence(),
            owner: lease.owner().to_string(),
        }
    }
}
