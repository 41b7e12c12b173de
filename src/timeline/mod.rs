//! `joblock timeline`: a recording drawn as a picture, like Jepsen's timelines but
//! for locks. Each lock key gets a lane: its holders as bars over scenario time (a
//! killed holder's bar goes on, hatched, until it is taken over), the jobs waiting
//! for it as thin lines under the lane, and marks for crashes, kills, expiries,
//! takeovers, rejected writes, repairs and the other moments that matter.
//!
//! A recording is read line by line and folded in one pass ([`fold`]); the picture
//! is bounded however long the recording is: waiting lines, narrow bars and marks
//! that would share a pixel are drawn together and counted. It imports only the
//! event vocabulary and `sanitize` (store text made printable before it is escaped
//! for XML).

mod fold;
mod glyph;
mod html;
mod lane;
mod legend;
mod load;
mod model;
mod svg;
mod tips;
mod write;
mod xml;

#[cfg(test)]
mod tests;

use std::io;
use std::path::Path;

pub use fold::Folder;
pub use load::{load, read};
pub use model::{Hold, Lane, Mark, MarkKind, Tail, Timeline, Wait};
pub use write::{check_output, write_atomic};

/// The narrowest and widest pictures `--width` allows, in pixels.
pub const WIDTH_RANGE: std::ops::RangeInclusive<u32> = 400..=20_000;

/// How the picture is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Width of the picture in pixels (see [`WIDTH_RANGE`]).
    pub width: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options { width: 1200 }
    }
}

/// What file the picture is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A plain SVG picture.
    Svg,
    /// A self-contained HTML page around the SVG, with hover details.
    Html,
}

impl Format {
    /// The format a file name's extension asks for (`.svg`, `.html` or `.htm`).
    pub fn for_path(path: &Path) -> Result<Format, TimelineError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("html" | "htm") => Ok(Format::Html),
            other => Err(TimelineError::Format {
                path: path.display().to_string(),
                ext: other.map_or_else(|| "(no extension)".to_string(), |e| format!(".{e}")),
            }),
        }
    }
}

/// Why a recording could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// The recording cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The recording.
        path: String,
        /// What the system said.
        source: io::Error,
    },
    /// The recording is a directory, a FIFO or a device.
    #[error("{path}: not a regular file ({what}): give the file a run's --events wrote")]
    NotRegular {
        /// The path.
        path: String,
        /// What it is instead.
        what: &'static str,
    },
    /// A line is not an event.
    #[error("{path}: line {line}: not an event: {why}")]
    BadLine {
        /// The recording.
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        why: String,
    },
    /// The recording holds no events.
    #[error("{path}: no events in it: the recording is empty")]
    Empty {
        /// The recording.
        path: String,
    },
    /// The output's extension names no format.
    #[error(
        "{path}: unknown picture format {ext}: name it .svg or .html (or -o - for SVG on stdout)"
    )]
    Format {
        /// The output path.
        path: String,
        /// The extension, as given.
        ext: String,
    },
    /// The picture's path is a directory, a FIFO or a device: refused, not replaced.
    #[error("{path} is {what}, not a regular file: name a file for the picture")]
    OutputNotRegular {
        /// The output path.
        path: String,
        /// What it is instead.
        what: &'static str,
    },
    /// The picture cannot be written.
    #[error("cannot write {path}: {why}")]
    Write {
        /// The output path.
        path: String,
        /// What went wrong.
        why: String,
    },
}

impl TimelineError {
    /// Whether the fault is in what was asked (the recording or the arguments),
    /// rather than in writing the picture.
    pub fn is_input(&self) -> bool {
        !matches!(self, TimelineError::Write { .. })
    }
}

/// The picture of a folded recording, as SVG or as an HTML page.
pub fn render(timeline: &Timeline, format: Format, options: &Options) -> String {
    let picture = svg::render(timeline, options);
    match format {
        Format::Svg => picture,
        Format::Html => html::page(timeline, &picture),
    }
}
