//! The `--events` file of a scenario run: checked before the run starts, emptied
//! and given its header once it has, and for each run a restarted dashboard
//! starts, a file of its own beside it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use joblock::engine::Scenario;
use joblock::events::recording::{RecordingHeader, Source, write_header};
use joblock::paths;

/// The `--events` file between its check and the run's start.
pub struct EventsFile {
    pub path: PathBuf,
    file: File,
    pub existed: bool,
}

impl EventsFile {
    /// Checks the path (a regular file or none) and opens it without emptying it;
    /// `None` for `/dev/null`, which records nothing (as no `--events` would).
    pub fn probe(path: &Path) -> Result<Option<EventsFile>> {
        if paths::is_dev_null(path) {
            return Ok(None);
        }
        // A FIFO would block the open and a device (/dev/full) fails only once the
        // outputs are truncated: refuse both before anything starts.
        paths::check_output(path).context("--events")?;
        let existed = path.exists();
        let file = paths::open_for_writing(path, false)
            .with_context(|| format!("cannot write events file {}", path.display()))?;
        Ok(Some(EventsFile {
            path: path.to_path_buf(),
            file,
            existed,
        }))
    }

    /// Removes the file again if the run never started and it did not exist.
    pub fn abandon(self) {
        if !self.existed {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Empties the file and writes the recording's header line.
    pub fn begin(self, header: &RecordingHeader) -> Result<BufWriter<File>> {
        self.file
            .set_len(0)
            .with_context(|| format!("cannot truncate events file {}", self.path.display()))?;
        let mut w = BufWriter::new(self.file);
        write_header(&mut w, header)
            .with_context(|| format!("cannot write events file {}", self.path.display()))?;
        Ok(w)
    }
}

/// The `n`th recording's path beside `base`: `events.jsonl` -> `events.2.jsonl`.
fn numbered(base: &Path, n: u32) -> PathBuf {
    let stem = base.file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = match (stem, base.extension()) {
        (Some(stem), Some(ext)) => format!("{stem}.{n}.{}", ext.to_string_lossy()),
        (Some(stem), None) => format!("{stem}.{n}"),
        (None, _) => format!("events.{n}.jsonl"),
    };
    base.with_file_name(name)
}

/// Opens the recording of each restarted run beside `base`, with its own header
/// (the restarted run has its own seed).
pub fn next_recordings(base: PathBuf) -> joblock::tui::NextRecording {
    Box::new(move |scenario: &Scenario, n: u32| {
        let path = numbered(&base, n);
        let mut w = BufWriter::new(paths::open_for_writing(&path, true)?);
        let header = RecordingHeader::new(Source::Dashboard, scenario.params());
        write_header(&mut w, &header)?;
        Ok((Box::new(w) as Box<dyn Write>, path.display().to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarted_run_records_beside_the_first_with_its_number() {
        assert_eq!(
            numbered(Path::new("/tmp/e.jsonl"), 2),
            Path::new("/tmp/e.2.jsonl")
        );
        assert_eq!(numbered(Path::new("runs/e"), 3), Path::new("runs/e.3"));
    }
}
