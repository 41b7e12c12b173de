//! What a job body reports to, and asks of, whoever runs it.
//!
//! The job body owns this interface (as the lock owns `AcquireObserver` one layer
//! down): the engine implements it with its emitter and registry, a command wrapper
//! can implement it with a log, a test with a vector. Nothing here knows an engine.

use std::time::Duration;

use super::Job;
use crate::events::{Event, JobId};

/// Whoever runs a job: where its events go and the bookkeeping it is told about.
///
/// Every method but [`Sink::report`] has a default that does nothing, so a runner
/// with one job (or a test) implements only what it needs.
pub trait Sink: Send + Sync {
    /// Takes `event`, which happened at scenario time `at`.
    fn report(&self, at: Duration, event: Event);

    /// The job number of a lock owner id, if the owner is a job this runner knows
    /// (events name holders by job number when they can).
    fn job_of(&self, _owner: &str) -> Option<JobId> {
        None
    }

    /// `job` now holds its client's lock (it has fenced in at the output).
    fn holds(&self, _job: &Job) {}

    /// `job` no longer holds its lock (it released, or reached an end state).
    fn lets_go(&self, _job: &Job) {}

    /// `job` reached its end state; its mailbox takes no more orders.
    fn ended(&self, _job: &Job) {}

    /// The namespace the run's locks live in, for lines that tell an operator
    /// what to do (`None`: the runner does not know or say).
    fn namespace(&self) -> Option<String> {
        None
    }

    /// Going on could cost records (the store forgot, the lock belongs to another
    /// output): stop every job of the run. True the first time, so that only the
    /// first halt is reported.
    fn halt(&self, _reason: &str) -> bool {
        true
    }
}
