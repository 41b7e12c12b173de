//! An output out of step with its lock document (deleted, truncated or replaced
//! behind the lock's back): the job that finds it halts the run *before* it lets
//! the lock go, so that the waiters see their stop order rather than a free lock,
//! and every later job of this process ends before it takes the lock at all.

use super::{End, Held, Worker};
use crate::events::{Event, How, JobId};
use crate::lock::{Acquisition, LockError, Via};
use crate::output::{OutOfStep, OutputError, Why};

impl Worker<'_> {
    /// The namespace, as the runner tells it, for the lines an operator acts on.
    pub(super) fn namespace(&self) -> Option<String> {
        self.cx.sink.namespace()
    }

    /// If this process already found the output out of step, ends the job (`doing`
    /// says at what point) without touching the lock, and makes sure the run is
    /// halted (only the first halt is reported).
    pub(super) fn known_out_of_step(&self, doing: &str) -> Option<End> {
        let o = self.cx.output.out_of_step()?;
        let ns = self.namespace();
        self.halt(&o.line(ns.as_deref()));
        Some(self.crashed(format!(
            "{doing}: {} (the run halted)",
            o.what(ns.as_deref())
        )))
    }

    /// A lock bound to another output *at our own path*: the file and its record
    /// were made anew since the lock committed to them (deleted, or replaced with
    /// its fence file). That is this output out of step, not another fleet.
    pub(super) fn other_output_here(&self, e: &LockError) -> Option<OutOfStep> {
        let LockError::OtherOutput {
            key,
            bound_path,
            bound_id,
            ours_path,
            ours_id,
        } = e
        else {
            return None;
        };
        if bound_path != ours_path {
            return None;
        }
        let path = self.cx.output.path();
        let committed = match self.cx.lock.read() {
            Ok(Some(doc)) => doc.committed,
            _ => 0,
        };
        Some(OutOfStep {
            path: path.to_path_buf(),
            key: key.clone(),
            on_disk: std::fs::metadata(path).ok().map(|m| m.len()),
            committed,
            why: Why::Replaced {
                bound: bound_id.clone(),
                found: Some(ours_id.clone()),
            },
        })
    }

    /// The acquire refused a document bound to another output: halt, end crashed.
    pub(super) fn refused_by_lock(&self, e: &LockError) -> End {
        let ns = self.namespace();
        let (reason, short) = match self.other_output_here(e) {
            Some(o) => {
                let line = o.line(ns.as_deref());
                let what = o.what(ns.as_deref());
                let _ = self.cx.output.found_out_of_step(o);
                (line, what)
            }
            None => (e.to_string(), e.to_string()),
        };
        self.halt(&reason);
        self.crashed(format!("lock error: {short}"))
    }

    /// The line a refusal halts the run with (with the namespace where it helps the
    /// operator), and the shorter one the job's end state carries.
    pub(super) fn refusal_lines(&self, held: &Held, e: &OutputError) -> (String, String) {
        let ns = self.namespace();
        match e {
            OutputError::OutOfStep(o) => (o.line(ns.as_deref()), o.what(ns.as_deref())),
            OutputError::Fenced { highest, .. } => {
                let line = format!(
                    "the store went back: it gave fence {} to this job, but the output already accepted fence {highest}; the store lost acknowledged writes. Nothing was cut. Resume with `joblock reseed` (see README, \"When the store forgets\")",
                    held.lease.fence()
                );
                (line.clone(), line)
            }
            _ => (e.to_string(), e.to_string()),
        }
    }

    /// We won the lock (`acq`, with `fence`) but do not fence in (`why`): say so,
    /// with how we got it (a takeover counts as one), before letting it go.
    pub(super) fn report_not_fenced_in(&self, fence: u64, acq: &Acquisition, why: String) {
        let (how, from_job, from_fence) = self.how_of(acq);
        self.emit(Event::NotFencedIn {
            job: self.job.id,
            client: self.client(),
            fence,
            how,
            from_job,
            from_fence,
            committed: acq.committed,
            reason: why,
        });
    }

    /// How an acquisition came about, naming a taken-over holder by job if we can.
    pub(super) fn how_of(&self, acq: &Acquisition) -> (How, Option<JobId>, Option<u64>) {
        match &acq.via {
            Via::Created => (How::Created, None, None),
            Via::Free => (How::Handoff, None, None),
            Via::Takeover { owner, fence } => {
                (How::Takeover, self.cx.sink.job_of(owner), Some(*fence))
            }
        }
    }
}
