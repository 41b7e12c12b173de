//! User paths that must be regular files, checked before they are opened.
//!
//! Opening a FIFO blocks until the other end comes (for reading and for writing),
//! `/dev/zero` never ends, a device takes no records and a directory cannot be
//! written: every file a user names (`verify PATH`, `--output`, `--events`,
//! `replay` and `timeline` inputs and outputs) is looked at with `metadata`
//! first (symbolic links followed, so a link to a regular file is fine) and
//! refused with one line that names the path and says what it is.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A path that exists and is something other than a regular file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is {what}, not a regular file", .path.display())]
pub struct NotRegular {
    /// The path, as given.
    pub path: PathBuf,
    /// What it is instead (`a FIFO`, `a character device`, `a directory`, ...).
    pub what: &'static str,
}

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It is a FIFO, a device, a directory or a socket.
    #[error(transparent)]
    NotRegular(#[from] NotRegular),
    /// It is larger than the reader takes.
    #[error("{} is {len} bytes, more than the {limit} bytes this reads", .path.display())]
    TooLarge {
        /// The path, as given.
        path: PathBuf,
        /// Its length (at least; it may still be growing).
        len: u64,
        /// The most the reader takes.
        limit: u64,
    },
    /// It cannot be looked at, opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The path, as given.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

impl ReadError {
    /// Whether the path names the wrong kind of thing (a usage error), rather than
    /// a file that could not be read.
    pub fn is_not_regular(&self) -> bool {
        matches!(self, ReadError::NotRegular(_))
    }
}

/// For callers that speak `io::Error`: the message is kept whole.
impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> io::Error {
        match e {
            ReadError::Io { source, .. } => source,
            other => io::Error::new(io::ErrorKind::InvalidInput, other),
        }
    }
}

/// What a file that is not a regular file is, in words; `None` for a regular file.
pub fn kind(meta: &Metadata) -> Option<&'static str> {
    kind_of(meta.file_type())
}

/// [`kind`] of a file type.
pub fn kind_of(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("a special file")
    }
}

/// Refuses an output path that exists and is not a regular file; a missing one
/// (to be created) or one that cannot be looked at (the open will say why) passes.
pub fn check_output(path: &Path) -> Result<(), NotRegular> {
    match std::fs::metadata(path).ok().as_ref().and_then(kind) {
        None => Ok(()),
        Some(what) => Err(NotRegular {
            path: path.to_path_buf(),
            what,
        }),
    }
}

/// Looks at an input before it is opened: its metadata if it is a regular file.
pub fn check_input(path: &Path) -> Result<Metadata, ReadError> {
    let meta = std::fs::metadata(path).map_err(|source| io_err(path, source))?;
    match kind(&meta) {
        None => Ok(meta),
        Some(what) => Err(NotRegular {
            path: path.to_path_buf(),
            what,
        }
        .into()),
    }
}

/// Opens a regular file for reading, checked before and after the open.
///
/// The open is non-blocking, so a FIFO put in the file's place between the look
/// and the open returns at once and is refused by the second look (on the open
/// file itself). On a regular file the flag changes nothing.
pub fn open_input(path: &Path) -> Result<File, ReadError> {
    check_input(path)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| io_err(path, source))?;
    let meta = file.metadata().map_err(|source| io_err(path, source))?;
    match kind(&meta) {
        None => Ok(file),
        Some(what) => Err(NotRegular {
            path: path.to_path_buf(),
            what,
        }
        .into()),
    }
}

/// Opens an output for writing, created if missing, appended to or truncated.
///
/// Refused like [`check_output`]; the open is non-blocking, so a FIFO put in the
/// path's place after a caller's check fails at once (no reader) or is refused by
/// a look at the open file, instead of blocking. The refusal is an
/// `InvalidInput` error carrying the [`NotRegular`].
pub fn open_for_writing(path: &Path, truncate: bool) -> io::Result<File> {
    let refuse = |n: NotRegular| io::Error::new(io::ErrorKind::InvalidInput, n);
    check_output(path).map_err(refuse)?;
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .append(!truncate)
        .truncate(truncate)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    match kind(&file.metadata()?) {
        None => Ok(file),
        Some(what) => Err(refuse(NotRegular {
            path: path.to_path_buf(),
            what,
        })),
    }
}

/// Reads a whole regular file of at most `limit` bytes: a larger one is refused
/// before it is read, and one that grows past `limit` while read is refused too.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_input(path)?;
    let too_large = |len| ReadError::TooLarge {
        path: path.to_path_buf(),
        len,
        limit,
    };
    let len = file
        .metadata()
        .map_err(|source| io_err(path, source))?
        .len();
    if len > limit {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| io_err(path, source))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Whether `path` is `/dev/null` (by any name): a sink that takes any write and
/// keeps nothing, which a user names to mean "record nothing".
pub fn is_dev_null(path: &Path) -> bool {
    match (std::fs::metadata(path), std::fs::metadata("/dev/null")) {
        (Ok(a), Ok(null)) => {
            a.file_type().is_char_device() && a.dev() == null.dev() && a.ino() == null.ino()
        }
        _ => false,
    }
}

fn io_err(path: &Path, source: io::Error) -> ReadError {
    ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_named_for_what_they_are() {
        let zero = check_input(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            zero.to_string(),
            "/dev/zero is a character device, not a regular file"
        );
        assert!(zero.is_not_regular());
        let dir = check_output(Path::new("/")).unwrap_err();
        assert_eq!(dir.what, "a directory");
    }

    #[test]
    fn a_missing_output_passes_and_a_missing_input_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(check_output(&missing), Ok(()));
        let err = check_input(&missing).unwrap_err();
        assert!(!err.is_not_regular(), "{err}");
        assert!(err.to_string().starts_with("cannot read "), "{err}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_bounded(&path, 5).unwrap(), b"12345");
        let err = read_bounded(&path, 4).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::TooLarge {
                    len: 5,
                    limit: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn dev_null_is_known_by_any_name_and_nothing_else_is_it() {
        assert!(is_dev_null(Path::new("/dev/null")));
        assert!(is_dev_null(Path::new("/dev/../dev/null")));
        assert!(!is_dev_null(Path::new("/dev/zero")));
        assert!(!is_dev_null(Path::new("/nonexistent")));
    }
}
