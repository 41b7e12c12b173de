//! The database path before SQLite sees it: what is there (nothing, a file, or
//! something that must be refused) and the directories a writable open creates.

use std::fs::{self, DirBuilder};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use crate::store::StoreError;

/// What the database path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// Nothing (a writable open creates the file).
    Nothing,
    /// A regular file (or a link to one): SQLite may open it.
    File,
}

/// Looks at `path` without opening it: opening a FIFO for reading would block until
/// a writer came, and SQLite would treat a device as a database. Anything but a
/// regular file (or nothing at all) is refused with one line naming the path.
pub(super) fn inspect_path(path: &Path, shown: &str) -> Result<Found, StoreError> {
    let refuse = |what: &str| {
        StoreError::Invalid(format!(
            "{shown} is {what}, not a SQLite database file: name a file with sqlite://PATH"
        ))
    };
    match fs::metadata(path) {
        Ok(meta) => match crate::paths::kind_of(meta.file_type()) {
            None => Ok(Found::File),
            Some(what) => Err(refuse(what)),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {
            // A dangling symbolic link: SQLite would create its target somewhere the
            // user did not name.
            if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                Err(refuse("a symbolic link to nothing"))
            } else {
                Ok(Found::Nothing)
            }
        }
        // A path through a regular file (`locks.db/x.db`).
        Err(e) if e.kind() == ErrorKind::NotADirectory => {
            Err(refuse("under a file, not a directory"))
        }
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot look at {shown}: {e}"
        ))),
    }
}

/// Creates the missing directories above `path`, readable by this user only (mode
/// 0700): the default store lives under the user's state directory, and lock
/// documents name the user's jobs.
pub(super) fn create_parents(path: &Path, shown: &str) -> Result<(), StoreError> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create the directory {} for {shown}: {e}",
                parent.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn invalid(r: Result<Found, StoreError>) -> String {
        match r {
            Err(StoreError::Invalid(msg)) => msg,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn files_and_nothing_pass_and_other_kinds_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.db");
        assert_eq!(inspect_path(&file, "a.db"), Ok(Found::Nothing));
        fs::write(&file, b"").unwrap();
        assert_eq!(inspect_path(&file, "a.db"), Ok(Found::File));
        let msg = invalid(inspect_path(dir.path(), "DIR"));
        assert!(msg.starts_with("DIR is a directory"), "{msg}");
        let msg = invalid(inspect_path(Path::new("/dev/null"), "/dev/null"));
        assert!(msg.contains("a character device"), "{msg}");
        let msg = invalid(inspect_path(&file.join("x.db"), "F/x.db"));
        assert!(msg.contains("F/x.db"), "{msg}");
        let link = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("gone"), &link).unwrap();
        assert!(invalid(inspect_path(&link, "L")).contains("symbolic link"));
    }

    #[test]
    fn missing_parents_are_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/locks.db");
        create_parents(&path, "p").unwrap();
        for d in ["a", "a/b"] {
            let mode = fs::metadata(dir.path().join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{d}: {mode:o}");
        }
        create_parents(Path::new("bare.db"), "bare.db").unwrap();
    }
}
