//! The event vocabulary: what a run reports and what can be asked of it, as plain
//! data. It imports nothing else of the crate.
//!
//! The engine and the job body speak it; the headless printer, the dashboard,
//! `watch` and any later front end (a replay of a recording) only read it. Keeping
//! it a leaf (as tokio-console keeps its `api` crate apart from the console and the
//! instrumented program) means a front end never depends on how a run is carried out,
//! and a recording stays readable without an engine. See docs/ARCHITECTURE.md.

mod command;
mod event;
mod fold;
#[cfg(test)]
pub(crate) mod for_tests;
mod job;
mod ops;
pub mod recording;
pub mod schedule;
mod stamped;
mod summary;

pub use command::{Command, Order, StoreFault, Target};
pub use event::Event;
pub use fold::Tally;
pub use job::{How, JobId, SeenLock};
pub use ops::{OpCounts, OpKind};
pub use schedule::parse_at;
pub use stamped::Stamped;
pub use summary::{OutputCheck, Summary};
