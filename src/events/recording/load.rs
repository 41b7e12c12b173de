//! Loading a recording: the file checked before it is opened, each line parsed,
//! the stream order checked, a last line cut short tolerated.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use super::{FORMAT, HEADER_TYPE, RecordingHeader};
use crate::events::{Event, Stamped, Summary};
use crate::paths::{self, ReadError};

/// A loaded recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The header (`None`: a recording by a joblock from before headers, format 0).
    pub header: Option<RecordingHeader>,
    /// The events, in stream order (seq strictly increasing).
    pub events: Vec<Stamped>,
    /// Whether the last line was cut short (the recorder was killed mid-write) and
    /// left out.
    pub truncated_tail: bool,
}

impl Recording {
    /// The recording format: the header's, or 0 without one.
    pub fn format(&self) -> u32 {
        self.header.as_ref().map_or(0, |h| h.format)
    }

    /// The run's summary, if the recording reaches its `run_finished`.
    pub fn summary(&self) -> Option<&Summary> {
        self.events.iter().rev().find_map(|s| match &s.event {
            Event::RunFinished { summary } => Some(&**summary),
            _ => None,
        })
    }

    /// The latest scenario time an event carries (0 for none).
    pub fn end_time(&self) -> f64 {
        self.events.iter().map(|s| s.t).fold(0.0, f64::max)
    }
}

/// Why a recording cannot be loaded; each names the file (and the line).
#[derive(Debug, Error)]
pub enum RecordingError {
    /// The file cannot be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A FIFO, device, socket or directory: opening one could block or read for ever.
    #[error("{} is {what}, not a recording (a regular file)", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// The header says a later format than this joblock reads.
    #[error("{} was recorded by a newer joblock (format {found}; this one reads up to {FORMAT})", .path.display())]
    Newer {
        /// The file.
        path: PathBuf,
        /// The header's format.
        found: u64,
    },
    /// A line is not an event (or a first line not a header).
    #[error("{} line {line}: {message}", .path.display())]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, one line.
        message: String,
    },
    /// Events out of stream order (or one repeated).
    #[error("{} line {line}: seq {seq} after seq {previous}: a recording holds one run's events in stream order", .path.display())]
    OutOfOrder {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line's seq.
        seq: u64,
        /// The seq before it.
        previous: u64,
    },
    /// Nothing to replay.
    #[error("{} holds no events{}", .path.display(), if *.header { " (only a header)" } else { " (it is empty)" })]
    Empty {
        /// The file.
        path: PathBuf,
        /// Whether it had a header.
        header: bool,
    },
}

/// Loads the recording at `path`: a FIFO, device or directory is refused before
/// it is opened; a last line cut short is left out and flagged.
pub fn load(path: &Path) -> Result<Recording, RecordingError> {
    let file = paths::open_input(path).map_err(|e| match e {
        ReadError::NotRegular(n) => RecordingError::NotAFile {
            path: n.path,
            what: n.what,
        },
        other => RecordingError::Io {
            path: path.to_path_buf(),
            source: other.into(),
        },
    })?;
    read(path, file)
}

/// Reads the lines of an opened recording.
fn read(path: &Path, file: File) -> Result<Recording, RecordingError> {
    let mut reader = BufReader::new(file);
    let mut recording = Recording {
        header: None,
        events: Vec::new(),
        truncated_tail: false,
    };
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| RecordingError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        number += 1;
        let whole = buf.ends_with(b"\n");
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let bad = |message: String| RecordingError::BadLine {
            path: path.to_path_buf(),
            line: number,
            message,
        };
        match parse_line(line, number == 1) {
            Ok(Line::Header(h)) => recording.header = Some(header(h).map_err(bad)?),
            Ok(Line::Event(s)) => {
                if let Some(prev) = recording.events.last()
                    && s.seq <= prev.seq
                {
                    return Err(RecordingError::OutOfOrder {
                        path: path.to_path_buf(),
                        line: number,
                        seq: s.seq,
                        previous: prev.seq,
                    });
                }
                recording.events.push(s);
            }
            // A writer killed mid-line leaves a last line without its newline.
            Err(_) if !whole => {
                recording.truncated_tail = true;
                break;
            }
            Err(LineError::Newer(found)) => {
                return Err(RecordingError::Newer {
                    path: path.to_path_buf(),
                    found,
                });
            }
            Err(LineError::Bad(message)) => return Err(bad(message)),
        }
    }
    if recording.events.is_empty() {
        return Err(RecordingError::Empty {
            path: path.to_path_buf(),
            header: recording.header.is_some(),
        });
    }
    Ok(recording)
}

/// One line, parsed.
enum Line {
    Header(Value),
    Event(Stamped),
}

/// Why a line did not parse.
enum LineError {
    /// A header of a format after [`FORMAT`].
    Newer(u64),
    /// Anything else, said in one line.
    Bad(String),
}

fn parse_line(line: &[u8], first: bool) -> Result<Line, LineError> {
    match serde_json::from_slice::<Stamped>(line) {
        Ok(s) => Ok(Line::Event(s)),
        Err(e) => {
            let Ok(value) = serde_json::from_slice::<Value>(line) else {
                return Err(LineError::Bad(message(&e)));
            };
            match value.get("type").and_then(Value::as_str) {
                Some(HEADER_TYPE) if first => {
                    if let Some(found) = value.get("format").and_then(Value::as_u64)
                        && found > u64::from(FORMAT)
                    {
                        return Err(LineError::Newer(found));
                    }
                    Ok(Line::Header(value))
                }
                Some(HEADER_TYPE) => Err(LineError::Bad(
                    "a recording header belongs on the first line only".to_string(),
                )),
                Some(ty) if !known_type(ty) => {
                    Err(LineError::Bad(format!("unknown event type {ty:?}")))
                }
                _ => Err(LineError::Bad(message(&e))),
            }
        }
    }
}

/// The header's fields, checked (the format was checked while parsing).
fn header(value: Value) -> Result<RecordingHeader, String> {
    serde_json::from_value::<RecordingHeader>(value)
        .map_err(|e| format!("not a recording header: {}", message(&e)))
}

/// Whether `ty` names an event: a line of that type whose fields are given is one.
fn known_type(ty: &str) -> bool {
    let probe = serde_json::json!({ "type": ty });
    match serde_json::from_value::<Event>(probe) {
        Ok(_) => true,
        Err(e) => !e.to_string().starts_with("unknown variant"),
    }
}

/// A serde error in one line, its place given as a column (each line is parsed on
/// its own, so serde's "line 1" would mislead).
fn message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let place = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&place) {
        Some(msg) if e.line() > 0 => format!("{msg} (column {})", e.column()),
        _ => text,
    }
    .replace('\n', " ")
}
