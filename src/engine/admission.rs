//! Admission: a job gets a thread when it is admitted, not when it is queued.
//!
//! A run of 100,000 jobs cannot have 100,000 threads: near 32,000 the process
//! runs out of memory maps and Rust aborts setting up a thread's guard page
//! (SIGABRT, no message). So jobs wait in a line that costs no thread (they show
//! as `queued`), and at most `limit` *runners* take them one after another. Each
//! runner is a clock participant, so virtual time never moves while one is between
//! jobs.
//!
//! A job's give-up time still counts from when it was queued, as if it had had its
//! own thread from the start: one admitted late waits only what is left of it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::worker::{Job, Mailbox};

/// The most runners a run starts unless told otherwise (`--threads`): past a few
/// hundred, more threads only add waiters that contend for the same locks.
pub const DEFAULT_CAP: usize = 1024;

/// The most runners `--threads` may ask for.
pub const MAX_THREADS: u32 = 100_000;

/// A job queued for admission.
pub(super) struct Pending {
    pub job: Job,
    pub mailbox: Arc<Mailbox>,
    /// Scenario time it was queued at.
    pub queued_at: Duration,
}

/// The line of jobs waiting for a thread, and how many runners serve it.
pub(super) struct Admission {
    state: Mutex<Line>,
    limit: usize,
    /// Jobs whose body panicked (the runner carries on with the next job).
    panicked: AtomicUsize,
}

struct Line {
    waiting: VecDeque<Pending>,
    runners: usize,
}

impl Admission {
    /// A line served by at most `limit` runners (at least one).
    pub fn new(limit: usize) -> Admission {
        Admission {
            state: Mutex::new(Line {
                waiting: VecDeque::new(),
                runners: 0,
            }),
            limit: limit.max(1),
            panicked: AtomicUsize::new(0),
        }
    }

    fn line(&self) -> MutexGuard<'_, Line> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a job; it runs once [`Admission::claim_runners`] starts a runner
    /// for it or a busy runner comes back for more.
    pub fn queue(&self, pending: Pending) {
        self.line().waiting.push_back(pending);
    }

    /// How many new runners to start now (counted as started; the caller calls
    /// [`Admission::runner_failed`] for each it could not start): one per waiting
    /// job, up to the limit.
    pub fn claim_runners(&self) -> usize {
        let mut line = self.line();
        let n = self
            .limit
            .saturating_sub(line.runners)
            .min(line.waiting.len());
        line.runners += n;
        n
    }

    /// The runner limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A runner could not be started: returns whether any runner is left to serve
    /// the line (if none, the jobs in it can never run).
    pub fn runner_failed(&self) -> bool {
        let mut line = self.line();
        line.runners = line.runners.saturating_sub(1);
        line.runners > 0
    }

    /// The next job for a runner; `None` retires the runner (decided under the
    /// same lock as [`Admission::queue`], so no job is left without one).
    pub fn next(&self) -> Option<Pending> {
        let mut line = self.line();
        let next = line.waiting.pop_front();
        if next.is_none() {
            line.runners = line.runners.saturating_sub(1);
        }
        next
    }

    /// Counts a job whose body panicked.
    pub fn job_panicked(&self) {
        self.panicked.fetch_add(1, Ordering::SeqCst);
    }

    /// Jobs whose body panicked.
    pub fn panicked(&self) -> usize {
        self.panicked.load(Ordering::SeqCst)
    }

    /// Jobs still waiting for a thread.
    pub fn waiting(&self) -> usize {
        self.line().waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: u32) -> Pending {
        Pending {
            job: Job {
                id,
                client: "c".into(),
                client_index: 0,
                hash: String::new(),
                will_crash: false,
            },
            mailbox: Arc::new(Mailbox::default()),
            queued_at: Duration::ZERO,
        }
    }

    #[test]
    fn runners_start_up_to_the_limit_and_retire_when_the_line_is_empty() {
        let a = Admission::new(2);
        a.queue(pending(1));
        assert_eq!(a.claim_runners(), 1, "one runner per waiting job");
        a.queue(pending(2));
        a.queue(pending(3));
        assert_eq!(a.claim_runners(), 1, "no runner past the limit");
        assert_eq!(a.claim_runners(), 0);
        assert_eq!(a.next().map(|p| p.job.id), Some(1));
        assert_eq!(a.next().map(|p| p.job.id), Some(2));
        assert_eq!(a.next().map(|p| p.job.id), Some(3));
        assert!(a.next().is_none());
        assert!(a.next().is_none());
        // Both runners retired: the next job starts one again.
        a.queue(pending(4));
        assert_eq!(a.claim_runners(), 1);
    }

    #[test]
    fn a_runner_that_failed_to_start_is_not_counted() {
        let a = Admission::new(4);
        a.queue(pending(1));
        assert_eq!(a.claim_runners(), 1);
        assert!(!a.runner_failed(), "no runner left for the line");
        assert_eq!(a.claim_runners(), 1);
    }
}
