//! A recording: what `--events` writes. An optional first line, the header (the
//! format, the joblock that wrote it, which front end, the run's parameters), then
//! one [`Stamped`](super::Stamped) JSON line per event in stream order. Files from
//! before the header existed are format 0: the same lines without it.
//!
//! `joblock replay` and the dashboard's replay read recordings with [`load`];
//! every recorder (the scenario's and `worker`'s `--events`, `joblock run
//! --events`) writes the header with [`write_header`]. A live `--json` stream has
//! no header: it is not a recording.

mod header;
mod load;

pub use header::{RecordingHeader, Source, write_header};
pub use load::{Recording, RecordingError, load};

/// The newest recording format this joblock writes and reads.
pub const FORMAT: u32 = 1;

/// The `type` of the header line; no event has it.
const HEADER_TYPE: &str = "recording";

#[cfg(test)]
mod tests;
