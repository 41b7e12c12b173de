//! The header: the recording's first line, saying what wrote it and with which
//! parameters.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FORMAT, HEADER_TYPE};

/// Which front end recorded a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The dashboard (`joblock` on a terminal).
    Dashboard,
    /// `joblock --headless` (or `--json`, or stdout not a terminal).
    Headless,
    /// `joblock worker`.
    Worker,
    /// `joblock run`.
    Run,
}

impl Source {
    /// The name the header carries.
    pub fn name(self) -> &'static str {
        match self {
            Source::Dashboard => "dashboard",
            Source::Headless => "headless",
            Source::Worker => "worker",
            Source::Run => "run",
        }
    }
}

/// The first line of a recording (written with `"type":"recording"` before its fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// The recording format ([`FORMAT`] when written by this joblock).
    pub format: u32,
    /// The version of the joblock that wrote it.
    pub joblock: String,
    /// Which front end wrote it.
    pub source: Source,
    /// The run's parameters, as flag names (underscored) and values; never a password.
    pub params: Map<String, Value>,
}

/// The header as written: the type tag first, so `head -1` says what the file is.
#[derive(Serialize)]
struct HeaderLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    header: &'a RecordingHeader,
}

/// The parameters shown first in [`RecordingHeader::describe`], in this order.
const SHOWN_FIRST: &[&str] = &[
    "jobs", "clients", "seed", "clock", "speed", "store", "wait", "key", "command",
];

impl RecordingHeader {
    /// A header of this joblock's format and version.
    pub fn new(source: Source, params: Map<String, Value>) -> RecordingHeader {
        RecordingHeader {
            format: FORMAT,
            joblock: env!("CARGO_PKG_VERSION").to_string(),
            source,
            params,
        }
    }

    /// One line for people: `recording: joblock 0.1.0 headless · jobs 25 · seed 42 · ...`
    /// (the values are as recorded: escape them before printing to a terminal).
    pub fn describe(&self) -> String {
        let mut line = format!("recording: joblock {} {}", self.joblock, self.source.name());
        let first = SHOWN_FIRST.iter().filter_map(|k| self.param(k));
        let rest = self
            .params
            .iter()
            .filter(|(k, _)| !SHOWN_FIRST.contains(&k.as_str()));
        for (key, value) in first.chain(rest) {
            let _ = write!(line, " · {key} {}", shown(value));
        }
        line
    }

    fn param<'a>(&'a self, key: &'a str) -> Option<(&'a String, &'a Value)> {
        self.params.get_key_value(key)
    }
}

/// A parameter's value as text: strings bare, lists joined, `none` for null.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_string(),
        Value::Array(items) if items.is_empty() => "none".to_string(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// Writes `header` as the recording's first line.
pub fn write_header(w: &mut dyn Write, header: &RecordingHeader) -> io::Result<()> {
    let line = HeaderLine {
        kind: HEADER_TYPE,
        header,
    };
    serde_json::to_writer(&mut *w, &line).map_err(io::Error::from)?;
    w.write_all(b"\n")
}
