//! An event with its place in the stream: scenario time and a
//! sequence number (the JSON-lines form of `--json` and `--events`).

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::event::Event;

/// An event with its scenario time (seconds) and sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// Position in the stream, from 1.
    pub seq: u64,
    /// Scenario time in seconds.
    pub t: f64,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

impl Stamped {
    /// Writes this event as one JSON line (the `--json` and `--events` format).
    pub fn write_json_line(&self, w: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *w, self).map_err(io::Error::from)?;
        w.write_all(b"\n")
    }
}
