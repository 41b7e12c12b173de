//! Opening an output: a fresh one (truncated, a new id, nothing committed) for a
//! standalone run, a shared one (kept as it is) for workers, and reading an
//! output's record without opening it for writing.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::sidecar::{self, Record};
use super::{FencedOutput, OutputError, check_regular};

/// A path as a lock document records it (`output_path`): absolute where it can be
/// made so, so that runs started in other directories name the same file alike.
pub fn recorded_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

impl FencedOutput {
    /// Creates (or truncates) the file at `path` and starts a new record: a new run,
    /// a new output id, nothing committed.
    pub fn create(path: &Path) -> Result<FencedOutput, OutputError> {
        Self::open(path, true)
    }

    /// Opens an output shared with other processes: nothing is truncated and the
    /// record kept so far (fence, watermark, lock) stays.
    pub fn open_shared(path: &Path) -> Result<FencedOutput, OutputError> {
        Self::open(path, false)
    }

    fn open(path: &Path, fresh: bool) -> Result<FencedOutput, OutputError> {
        let io_err = |error| OutputError::Io {
            path: path.to_path_buf(),
            error,
        };
        let fence_path = Self::fence_path_of(path);
        check_regular(path)?;
        check_regular(&fence_path)?;
        let mut out = FencedOutput {
            path: path.to_path_buf(),
            fence_path,
            id: String::new(),
            local: Mutex::new(()),
            out_of_step: Mutex::new(None),
        };
        let mut op = out.lock_unchecked()?;
        // A shared output that records were committed to and that is gone now was
        // deleted: it is left missing, so the fence-in says so (an empty file in
        // its place would read as one truncated to nothing).
        let deleted = !fresh && op.record.watermark > 0 && !path.exists();
        if !deleted {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(io_err)?;
            if fresh {
                file.set_len(0).map_err(io_err)?;
            }
        }
        if fresh || op.record.output.is_empty() {
            if fresh {
                op.record = Record::default();
            }
            // An output without an id is new, or written by an older version: it
            // gets one now, keeping whatever fence it had.
            op.record.v = sidecar::VERSION;
            op.record.output = sidecar::new_id();
            sidecar::write(&mut op.sidecar_file, &op.record).map_err(|e| op.io_err(e))?;
        }
        let id = op.record.output.clone();
        drop(op);
        out.id = id;
        Ok(out)
    }

    /// The sidecar path of an output path: `PATH.fence`.
    pub fn fence_path_of(path: &Path) -> PathBuf {
        let mut fence_path = path.as_os_str().to_owned();
        fence_path.push(".fence");
        PathBuf::from(fence_path)
    }

    /// Reads the record of the output at `path` without creating or changing anything.
    pub fn read_record(path: &Path) -> Result<Option<Record>, OutputError> {
        let fence_path = Self::fence_path_of(path);
        check_regular(&fence_path)?;
        let mut file = match File::open(&fence_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(OutputError::Io {
                    path: fence_path,
                    error,
                });
            }
        };
        let err = |error| OutputError::Io {
            path: fence_path.clone(),
            error,
        };
        file.lock_shared().map_err(err)?;
        let record = sidecar::read(&mut file).map_err(err);
        let _ = file.unlock();
        record.map(Some)
    }
}
