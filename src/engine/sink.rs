//! The engine's side of the job body's [`Sink`]: events go to the emitter, holders
//! and halts to the registry.

use std::sync::Arc;
use std::time::Duration;

use super::emitter::Emitter;
use super::registry::Registry;
use crate::events::{Event, JobId};
use crate::worker::{Job, Sink};

/// Reports a job's events on the run's stream and keeps the registry up to date.
pub(super) struct EngineSink {
    /// The run's event stream.
    pub emit: Emitter,
    /// The run's job bookkeeping.
    pub registry: Arc<Registry>,
    /// The scenario's `--namespace`, named in the lines that tell an operator what to do.
    pub namespace: String,
}

impl Sink for EngineSink {
    fn report(&self, at: Duration, event: Event) {
        self.emit.emit_at(at, event);
    }

    fn job_of(&self, owner: &str) -> Option<JobId> {
        self.registry.job_of(owner)
    }

    fn holds(&self, job: &Job) {
        self.registry.set_holder(job.client_index, job.id);
    }

    fn lets_go(&self, job: &Job) {
        self.registry.clear_holder(job.client_index, job.id);
    }

    fn ended(&self, job: &Job) {
        self.registry.mark_ended(job.id);
    }

    fn halt(&self, reason: &str) -> bool {
        self.registry.halt(reason)
    }

    fn namespace(&self) -> Option<String> {
        Some(self.namespace.clone())
    }
}
