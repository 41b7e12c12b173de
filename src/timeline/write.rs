//! Writing the picture whole or not at all: into a temporary file beside the
//! target, then renamed over it, so a failure never leaves half a picture.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::TimelineError;
use crate::paths;

/// Writes `bytes` to `path` through a temporary file in the same directory.
/// A directory, FIFO or device at `path` is refused, not replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TimelineError> {
    let name = path.display().to_string();
    let fail = |why: String| TimelineError::Write {
        path: name.clone(),
        why,
    };
    check_output(path)?;
    let tmp = temp_path(path).ok_or_else(|| fail("it names no file".into()))?;
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        });
    let done = written.and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    Ok(())
}

/// Refuses an output that exists and is not a regular file (before any work).
pub fn check_output(path: &Path) -> Result<(), TimelineError> {
    paths::check_output(path).map_err(|n| TimelineError::OutputNotRegular {
        path: path.display().to_string(),
        what: n.what,
    })
}

/// `.NAME.tmp-PID-NANOS` beside `path`.
fn temp_path(path: &Path) -> Option<PathBuf> {
    let file = path.file_name()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = format!(
        ".{}.tmp-{}-{nanos}",
        file.to_string_lossy(),
        std::process::id()
    );
    Some(path.with_file_name(tmp))
}
