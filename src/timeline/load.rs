//! Reading a recording: one `Stamped` JSON line per event, folded as it is read
//! (a first `{"type":"recording",...}` header line is skipped). A line that is not
//! an event is refused with its number; a FIFO or a device is refused before it
//! is opened (opening a FIFO blocks until somebody writes to it).

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::TimelineError;
use super::fold::Folder;
use super::model::Timeline;
use crate::events::Stamped;
use crate::paths::{self, ReadError};

/// Reads and folds the recording at `path`.
pub fn load(path: &Path) -> Result<Timeline, TimelineError> {
    let name = path.display().to_string();
    let read_err = |source| TimelineError::Read {
        path: name.clone(),
        source,
    };
    let file = paths::open_input(path).map_err(|e| match e {
        ReadError::NotRegular(n) => TimelineError::NotRegular {
            path: name.clone(),
            what: n.what,
        },
        other => read_err(other.into()),
    })?;
    read(BufReader::new(file), &name)
}

/// Reads and folds a recording from `input`; `name` names it in errors.
pub fn read(mut input: impl BufRead, name: &str) -> Result<Timeline, TimelineError> {
    let mut folder = Folder::new();
    let mut buf = Vec::new();
    let mut line: u64 = 0;
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|source| TimelineError::Read {
                path: name.to_string(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) || (line == 1 && is_header(&buf)) {
            continue;
        }
        match serde_json::from_slice::<Stamped>(&buf) {
            Ok(s) => folder.push(&s),
            Err(e) => {
                return Err(TimelineError::BadLine {
                    path: name.to_string(),
                    line,
                    why: why(&e),
                });
            }
        }
    }
    if folder.is_empty() {
        return Err(TimelineError::Empty {
            path: name.to_string(),
        });
    }
    Ok(folder.finish())
}

/// Whether a line is a recording's header (`"type":"recording"`).
fn is_header(line: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_slice::<Typed>(line).is_ok_and(|t| t.kind.as_deref() == Some("recording"))
}

/// serde's complaint, short: its column, without the position inside the line
/// or the list of every event name.
fn why(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    let text = text
        .split_once(", expected one of")
        .map_or(text, |(m, _)| m);
    if e.column() > 0 {
        format!("{text} (column {})", e.column())
    } else {
        text.to_string()
    }
}
